"""The compiled core of :mod:`hean.feeds.synth`: an L2 market simulator writing HL2.

:func:`run` simulates every instrument's full book (``levels`` per side, the
exchange's view, of which an engine keeps only its best ``K``) and writes the HL2
messages a gateway would emit for it, straight into a preallocated ``MSG_DTYPE``
array. All randomness comes from one ``numpy.random.Generator`` passed in, so a seed
gives the same bytes on every run (same numpy and numba versions, same platform).

State is kept in arrays between calls, so the Python side can call :func:`run` in
chunks and report progress. Layout (``I`` instruments, side 0 bid / 1 ask):

=========  ===========  ===========================================================
name       shape        meaning
=========  ===========  ===========================================================
bpx, bq    (I, 2, cap)  level prices (ticks) and sizes (lots), best first
nl         (I, 2)       levels per side
fair       (I,)         latent fair price in ticks (the book chases it)
lv         (I,)         log-volatility of the instrument (mean-reverting)
seq        (I,)         next HL2 sequence number (the gateway's numbering, from 1)
ist        (I, 8)       IS_* below: heartbeat clock, pending resync, iceberg state
gf         (4,)         GF_*: clock (ms since the start), market-wide log-activity,
                        mean time between events
gi         (8,)         GI_*: started flag, current update's timestamps, fault counter
=========  ===========  ===========================================================
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types

from hean.wire import MSG_DTYPE

SET, TRADE, CLEAR, HEARTBEAT = 1, 2, 3, 4
END, SNAPSHOT = 1, 2
MAX_PX = 0x7FFFFFFF
MAX_QTY = 1_000_000_000

IS_LAST_HB, IS_RESYNC_AT, IS_ICE_ON, IS_ICE_SIDE, IS_ICE_PX, IS_ICE_D, IS_ICE_LEFT = range(7)
GF_CLOCK, GF_ACT, GF_MEAN_GAP = 0, 1, 2
GI_STARTED, GI_EXCH, GI_RECV, GI_BAD_KIND, GI_START_MS = range(5)

#: Messages one ordinary event can emit at most (an upper bound with margin).
EVENT_MAX = 64
#: Levels a trade may walk through.
MAX_SWEEP = 8
#: Kinds of bad message planted in fault mode, in the spec's Validity order.
BAD_KINDS = 8

# Rates per event (an event is one exchange update of one instrument).
MEAN_GAP_MS = 2.5  # mean time between events of BTCUSDT + ETHUSDT at normal activity
P_NOISE_TRADE = 0.05  # a trade not forced by the fair price
P_ICE_HIT = 0.25  # while an iceberg is planted: a trade against it
P_SWEEP = 0.3  # the fair price left the touch: a trade that sweeps up to it
P_ICE_PLANT = 1.0 / 2500.0
P_RESNAP = 1.0 / 15000.0  # an unprompted re-snapshot
HEARTBEAT_MS = 1000
P_BAD = 1.0 / 2000.0  # fault mode: a bad message
P_GAP = 1.0 / 4000.0  # fault mode: an update lost in transport (seq gap)

# Small helpers are called with many literal arguments; fixed signatures stop numba from
# compiling one specialization per literal (~4 s more on the first, uncached run).
i8 = types.int64
_A1, _A2, _A3 = types.int64[::1], types.int64[:, ::1], types.int64[:, :, ::1]
_MSGS = numba.typeof(np.zeros(1, MSG_DTYPE))
_RNG = numba.typeof(np.random.Generator(np.random.PCG64(0)))


@numba.njit(i8(_RNG, i8), cache=True)
def _below(rng, n):
    """A uniform integer in 0..n-1 (n >= 1)."""
    return min(np.int64(rng.random() * n), n - 1)


@numba.njit(cache=True)
def _geometric(rng, p):
    """Trials up to the first success, each succeeding with probability p: 1, 2, ..."""
    return 1 + np.int64(math.log(1.0 - rng.random()) / math.log(1.0 - p))


@numba.njit(cache=True)
def _lognormal(rng, mu, sigma):
    return math.exp(mu + sigma * rng.standard_normal())


@numba.njit(i8(_MSGS, i8, i8, i8, i8, i8, _A1, i8, i8, _A1), cache=True)
def _put(out, pos, mtype, side, flags, inst, seq, price, qty, gi):
    """Write one message at ``pos`` (sequence number taken from ``seq``); return pos+1."""
    r = out[pos]
    r["type"] = mtype
    r["side"] = side
    r["flags"] = flags
    r["instrument"] = inst
    r["seq"] = seq[inst]
    r["price"] = price
    r["qty"] = qty
    r["exch_ts_ns"] = gi[GI_EXCH]
    r["recv_ts_ns"] = gi[GI_RECV]
    seq[inst] = (seq[inst] + 1) & 0xFFFFFFFF
    return pos + 1


@numba.njit(cache=True)
def _stamp(rng, gf, gi):
    """Timestamps of the update about to be written: whole-ms exchange time, and a
    receive time a few hundred us to a few ms later that never goes backwards."""
    exch = (gi[GI_START_MS] + np.int64(gf[GF_CLOCK])) * 1_000_000
    lat = 150_000 + np.int64(_lognormal(rng, 12.9, 0.6))  # median ~550 us
    if rng.random() < 0.005:
        lat *= 4  # a latency spike
    gi[GI_EXCH] = exch
    gi[GI_RECV] = max(exch + lat, gi[GI_RECV])


@numba.njit(i8(_A3, _A2, i8, i8), cache=True)
def _best(bpx, nl, i, s):
    if nl[i, s] > 0:
        return bpx[i, s, 0]
    return 0 if s == 0 else MAX_PX + 1


@numba.njit(types.void(_A3, _A3, _A2, i8, i8, i8), cache=True)
def _remove(bpx, bq, nl, i, s, j):
    n = nl[i, s]
    for t in range(j, n - 1):
        bpx[i, s, t] = bpx[i, s, t + 1]
        bq[i, s, t] = bq[i, s, t + 1]
    nl[i, s] = n - 1


@numba.njit(types.void(_A3, _A3, _A2, i8, i8, i8, i8, i8), cache=True)
def _insert(bpx, bq, nl, i, s, j, p, q):
    n = nl[i, s]
    for t in range(n, j, -1):
        bpx[i, s, t] = bpx[i, s, t - 1]
        bq[i, s, t] = bq[i, s, t - 1]
    bpx[i, s, j] = p
    bq[i, s, j] = q
    nl[i, s] = n + 1


@numba.njit(i8(_RNG, types.float64, i8), cache=True)
def _level_qty(rng, size, depth):
    """A resting level's size in lots: lognormal, larger away from the touch."""
    q = size * _lognormal(rng, 0.0, 0.7) * (1.0 + depth / 25.0)
    return min(max(np.int64(q), 1), MAX_QTY)


