"""Synthetic HL2 sessions that look like a real crypto L2 feed.

:func:`generate` simulates a few USDT perpetuals the way a Bybit ``orderbook.50`` +
``publicTrade`` gateway would normalize them into HL2 (spec, "Gateway normalization"):

* every instrument opens with a snapshot (CLEAR both, one SET per level, bids then
  asks, all SNAPSHOT, the last END), and is re-snapshotted now and then;
* order-book deltas of one to a few SETs, concentrated near the touch (the distance
  from the best level is geometric): sizes change, levels are deleted (qty 0) and new
  ones appear, quotes improve inside the spread; each side is kept at ``levels``
  levels, so the level falling off the far end is deleted and one coming into range
  is added, as a depth-limited stream does (more levels than an engine's K keeps);
* trades at the best opposite price by an aggressor, walking the book when large,
  followed by the SETs that take the volume off; they chase a latent fair price that
  follows a random walk with volatility bursts, so the mid drifts;
* planted icebergs: a best level hit again and again and refilled to its shown size
  (or more) after every hit, until its hidden reserve is used up;
* exchange timestamps in whole milliseconds with bursty gaps, receive timestamps a
  few hundred microseconds to a few milliseconds later, both never decreasing;
* ``seq`` numbered per instrument from 1, the gateway's numbering;
* heartbeats (type 4) about once a second per instrument.

With ``faults=True`` a small share of the stream is damaged the ways the spec's
Validity rules and gap detection are there for: bad messages of every kind in the
Validity list (one at a time, in turn), updates lost in transport (a ``seq`` gap),
each followed a little later by the resync snapshot a gateway would send.

The result depends only on the :class:`SynthConfig` (and the numpy and numba
versions): the same configuration gives the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from hean.feeds import synth_kernel as kernel
from hean.feeds.sidecar import Instrument, Sidecar, write_sidecar
from hean.wire import MSG_DTYPE, FileKind, Params, Writer

#: The instruments a session cycles through: symbol, tick, lot, a price, a typical
#: level size in lots and how busy the instrument is relative to the first.
INSTRUMENTS: tuple[tuple[str, str, str, str, int, float], ...] = (
    ("BTCUSDT", "0.1", "0.001", "97000", 500, 1.0),
    ("ETHUSDT", "0.01", "0.01", "3600", 400, 0.8),
    ("SOLUSDT", "0.01", "0.1", "230", 400, 0.6),
    ("XRPUSDT", "0.0001", "1", "2.2", 3000, 0.5),
    ("DOGEUSDT", "0.00001", "1", "0.4", 20000, 0.4),
    ("BNBUSDT", "0.1", "0.01", "650", 100, 0.3),
    ("ADAUSDT", "0.0001", "1", "1.05", 3000, 0.3),
    ("LINKUSDT", "0.001", "0.1", "25", 300, 0.25),
    ("AVAXUSDT", "0.001", "0.1", "45", 200, 0.25),
    ("LTCUSDT", "0.01", "0.1", "120", 100, 0.2),
)

#: Messages generated between two calls of the progress callback.
CHUNK = 1 << 17


@dataclass(frozen=True)
class SynthConfig:
    """What to generate.

    Parameters
    ----------
    instruments : int
        Instruments in the session (1..256), ids 0..instruments-1.
    messages : int
        Messages in the session (>= 1). A session too short for its opening
        snapshots ends inside one.
    seed : int
        Seed of the ``numpy.random.PCG64`` generator every draw comes from.
    faults : bool
        Plant bad messages, sequence gaps and resync snapshots.
    levels : int
        Levels per side of each book, and of each snapshot (1..1000).
    start_ns : int
        Exchange time of the session start, ns since the Unix epoch (rounded down
        to whole milliseconds).

    Raises
    ------
    ValueError
        If a value is out of range; the message names the field.
    """

    instruments: int = 2
    messages: int = 1_000_000
    seed: int = 1
    faults: bool = False
    levels: int = 50
    start_ns: int = 1_733_011_200_000_000_000

    def __post_init__(self) -> None:
        for name, low, high in (
            ("instruments", 1, 256),
            ("messages", 1, None),
            ("levels", 1, 1000),
            ("seed", 0, None),
            ("start_ns", 0, 2**63 - 2**62),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"SynthConfig.{name} must be an integer, got {value!r}")
            if value < low or (high is not None and value > high):
                bound = f"{low}..{high}" if high is not None else f">= {low}"
                raise ValueError(f"SynthConfig.{name}={value} is out of range ({bound})")
        if not isinstance(self.faults, (bool, np.bool_)):
            raise ValueError(f"SynthConfig.faults must be a bool, got {self.faults!r}")

    @property
    def source(self) -> str:
        """The sidecar's ``source`` line for a session made with this configuration."""
        return (
            f"hean synth seed={self.seed} instruments={self.instruments} faults={bool(self.faults)}"
        )


