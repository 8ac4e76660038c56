"""The flash-crash detector's window over a whole batch of prices, compiled with numba.

:func:`scan` runs exactly the steps of :meth:`FlashCrashDetector.update
<hean.micro.flash_crash.FlashCrashDetector.update>` for every price of a batch: the
window's prices, and its minimum and maximum kept as monotonic queues, here as index
ranges over one array of old and new points instead of deques. It returns, per new
price, whether entries are halted at its time, the events, and what the queues hold at
the end, so the next batch (or a call of ``update``) starts where it stopped.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def scan(ts, px, n_old, lo_init, hi_init, front, window_ns, move, recovery, halt_ns,
         halt_until):  # fmt: skip
    """Window ``ts``/``px`` (the old window's points, then the batch's).

    ``lo_init`` and ``hi_init`` index the old points that the min and max queues hold;
    ``front`` is the first old point still in the window. Returns ``(halted, ev_ts,
    ev_move, ev_flash, ev_new, front, lo, hi, halt_until)``: halted per new point, one
    row per point where the move exceeded ``move`` (``ev_new``: a new event rather than
    one held open), and the queues' indices at the end.
    """
    n = len(ts)
    lo = np.empty(n, dtype=np.int64)
    hi = np.empty(n, dtype=np.int64)
    lo_a, lo_b = 0, len(lo_init)  # queue = lo[lo_a:lo_b]
    hi_a, hi_b = 0, len(hi_init)
    lo[:lo_b] = lo_init
    hi[:hi_b] = hi_init
    halted = np.zeros(n - n_old, dtype=np.bool_)
    ev_ts = np.empty(n - n_old, dtype=np.int64)
    ev_move = np.empty(n - n_old, dtype=np.float64)
    ev_flash = np.empty(n - n_old, dtype=np.bool_)
    ev_new = np.empty(n - n_old, dtype=np.bool_)
    n_ev = 0
    for k in range(n_old, n):
        t, p = ts[k], px[k]
        while lo_b > lo_a and px[lo[lo_b - 1]] >= p:
            lo_b -= 1
        lo[lo_b] = k
        lo_b += 1
        while hi_b > hi_a and px[hi[hi_b - 1]] <= p:
            hi_b -= 1
        hi[hi_b] = k
        hi_b += 1
        oldest = t - window_ns
        while ts[front] < oldest:
            front += 1
        while ts[lo[lo_a]] < oldest:
            lo_a += 1
        while ts[hi[hi_a]] < oldest:
            hi_a += 1
        start, low, high = px[front], px[lo[lo_a]], px[hi[hi_a]]
        down, up = (start - low) / start, (high - start) / start
        if not (down <= move and up <= move):
            if down >= up:
                ev_move[n_ev], ev_flash[n_ev] = -down, (p - low) / start >= recovery
            else:
                ev_move[n_ev], ev_flash[n_ev] = up, (high - p) / start >= recovery
            ev_ts[n_ev] = t
            ev_new[n_ev] = t > halt_until
            n_ev += 1
            halt_until = t + halt_ns
        halted[k - n_old] = t <= halt_until
    return (halted, ev_ts[:n_ev], ev_move[:n_ev], ev_flash[:n_ev], ev_new[:n_ev], front,
            lo[lo_a:lo_b].copy(), hi[hi_a:hi_b].copy(), halt_until)  # fmt: skip