@numba.njit(cache=True)
def _far_price(rng, bpx, nl, fair, i, s):
    """A price just worse than the worst level of side s (-1 if none fits)."""
    n = nl[i, s]
    if n == 0:
        if s == 0:
            p = min(np.int64(math.floor(fair[i])), _best(bpx, nl, i, 1) - 1)
        else:
            p = max(np.int64(math.ceil(fair[i])), _best(bpx, nl, i, 0) + 1)
    else:
        gap = _geometric(rng, 0.6 if n < 10 else 0.4)
        p = bpx[i, s, n - 1] - gap if s == 0 else bpx[i, s, n - 1] + gap
    if p < 1 or p > MAX_PX:
        return -1
    return p


@numba.njit(cache=True)
def _maintain(out, pos, rng, bpx, bq, nl, fair, size, seq, gi, i, s, levels):
    """Keep side s at ``levels`` levels, as a depth-limited exchange stream does: the
    level pushed out at the far end is deleted, a level coming into range is added."""
    while nl[i, s] > levels:
        n = nl[i, s]
        p = bpx[i, s, n - 1]
        _remove(bpx, bq, nl, i, s, n - 1)
        pos = _put(out, pos, SET, s, 0, i, seq, p, 0, gi)
    added = 0
    while nl[i, s] < levels and added < 4:
        p = _far_price(rng, bpx, nl, fair, i, s)
        if p < 0:
            break
        q = _level_qty(rng, size[i], nl[i, s])
        _insert(bpx, bq, nl, i, s, nl[i, s], p, q)
        pos = _put(out, pos, SET, s, 0, i, seq, p, q, gi)
        added += 1
    return pos


