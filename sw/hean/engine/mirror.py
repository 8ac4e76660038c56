"""The software mirror: HL2 v1 feature records computed on the CPU, byte for byte.

The mirror is the golden model the gateware is checked against and the engine every
backtest runs on. It keeps each instrument's book and accumulators between calls, so
a stream can be fed in batches of any size (one message at a time included) and gives
the same records as when it is fed whole.
"""

from __future__ import annotations

import numpy as np

from hean.engine import kernel
from hean.engine.base import Counters, check_batch
from hean.wire import MSG_DTYPE, REC_DTYPE, Params

# A compiled run and a pure-Python run of the very same kernel source.
_COMPILED = kernel.process_batch
_PYTHON = kernel.process_batch.py_func


class Mirror:
    """HL2 feature engine in software.

    Parameters
    ----------
    params : Params, optional
        Build parameters (the spec's defaults when omitted).
    compiled : bool, optional
        Run the numba-compiled kernel (default). ``False`` runs the same kernel
        source as plain Python: slow, used to check the compiler's work.

    Examples
    --------
    >>> from hean.wire import messages, MsgType, Side, Flag
    >>> engine = Mirror()
    >>> rec = engine.process(messages([(MsgType.SET, Side.BID, Flag.END, 0, 1, 100, 5)]))
    >>> int(rec[0]["bid_px"]), int(rec[0]["bid_qty"])
    (100, 5)
    """

    name = "mirror"

    def __init__(self, params: Params | None = None, *, compiled: bool = True) -> None:
        self.params = params if params is not None else Params()
        self._kernel = _COMPILED if compiled else _PYTHON
        self.reset()

    def reset(self) -> None:
        """Forget every book and accumulator, as after power-up."""
        n, k = self.params.N, self.params.K
        self._book_px = np.zeros((n, 2, k), np.uint32)
        self._book_qty = np.zeros((n, 2, k), np.uint32)
        self._nlev = np.zeros((n, 2), np.int64)
        self._depth = np.zeros((n, 2), np.uint64)
        self._seq = np.zeros((n, 3), np.int64)
        self._ofi = np.zeros(n, np.int64)
        self._flow = np.zeros((n, 2), np.uint64)
        self._ice_px = np.zeros((n, 2), np.uint32)
        self._ice_shown = np.zeros((n, 2), np.uint32)
        self._ice_absorbed = np.zeros((n, 2), np.uint64)
        self._ice_refills = np.zeros((n, 2), np.uint8)
        self._ice_pending = np.zeros((n, 2), np.uint8)
        self._counters = np.zeros(4, np.int64)

    def process(self, msgs: np.ndarray) -> np.ndarray:
        """Compute the feature records of ``msgs`` and advance the state.

        Parameters
        ----------
        msgs : numpy.ndarray
            A 1-D array of ``MSG_DTYPE`` (a memory-mapped file slice is fine).

        Returns
        -------
        numpy.ndarray
            One ``REC_DTYPE`` record per message; ``engine_t_in`` and ``engine_t_out``
            are 0 (the mirror has no cycle counter).
        """
        out = np.empty(len(msgs), dtype=REC_DTYPE)
        self.process_into(msgs, out)
        return out

    def process_into(self, msgs: np.ndarray, out: np.ndarray) -> None:
        """Like :meth:`process`, writing into ``out[:len(msgs)]`` (no allocation)."""
        check_batch(msgs, out)
        p = self.params
        self._kernel(
            np.asarray(msgs),
            out,
            p.K,
            p.N,
            p.ofi_shift,
            p.flow_shift,
            p.ice_min_refills,
            p.ice_absorb_ratio,
            self._book_px,
            self._book_qty,
            self._nlev,
            self._depth,
            self._seq,
            self._ofi,
            self._flow,
            self._ice_px,
            self._ice_shown,
            self._ice_absorbed,
            self._ice_refills,
            self._ice_pending,
            self._counters,
        )

    def counters(self) -> Counters:
        """Counters since creation or the last :meth:`reset`."""
        c = self._counters
        msgs = int(c[kernel.C_MESSAGES])
        return Counters(
            messages=msgs,
            records=msgs,
            bad=int(c[kernel.C_BAD]),
            gaps=int(c[kernel.C_GAPS]),
            dropped=int(c[kernel.C_DROPPED]),
        )

    def book(self, instrument: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The levels kept for one instrument, best first: ``(bids, asks)`` of (price, qty)."""
        if not 0 <= instrument < self.params.N:
            raise IndexError(f"instrument {instrument} is outside 0..{self.params.N - 1}")
        sides = []
        for s in range(2):
            n = int(self._nlev[instrument, s])
            px = self._book_px[instrument, s, :n]
            qty = self._book_qty[instrument, s, :n]
            sides.append([(int(a), int(b)) for a, b in zip(px, qty, strict=True)])
        return sides[0], sides[1]

    def warm_up(self) -> None:
        """Compile (or load from the on-disk cache) the kernel before timing anything.

        Both specializations: numba compiles the kernel separately for read-only input,
        which is what a memory-mapped file (``hean.wire.open_file``) hands it.
        """
        scratch = Mirror(self.params)
        msg = np.zeros(1, MSG_DTYPE)
        scratch.process(msg)
        msg.setflags(write=False)
        scratch.process(msg)
