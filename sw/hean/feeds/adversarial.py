"""Adversarial HL2 streams: every corner of the contract, densely, for engine checks.

Where :mod:`hean.feeds.synth` looks like a market, these streams look like an attack:
bad messages of every kind, sequence gaps and wraps, sides filled past K, drops,
trades at the touch followed by refills (icebergs), clears, and sizes at the extremes
of u32. Prices live in a narrow band so levels collide, insert, replace and delete
all the time. Used by the property tests and by the RTL-vs-mirror test benches.
"""

from __future__ import annotations

import numpy as np

from hean.wire import MSG_DTYPE, Flag, MsgType

U32 = 0xFFFFFFFF


def adversarial_stream(
    seed: int,
    n: int,
    *,
    instruments: int = 2,
    N: int = 2,
    band: int = 24,
    bad_rate: float = 0.03,
    gap_rate: float = 0.002,
    clear_rate: float = 0.02,
    extreme_rate: float = 0.02,
) -> np.ndarray:
    """Generate ``n`` HL2 messages that exercise every rule of the contract.

    Parameters
    ----------
    seed : int
        Same seed, same stream.
    n : int
        Messages to generate.
    instruments : int
        Instrument ids used by valid messages (``0..instruments-1``).
    N : int
        The engine's N; bad messages use ``instrument >= N`` as one of their kinds
        (only possible while ``N < 256``).
    band : int
        Width of the price band in ticks; a small band relative to K forces full
        sides and drops.
    bad_rate, gap_rate, clear_rate, extreme_rate : float
        Per-message probabilities of a bad message, a sequence jump, a CLEAR and an
        extreme size (near 2^32).

    Returns
    -------
    numpy.ndarray
        ``MSG_DTYPE`` messages.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 1 <= instruments <= 256 or not 1 <= N <= 256:
        raise ValueError("instruments and N must be in 1..256")
    rng = np.random.default_rng(seed)
    m = np.zeros(n, dtype=MSG_DTYPE)
    inst = rng.integers(0, instruments, n)
    m["instrument"] = inst
    kind = rng.random(n)
    mtype = np.where(
        kind < 0.70, MsgType.SET, np.where(kind < 0.93, MsgType.TRADE, MsgType.HEARTBEAT)
    )
    mtype = np.where(rng.random(n) < clear_rate, MsgType.CLEAR, mtype)
    m["type"] = mtype
    side = rng.integers(0, 2, n)
    m["side"] = np.where(mtype == MsgType.CLEAR, rng.integers(0, 3, n), side)
    # prices: a drifting centre with a narrow band, so bids and asks overlap at times
    centre = 1_000 + np.cumsum(rng.integers(-1, 2, n)) // 8 + band
    offset = rng.integers(0, band, n)
    m["price"] = np.where(side == 0, centre - offset, centre + offset - band // 4)
    qty = rng.integers(1, 50, n)
    qty = np.where(rng.random(n) < 0.25, 0, qty)  # deletes
    qty = np.where(rng.random(n) < extreme_rate, U32 - rng.integers(0, 3, n), qty)
    m["qty"] = np.where(mtype == MsgType.TRADE, np.maximum(qty, 1), qty)
    m["flags"] = rng.integers(0, 4, n)
    m["exch_ts_ns"] = 1_700_000_000_000_000_000 + np.cumsum(rng.integers(0, 2_000_000, n))
    m["recv_ts_ns"] = m["exch_ts_ns"] + rng.integers(50_000, 3_000_000, n)

    # icebergs: some trades are aimed at a level just refilled, then refilled again
    _plant_icebergs(m, rng)
    # per-instrument sequence numbers with jumps; one instrument starts near the wrap
    starts = rng.integers(1, 1000, 256).astype(np.int64)
    starts[0] = U32 - 40
    seq = np.zeros(n, dtype=np.int64)
    jumps = np.where(rng.random(n) < gap_rate, rng.integers(2, 5, n), 1)
    for i in range(instruments):
        sel = m["instrument"] == i
        seq[sel] = starts[i] + np.cumsum(jumps[sel])
    m["seq"] = (seq & U32).astype(np.uint32)

    _plant_bad(m, rng, bad_rate, N)
    return m


def _plant_icebergs(m: np.ndarray, rng: np.random.Generator) -> None:
    """Turn some SET/TRADE pairs into hit-and-refill sequences at one price."""
    n = len(m)
    for start in np.flatnonzero(rng.random(n) < 0.01):
        length = min(int(rng.integers(4, 12)), n - start)
        price, inst = m["price"][start], m["instrument"][start]
        side = int(m["side"][start]) & 1  # the start may be a CLEAR (side 2)
        shown = int(rng.integers(1, 20))
        for k in range(length):
            j = start + k
            m["price"][j] = price
            m["instrument"][j] = inst
            if k % 2 == 0:
                m["type"][j] = MsgType.SET
                m["side"][j] = side
                m["qty"][j] = shown + int(rng.integers(0, 2))
            else:
                m["type"][j] = MsgType.TRADE
                m["side"][j] = 1 - side  # the aggressor hits the refilled side
                m["qty"][j] = int(rng.integers(1, 3 * shown))
    # the flags stay random; END/SNAPSHOT echo is exercised everywhere
    m["flags"] &= Flag.END | Flag.SNAPSHOT


def _plant_bad(m: np.ndarray, rng: np.random.Generator, rate: float, N: int) -> None:
    """Replace a fraction of the messages with bad ones, cycling through every kind."""
    where = np.flatnonzero(rng.random(len(m)) < rate)
    kinds = 8 if N < 256 else 7
    for count, j in enumerate(where):
        kind = count % kinds
        if kind == 0:
            m["type"][j] = 0
        elif kind == 1:
            m["type"][j] = int(rng.integers(5, 256))
        elif kind == 2:
            m["type"][j] = MsgType.SET
            m["side"][j] = int(rng.integers(2, 256))
        elif kind == 3:
            m["type"][j] = MsgType.TRADE
            m["price"][j] = 0
        elif kind == 4:
            m["type"][j] = int(rng.choice([MsgType.SET, MsgType.TRADE]))
            m["price"][j] = int(rng.integers(0x80000000, U32, endpoint=True))
        elif kind == 5:
            m["type"][j] = MsgType.TRADE
            m["qty"][j] = 0
        elif kind == 6:
            m["type"][j] = MsgType.CLEAR
            m["side"][j] = int(rng.integers(3, 256))
        else:
            m["instrument"][j] = int(rng.integers(N, 256))