@numba.njit(cache=True)
def _snapshot(out, pos, limit, bpx, bq, nl, seq, gi, i):
    """CLEAR both + one SET per level, bids then asks, all SNAPSHOT, the last END.
    Writes nothing at or past ``limit`` (only the very first snapshots can be cut)."""
    if pos >= limit:
        return pos
    pos = _put(out, pos, CLEAR, 2, SNAPSHOT, i, seq, 0, 0, gi)
    for s in range(2):
        for j in range(nl[i, s]):
            if pos >= limit:
                return pos
            pos = _put(out, pos, SET, s, SNAPSHOT, i, seq, bpx[i, s, j], bq[i, s, j], gi)
    out[pos - 1]["flags"] = SNAPSHOT | END
    return pos


@numba.njit(cache=True)
def _trade(out, pos, rng, bpx, bq, nl, fair, size, seq, ist, gf, gi, i, g, want, levels):
    """A market order of ``want`` lots by aggressor g: TRADEs at the passive side's
    prices (walking the book), then the book update that removes what it took."""
    s = 1 - g
    n = nl[i, s]
    if n == 0:
        return pos
    _stamp(rng, gf, gi)
    if ist[i, IS_ICE_ON] != 0 and ist[i, IS_ICE_SIDE] == s:
        # the planted iceberg absorbs the order and is refilled from its reserve
        p = bpx[i, s, 0]
        q = min(want, bq[i, s, 0])
        pos = _put(out, pos, TRADE, g, END, i, seq, p, q, gi)
        gf[GF_CLOCK] += rng.exponential(0.5)
        _stamp(rng, gf, gi)
        ist[i, IS_ICE_LEFT] -= q
        if ist[i, IS_ICE_LEFT] <= 0:
            _remove(bpx, bq, nl, i, s, 0)
            ist[i, IS_ICE_ON] = 0
            pos = _put(out, pos, SET, s, 0, i, seq, p, 0, gi)
            pos = _maintain(out, pos, rng, bpx, bq, nl, fair, size, seq, gi, i, s, levels)
        else:
            if rng.random() < 0.15:
                ist[i, IS_ICE_D] += 1 + ist[i, IS_ICE_D] // 10  # shown size grows
            shown = min(ist[i, IS_ICE_D], ist[i, IS_ICE_LEFT])
            bq[i, s, 0] = shown
            pos = _put(out, pos, SET, s, 0, i, seq, p, shown, gi)
        out[pos - 1]["flags"] = END
        return pos
    k = 0
    rest = want
    while k < n and k < MAX_SWEEP and rest > 0:
        q = min(rest, bq[i, s, k])
        pos = _put(out, pos, TRADE, g, 0, i, seq, bpx[i, s, k], q, gi)
        rest -= q
        k += 1
    out[pos - 1]["flags"] = END
    gf[GF_CLOCK] += rng.exponential(0.7)  # the book update follows the trades
    _stamp(rng, gf, gi)
    taken = want - rest
    while taken > 0:
        p = bpx[i, s, 0]
        if taken >= bq[i, s, 0]:
            taken -= bq[i, s, 0]
            _remove(bpx, bq, nl, i, s, 0)
            pos = _put(out, pos, SET, s, 0, i, seq, p, 0, gi)
        else:
            bq[i, s, 0] -= taken
            taken = 0
            pos = _put(out, pos, SET, s, 0, i, seq, p, bq[i, s, 0], gi)
    pos = _maintain(out, pos, rng, bpx, bq, nl, fair, size, seq, gi, i, s, levels)
    out[pos - 1]["flags"] = END
    return pos


@numba.njit(cache=True)
def _touch_depth(rng, n):
    """How far from the touch a delta lands: geometric, mostly the first few levels."""
    return min(_geometric(rng, 0.35) - 1, n - 1)


@numba.njit(cache=True)
def _modify(out, pos, rng, bpx, bq, nl, size, seq, ist, gi, i, s):
    """Change the size of a level near the touch (never the iceberg). -1: none fits."""
    n = nl[i, s]
    j = _touch_depth(rng, n) if n > 0 else -1
    if j == 0 and ist[i, IS_ICE_ON] != 0 and ist[i, IS_ICE_SIDE] == s:
        j = 1 if n > 1 else -1
    if j < 0:
        return -1
    old = bq[i, s, j]
    step = max(np.int64(size[i] * 0.3 * _lognormal(rng, 0.0, 1.0)), 1)
    q = old + step if (rng.random() < 0.5 or old <= step) else old - step
    q = min(q, MAX_QTY)
    bq[i, s, j] = q
    return _put(out, pos, SET, s, 0, i, seq, bpx[i, s, j], q, gi)