def _instrument_table(count: int) -> list[tuple[Instrument, int, float, float]]:
    """(instrument, opening price in ticks, typical level size, activity) per id."""
    table = []
    for i in range(count):
        symbol, tick, lot, price, size, weight = INSTRUMENTS[i % len(INSTRUMENTS)]
        cycle = i // len(INSTRUMENTS)
        if cycle:
            # beyond the list: numbered look-alikes at other prices, less busy
            symbol = f"{symbol[:-4]}{cycle + 1}{symbol[-4:]}"
            price = str(Decimal(price) * (1 + Decimal(cycle) / 7))
            weight /= 1 + cycle
        ticks = int(Decimal(price) / Decimal(tick))
        table.append((Instrument(i, symbol, tick, lot), ticks, float(size), weight))
    return table


def sidecar_for(config: SynthConfig) -> Sidecar:
    """The sidecar of a session made with ``config`` (symbols, ticks and lots)."""
    instruments = tuple(row[0] for row in _instrument_table(config.instruments))
    return Sidecar(instruments, config.source)


def generate(
    config: SynthConfig, progress: Callable[[int], None] | None = None
) -> tuple[np.ndarray, Sidecar]:
    """Generate a synthetic session.

    Parameters
    ----------
    config : SynthConfig
        What to generate.
    progress : callable, optional
        Called now and then with the number of messages generated so far (last
        with ``config.messages``).

    Returns
    -------
    messages : numpy.ndarray
        Exactly ``config.messages`` messages of ``hean.wire.MSG_DTYPE``.
    sidecar : Sidecar
        The instruments' symbols, ticks and lots.

    Examples
    --------
    >>> msgs, sidecar = generate(SynthConfig(instruments=1, messages=1000, levels=10))
    >>> len(msgs), sidecar.by_id(0).symbol
    (1000, 'BTCUSDT')
    """
    table = _instrument_table(config.instruments)
    n_inst = len(table)
    levels = config.levels
    px0 = np.array([row[1] for row in table], np.int64)
    size = np.array([row[2] for row in table], np.float64)
    # fair-price volatility per event, in ticks: ~1.2 ppm of the price, >= 0.25 tick
    sigma = np.maximum(px0 * 1.2e-6, 0.25)
    cumw = np.cumsum([row[3] for row in table]).astype(np.float64)

    cap = levels + 2
    bpx = np.zeros((n_inst, 2, cap), np.int64)
    bq = np.zeros((n_inst, 2, cap), np.int64)
    nl = np.zeros((n_inst, 2), np.int64)
    fair = np.zeros(n_inst, np.float64)
    lv = np.zeros(n_inst, np.float64)
    seq = np.ones(n_inst, np.int64)
    ist = np.zeros((n_inst, 8), np.int64)
    gf = np.zeros(4, np.float64)
    gi = np.zeros(8, np.int64)
    start_ms = int(config.start_ns) // 1_000_000
    gi[kernel.GI_START_MS] = start_ms
    # each instrument keeps its own event rate, so more instruments make a busier feed
    gf[kernel.GF_MEAN_GAP] = kernel.MEAN_GAP_MS * (INSTRUMENTS[0][5] + INSTRUMENTS[1][5]) / cumw[-1]
    ist[:, kernel.IS_LAST_HB] = start_ms

    rng = np.random.Generator(np.random.PCG64(int(config.seed)))
    total = int(config.messages)
    out = np.zeros(total, MSG_DTYPE)
    pos = 0
    while pos < total:
        stop = min(pos + CHUNK, total)
        pos = kernel.run(
            out,
            pos,
            stop,
            total,
            rng,
            bool(config.faults),
            levels,
            n_inst,
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
        )
        if progress is not None:
            progress(pos)
    return out, Sidecar(tuple(row[0] for row in table), config.source)


def write_session(
    path: str | os.PathLike[str],
    config: SynthConfig,
    progress: Callable[[int], None] | None = None,
) -> Sidecar:
    """Generate a session and write it as an ``.hl2`` file with its sidecar.

    Parameters
    ----------
    path : path-like
        The ``.hl2`` file to write; the sidecar goes to ``path`` + ``.json``.
    config : SynthConfig
        What to generate.
    progress : callable, optional
        As for :func:`generate`.

    Returns
    -------
    Sidecar
        The sidecar written.

    Notes
    -----
    The header's N is the number of instruments; the other parameters are the
    spec's defaults.
    """
    msgs, sidecar = generate(config, progress)
    params = Params(N=max(config.instruments, 1))
    with Writer(path, FileKind.HL2, params) as writer:
        writer.write(msgs)
    write_sidecar(path, sidecar)
    return sidecar