@numba.njit(cache=True)
def _delta(out, pos, rng, bpx, bq, nl, fair, size, seq, ist, gf, gi, i, levels):
    """One order-book delta of 1..6 level changes concentrated near the touch."""
    _stamp(rng, gf, gi)
    start = pos
    acts = min(_geometric(rng, 0.5), 6)
    ice_on = ist[i, IS_ICE_ON] != 0
    ice_side = ist[i, IS_ICE_SIDE]
    for _ in range(acts):
        bb = _best(bpx, nl, i, 0)
        ba = _best(bpx, nl, i, 1)
        spread = ba - bb
        s = _below(rng, 2)
        if spread >= 2 and rng.random() < min(0.95, 0.5 * (spread - 1)):
            # quote inside the spread, on the side farther from the fair price
            f = fair[i]
            s = 0 if rng.random() * (ba - bb) < f - bb else 1
            if ice_on and s == ice_side:
                s = 1 - s
            if s == 0:
                p = np.int64(math.floor(f - 0.5 - rng.exponential(1.0)))
            else:
                p = np.int64(math.ceil(f + 0.5 + rng.exponential(1.0)))
            p = min(max(p, bb + 1), ba - 1)
            q = _level_qty(rng, size[i], 0)
            _insert(bpx, bq, nl, i, s, 0, p, q)
            pos = _put(out, pos, SET, s, 0, i, seq, p, q, gi)
            pos = _maintain(out, pos, rng, bpx, bq, nl, fair, size, seq, gi, i, s, levels)
            continue
        n = nl[i, s]
        r = rng.random()
        if r < 0.25 and n > 1:
            # a level disappears
            j = _touch_depth(rng, n)
            if j == 0 and ice_on and s == ice_side:
                j = 1
            p = bpx[i, s, j]
            _remove(bpx, bq, nl, i, s, j)
            pos = _put(out, pos, SET, s, 0, i, seq, p, 0, gi)
            pos = _maintain(out, pos, rng, bpx, bq, nl, fair, size, seq, gi, i, s, levels)
            continue
        if r < 0.5 and n > 1:
            # a new level between two existing ones
            j = max(_touch_depth(rng, n), 1)
            done = False
            for _try in range(3):
                if j >= n:
                    break
                gap = abs(bpx[i, s, j] - bpx[i, s, j - 1])
                if gap >= 2:
                    off = 1 + _below(rng, gap - 1)
                    p = bpx[i, s, j - 1] - off if s == 0 else bpx[i, s, j - 1] + off
                    q = _level_qty(rng, size[i], j)
                    _insert(bpx, bq, nl, i, s, j, p, q)
                    pos = _put(out, pos, SET, s, 0, i, seq, p, q, gi)
                    pos = _maintain(out, pos, rng, bpx, bq, nl, fair, size, seq, gi, i, s, levels)
                    done = True
                    break
                j += 1
            if done:
                continue
        mod = _modify(out, pos, rng, bpx, bq, nl, size, seq, ist, gi, i, s)
        if mod >= 0:
            pos = mod
    if pos == start:
        # nothing applied (a side too thin): top it up instead
        for s in range(2):
            pos = _maintain(out, pos, rng, bpx, bq, nl, fair, size, seq, gi, i, s, levels)
    if pos > start:
        out[pos - 1]["flags"] = END
    return pos


@numba.njit(cache=True)
def _bad(out, pos, rng, bpx, nl, seq, gi, i, n_header):
    """One bad message (fault mode), of the next kind in the spec's Validity list. It
    carries the instrument's next seq without using it up: an engine ignores it whole."""
    kind = gi[GI_BAD_KIND] % BAD_KINDS
    if kind == 2 and n_header >= 256:
        kind = 3  # no u8 instrument id is >= 256
    gi[GI_BAD_KIND] += 1
    s = _below(rng, 2)
    mtype = SET if rng.random() < 0.5 else TRADE
    side = s
    price = max(_best(bpx, nl, i, s), 1)
    price = min(price, MAX_PX)
    qty = 1 + _below(rng, 100)
    inst = i
    if kind == 0:
        mtype = 0
    elif kind == 1:
        mtype = 5 + _below(rng, 251)
    elif kind == 2:
        inst = n_header + _below(rng, 256 - n_header)
    elif kind == 3:
        side = 2 + _below(rng, 254)
    elif kind == 4:
        price = 0
    elif kind == 5:
        price = MAX_PX + 1 + _below(rng, MAX_PX + 1)
    elif kind == 6:
        mtype = TRADE
        qty = 0
    else:
        mtype = CLEAR
        side = 3 + _below(rng, 253)
    keep = seq[i]
    r = out[pos]
    pos = _put(out, pos, mtype, side, END, i, seq, price, qty, gi)
    seq[i] = keep
    r["instrument"] = inst
    if inst != i:
        r["seq"] = 1 + _below(rng, (1 << 31) - 1)
    return pos


@numba.njit(cache=True)
def _start(out, pos, total, rng, levels, px0, size, fair, bpx, bq, nl, seq, gf, gi):
    """Build every instrument's opening book and write its snapshot."""
    n_inst = len(px0)
    for i in range(n_inst):
        fair[i] = px0[i] + rng.random()
        seq[i] = 1
        bpx[i, 0, 0] = np.int64(math.floor(fair[i]))
        bpx[i, 1, 0] = bpx[i, 0, 0] + 1
        for s in range(2):
            bq[i, s, 0] = _level_qty(rng, size[i], 0)
            nl[i, s] = 1
            while nl[i, s] < levels:
                p = _far_price(rng, bpx, nl, fair, i, s)
                if p < 0:
                    break
                _insert(bpx, bq, nl, i, s, nl[i, s], p, _level_qty(rng, size[i], nl[i, s]))
    for i in range(n_inst):
        gf[GF_CLOCK] += rng.exponential(gf[GF_MEAN_GAP])
        _stamp(rng, gf, gi)
        pos = _snapshot(out, pos, total, bpx, bq, nl, seq, gi, i)
    gi[GI_STARTED] = 1
    return pos


@numba.njit(cache=True)
def run(
    out,
    pos,
    stop,
    total,
    rng,
    faults,
    levels,
    n_header,
    px0,
    size,
    sigma,
    cumw,
    bpx,
    bq,
    nl,
    fair,
    lv,
    seq,
    ist,
    gf,
    gi,
):
    """Write events from ``out[pos]`` on until at least ``stop`` (never past ``total``)
    messages are written; return the new position."""
    if gi[GI_STARTED] == 0:
        pos = _start(out, pos, total, rng, levels, px0, size, fair, bpx, bq, nl, seq, gf, gi)
    n_inst = len(px0)
    while pos < stop:
        # ---- time and instrument ---------------------------------------------------
        gf[GF_ACT] = gf[GF_ACT] * 0.9995 + 0.03 * rng.standard_normal()
        act = math.exp(gf[GF_ACT])
        gf[GF_CLOCK] += rng.exponential(gf[GF_MEAN_GAP] / act)
        u = rng.random() * cumw[n_inst - 1]
        i = 0
        while i < n_inst - 1 and cumw[i] < u:
            i += 1
        ms = gi[GI_START_MS] + np.int64(gf[GF_CLOCK])
        if total - pos < EVENT_MAX:
            # the last few messages: single-message updates, so every update is whole
            _stamp(rng, gf, gi)
            s = _below(rng, 2)
            mod = _modify(out, pos, rng, bpx, bq, nl, size, seq, ist, gi, i, s)
            if mod >= 0:
                out[pos]["flags"] = END
                pos = mod
            else:
                pos = _put(out, pos, HEARTBEAT, 0, 0, i, seq, 0, 0, gi)
            continue
        if faults and rng.random() < P_BAD:
            _stamp(rng, gf, gi)
            pos = _bad(out, pos, rng, bpx, nl, seq, gi, i, n_header)
            continue
        if ms - ist[i, IS_LAST_HB] >= HEARTBEAT_MS:
            ist[i, IS_LAST_HB] = ms
            _stamp(rng, gf, gi)
            pos = _put(out, pos, HEARTBEAT, 0, 0, i, seq, 0, 0, gi)
            continue
        start = pos
        snap = 1 + nl[i, 0] + nl[i, 1]
        resync = ist[i, IS_RESYNC_AT] != 0 and ms >= ist[i, IS_RESYNC_AT]
        if (resync or rng.random() < P_RESNAP) and snap <= total - pos:
            ist[i, IS_RESYNC_AT] = 0
            _stamp(rng, gf, gi)
            pos = _snapshot(out, pos, total, bpx, bq, nl, seq, gi, i)
        else:
            # ---- the latent fair price: random walk with volatility bursts -----------
            lv[i] = lv[i] * 0.998 + 0.04 * rng.standard_normal()
            bb = _best(bpx, nl, i, 0)
            ba = _best(bpx, nl, i, 1)
            mid = 0.5 * (bb + ba) if nl[i, 0] > 0 and nl[i, 1] > 0 else fair[i]
            vol = sigma[i] * math.exp(lv[i] + 0.5 * gf[GF_ACT])
            f = fair[i] + vol * rng.standard_normal() + 0.02 * (mid - fair[i])
            fair[i] = min(max(f, 2.0 * levels + 16.0), MAX_PX - 2.0 * levels - 16.0)
            f = fair[i]
            ice_on = ist[i, IS_ICE_ON] != 0
            ice_s = ist[i, IS_ICE_SIDE]
            cancel = 20.0 * sigma[i] + 5.0
            if ice_on and (
                (ice_s == 1 and f < ist[i, IS_ICE_PX] - cancel)
                or (ice_s == 0 and f > ist[i, IS_ICE_PX] + cancel)
            ):
                # the price ran away from the iceberg: its owner cancels it
                _stamp(rng, gf, gi)
                ist[i, IS_ICE_ON] = 0
                p = bpx[i, ice_s, 0]
                _remove(bpx, bq, nl, i, ice_s, 0)
                pos = _put(out, pos, SET, ice_s, 0, i, seq, p, 0, gi)
                pos = _maintain(out, pos, rng, bpx, bq, nl, fair, size, seq, gi, i, ice_s, levels)
                out[pos - 1]["flags"] = END
            elif ice_on and rng.random() < P_ICE_HIT:
                want = max(np.int64(ist[i, IS_ICE_D] * (0.3 + 0.7 * rng.random())), 1)
                pos = _trade(
                    out,
                    pos,
                    rng,
                    bpx,
                    bq,
                    nl,
                    fair,
                    size,
                    seq,
                    ist,
                    gf,
                    gi,
                    i,
                    1 - ice_s,
                    want,
                    levels,
                )
            elif (f >= ba + 0.5 or f <= bb - 0.5) and rng.random() < P_SWEEP:
                # the fair price left the touch: sweep the levels up to it
                g = 0 if f >= ba + 0.5 else 1
                s = 1 - g
                want = np.int64(0)
                for j in range(min(nl[i, s], MAX_SWEEP)):
                    if (s == 1 and bpx[i, s, j] > f) or (s == 0 and bpx[i, s, j] < f):
                        break
                    want += bq[i, s, j]
                want += np.int64(size[i] * _lognormal(rng, -1.5, 1.0)) + 1
                pos = _trade(
                    out, pos, rng, bpx, bq, nl, fair, size, seq, ist, gf, gi, i, g, want, levels
                )
            elif rng.random() < P_NOISE_TRADE * min(act, 3.0):
                p_buy = 0.5 + 0.4 * math.tanh((f - mid) / (2.0 * sigma[i] + 1.0))
                g = 0 if rng.random() < p_buy else 1
                want = np.int64(size[i] * _lognormal(rng, -0.8, 1.1)) + 1
                pos = _trade(
                    out, pos, rng, bpx, bq, nl, fair, size, seq, ist, gf, gi, i, g, want, levels
                )
            elif not ice_on and rng.random() < P_ICE_PLANT:
                # plant an iceberg at the best level of the side the price is heading to
                s = 1 if f > mid else 0
                if nl[i, s] > 0:
                    _stamp(rng, gf, gi)
                    d = max(np.int64(size[i] * (0.6 + 0.6 * rng.random())), 2)
                    bq[i, s, 0] = d
                    ist[i, IS_ICE_ON] = 1
                    ist[i, IS_ICE_SIDE] = s
                    ist[i, IS_ICE_PX] = bpx[i, s, 0]
                    ist[i, IS_ICE_D] = d
                    ist[i, IS_ICE_LEFT] = d * (5 + _below(rng, 10))
                    pos = _put(out, pos, SET, s, END, i, seq, bpx[i, s, 0], d, gi)
            else:
                pos = _delta(out, pos, rng, bpx, bq, nl, fair, size, seq, ist, gf, gi, i, levels)
        if faults and pos > start and rng.random() < P_GAP:
            # the update is lost between gateway and engine: its seq numbers are used up,
            # the engine sees a gap, and the gateway resyncs with a snapshot a bit later
            pos = start
            if ist[i, IS_RESYNC_AT] == 0:
                ist[i, IS_RESYNC_AT] = ms + 50 + _below(rng, 500)
    return pos
