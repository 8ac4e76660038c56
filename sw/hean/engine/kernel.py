"""The mirror's kernel: HL2 v1 "Processing one valid message", compiled with numba.

The kernel is one function on purpose. Its body follows the spec step by step, and
because it calls no other compiled function, ``process_batch.py_func`` runs exactly the
same code as plain Python; the tests use that to check the compiled run.

Every integer is cast to the width the spec gives it (u32 prices and sizes, u64 depth,
flow and absorbed volume, i64 OFI) before it is combined, because numpy and numba
promote mixed signed/unsigned 64-bit arithmetic to float.

State arrays (``I`` instruments, sides indexed 0 bid / 1 ask, ``K`` levels):

=============  ==========  ====================================================
name           shape       meaning
=============  ==========  ====================================================
book_px        (I, 2, K)   level prices, best first (bids descending, asks
                           ascending); only the first ``nlev`` entries count
book_qty       (I, 2, K)   level sizes, all > 0
nlev           (I, 2)      levels kept per side
depth          (I, 2)      sum of the kept sizes per side (u64)
seq            (I, 3)      has_seq, last_seq, gap (sticky), as i64
ofi            (I,)        OFI accumulator (i64)
flow           (I, 2)      buy_flow, sell_flow (u64)
ice_px         (I, 2)      tracked iceberg price per side, 0 = none
ice_shown      (I, 2)      shown size of the tracked level
ice_absorbed   (I, 2)      volume traded against it (u64)
ice_refills    (I, 2)      refills seen, saturating at 255
ice_pending    (I, 2)      a trade hit the level since its last SET
counters       (4,)        messages, bad, gaps, dropped
=============  ==========  ====================================================
"""

from __future__ import annotations

import numba
import numpy as np

SET, TRADE, CLEAR, HEARTBEAT = 1, 2, 3, 4

# Status bits (see hean.wire.Status); repeated as plain ints so numba sees constants.
ST_GAP = 1 << 0
ST_CROSSED = 1 << 1
ST_BID_EMPTY = 1 << 2
ST_ASK_EMPTY = 1 << 3
ST_ICEBERG_BID = 1 << 4
ST_ICEBERG_ASK = 1 << 5
ST_BAD_MSG = 1 << 6
ST_END = 1 << 7
ST_SNAPSHOT = 1 << 8
ST_DROPPED = 1 << 9

EMPTY_ASK_PX = 0xFFFFFFFF
MAX_PRICE = 0x7FFFFFFF
IMB_SCALE = 32768
IMB_LIMIT = 32767

C_MESSAGES, C_BAD, C_GAPS, C_DROPPED = 0, 1, 2, 3


@numba.njit(cache=True, nogil=True, boundscheck=False)
def process_batch(
    msgs,
    out,
    K,
    N,
    ofi_shift,
    flow_shift,
    ice_min_refills,
    ice_absorb_ratio,
    book_px,
    book_qty,
    nlev,
    depth,
    seq,
    ofi,
    flow,
    ice_px,
    ice_shown,
    ice_absorbed,
    ice_refills,
    ice_pending,
    counters,
):  # pragma: no cover - covered through py_func and the compiled run alike
    """Compute one feature record per message of ``msgs`` into ``out``.

    ``out`` must have at least ``len(msgs)`` records. The state arrays are updated in
    place, so consecutive calls continue one stream.
    """
    flow_sh = np.uint64(flow_shift)
    ratio = np.uint64(ice_absorb_ratio)
    for i in range(len(msgs)):
        m = msgs[i]
        mtype = m["type"]
        side = m["side"]
        flags = m["flags"]
        inst = m["instrument"]
        mseq = m["seq"]
        price = m["price"]
        qty = m["qty"]

        # ---- Validity ------------------------------------------------------------
        bad = False
        if mtype < SET or mtype > HEARTBEAT or inst >= N:
            bad = True
        elif mtype == SET or mtype == TRADE:
            if side > 1 or price == 0 or price > MAX_PRICE or (mtype == TRADE and qty == 0):
                bad = True
        elif mtype == CLEAR and side > 2:
            bad = True

        status = 0
        if flags & 1:
            status |= ST_END
        if flags & 2:
            status |= ST_SNAPSHOT
        event = np.int64(0)
        counters[C_MESSAGES] += 1

        if bad:
            status |= ST_BAD_MSG
            counters[C_BAD] += 1
        else:
            # ---- 1. Sequence -----------------------------------------------------
            if seq[inst, 0] != 0 and mseq != (seq[inst, 1] + 1) & 0xFFFFFFFF:
                seq[inst, 2] = 1
                counters[C_GAPS] += 1
            seq[inst, 0] = 1
            seq[inst, 1] = mseq

            # ---- 2. Best levels before -------------------------------------------
            if nlev[inst, 0] > 0:
                pb0 = book_px[inst, 0, 0]
                qb0 = book_qty[inst, 0, 0]
            else:
                pb0 = np.uint32(0)
                qb0 = np.uint32(0)
            if nlev[inst, 1] > 0:
                pa0 = book_px[inst, 1, 0]
                qa0 = book_qty[inst, 1, 0]
            else:
                pa0 = np.uint32(EMPTY_ASK_PX)
                qa0 = np.uint32(0)

            # ---- 3. Apply --------------------------------------------------------
            if mtype == SET:
                s = side
                n = nlev[inst, s]
                # i = number of levels better than price (bids: higher, asks: lower)
                j = 0
                if s == 0:
                    while j < n and book_px[inst, 0, j] > price:
                        j += 1
                else:
                    while j < n and book_px[inst, 1, j] < price:
                        j += 1
                if j < n and book_px[inst, s, j] == price:
                    old = book_qty[inst, s, j]
                    if qty > 0:
                        book_qty[inst, s, j] = qty
                        depth[inst, s] = depth[inst, s] + np.uint64(qty) - np.uint64(old)
                    else:
                        for t in range(j, n - 1):
                            book_px[inst, s, t] = book_px[inst, s, t + 1]
                            book_qty[inst, s, t] = book_qty[inst, s, t + 1]
                        nlev[inst, s] = n - 1
                        depth[inst, s] = depth[inst, s] - np.uint64(old)
                elif qty > 0:
                    if j < K:
                        last = n
                        if n == K:
                            # the worst level is pushed past index K-1 and discarded
                            last = K - 1
                            depth[inst, s] = depth[inst, s] - np.uint64(book_qty[inst, s, last])
                        else:
                            nlev[inst, s] = n + 1
                        for t in range(last, j, -1):
                            book_px[inst, s, t] = book_px[inst, s, t - 1]
                            book_qty[inst, s, t] = book_qty[inst, s, t - 1]
                        book_px[inst, s, j] = price
                        book_qty[inst, s, j] = qty
                        depth[inst, s] = depth[inst, s] + np.uint64(qty)
                    else:
                        status |= ST_DROPPED
                        counters[C_DROPPED] += 1
            elif mtype == CLEAR:
                for s in range(2):
                    if side == s or side == 2:
                        nlev[inst, s] = 0
                        depth[inst, s] = 0
                        ice_px[inst, s] = 0
                        ice_shown[inst, s] = 0
                        ice_absorbed[inst, s] = 0
                        ice_refills[inst, s] = 0
                        ice_pending[inst, s] = 0
                if side == 2:
                    seq[inst, 2] = 0

            # ---- 4. Iceberg tracking ---------------------------------------------
            if mtype == TRADE:
                s = 1 - side  # the passive side: a buy aggressor hits the asks
                if nlev[inst, s] > 0 and book_px[inst, s, 0] == price:
                    if ice_px[inst, s] != price:
                        ice_px[inst, s] = price
                        ice_shown[inst, s] = book_qty[inst, s, 0]
                        ice_absorbed[inst, s] = 0
                        ice_refills[inst, s] = 0
                    ice_absorbed[inst, s] = ice_absorbed[inst, s] + np.uint64(qty)
                    ice_pending[inst, s] = 1
            elif mtype == SET:
                s = side
                if ice_px[inst, s] != 0 and price == ice_px[inst, s]:
                    if qty == 0:
                        ice_px[inst, s] = 0
                        ice_shown[inst, s] = 0
                        ice_absorbed[inst, s] = 0
                        ice_refills[inst, s] = 0
                        ice_pending[inst, s] = 0
                    else:
                        if ice_pending[inst, s] != 0 and qty >= ice_shown[inst, s]:
                            if ice_refills[inst, s] < 255:
                                ice_refills[inst, s] += 1
                        ice_pending[inst, s] = 0
                        ice_shown[inst, s] = qty

            # ---- 5. OFI (Cont, Kukanov and Stoikov) -------------------------------
            if nlev[inst, 0] > 0:
                pb1 = book_px[inst, 0, 0]
                qb1 = book_qty[inst, 0, 0]
            else:
                pb1 = np.uint32(0)
                qb1 = np.uint32(0)
            if nlev[inst, 1] > 0:
                pa1 = book_px[inst, 1, 0]
                qa1 = book_qty[inst, 1, 0]
            else:
                pa1 = np.uint32(EMPTY_ASK_PX)
                qa1 = np.uint32(0)
            if pb1 >= pb0:
                event += np.int64(qb1)
            if pb1 <= pb0:
                event -= np.int64(qb0)
            if pa1 <= pa0:
                event -= np.int64(qa1)
            if pa1 >= pa0:
                event += np.int64(qa0)
            acc = ofi[inst]
            ofi[inst] = acc - (acc >> ofi_shift) + event

            # ---- 6. Trade flow ---------------------------------------------------
            if mtype == TRADE:
                buy = flow[inst, 0]
                sell = flow[inst, 1]
                buy = buy - (buy >> flow_sh)
                sell = sell - (sell >> flow_sh)
                if side == 0:
                    buy = buy + np.uint64(qty)
                else:
                    sell = sell + np.uint64(qty)
                flow[inst, 0] = buy
                flow[inst, 1] = sell

        # ---- The record --------------------------------------------------------------
        r = out[i]
        r["seq"] = mseq
        r["instrument"] = inst
        r["type"] = mtype
        r["recv_ts_ns"] = m["recv_ts_ns"]
        r["engine_t_in"] = 0
        r["engine_t_out"] = 0
        r["ofi_event"] = event
        if inst < N:
            nb = nlev[inst, 0]
            na = nlev[inst, 1]
            bid_px = np.uint32(0)
            bid_qty = np.uint32(0)
            ask_px = np.uint32(0)
            ask_qty = np.uint32(0)
            if nb > 0:
                bid_px = book_px[inst, 0, 0]
                bid_qty = book_qty[inst, 0, 0]
            else:
                status |= ST_BID_EMPTY
            if na > 0:
                ask_px = book_px[inst, 1, 0]
                ask_qty = book_qty[inst, 1, 0]
            else:
                status |= ST_ASK_EMPTY
            if nb > 0 and na > 0 and bid_px >= ask_px:
                status |= ST_CROSSED
            if seq[inst, 2] != 0:
                status |= ST_GAP
            for s in range(2):
                if (
                    ice_px[inst, s] != 0
                    and ice_refills[inst, s] >= ice_min_refills
                    and ice_absorbed[inst, s] >= ratio * np.uint64(ice_shown[inst, s])
                ):
                    status |= ST_ICEBERG_BID << s
            d_bid = depth[inst, 0]
            d_ask = depth[inst, 1]
            r["bid_px"] = bid_px
            r["bid_qty"] = bid_qty
            r["ask_px"] = ask_px
            r["ask_qty"] = ask_qty
            r["depth_bid"] = d_bid
            r["depth_ask"] = d_ask
            # imb(b, a) = trunc((b - a) * 32768 / (b + a)), clipped to +-32767
            for f in range(2):
                if f == 0:
                    b = np.int64(bid_qty)
                    a = np.int64(ask_qty)
                else:
                    b = np.int64(d_bid)
                    a = np.int64(d_ask)
                imb = np.int64(0)
                if b + a != 0:
                    num = (b - a) * IMB_SCALE
                    imb = abs(num) // (b + a)
                    if num < 0:
                        imb = -imb
                    imb = min(max(imb, -IMB_LIMIT), IMB_LIMIT)
                if f == 0:
                    r["imb_l1"] = imb
                else:
                    r["imb_depth"] = imb
            r["levels_bid"] = nb
            r["levels_ask"] = na
            r["ice_refills_bid"] = ice_refills[inst, 0]
            r["ice_refills_ask"] = ice_refills[inst, 1]
            r["ofi"] = ofi[inst]
            r["buy_flow"] = flow[inst, 0]
            r["sell_flow"] = flow[inst, 1]
            r["ice_absorbed_bid"] = ice_absorbed[inst, 0]
            r["ice_absorbed_ask"] = ice_absorbed[inst, 1]
            r["ice_px_bid"] = ice_px[inst, 0]
            r["ice_px_ask"] = ice_px[inst, 1]
        else:
            # a bad message naming no instrument: zeros in every state field
            r["bid_px"] = 0
            r["bid_qty"] = 0
            r["ask_px"] = 0
            r["ask_qty"] = 0
            r["depth_bid"] = 0
            r["depth_ask"] = 0
            r["imb_l1"] = 0
            r["imb_depth"] = 0
            r["levels_bid"] = 0
            r["levels_ask"] = 0
            r["ice_refills_bid"] = 0
            r["ice_refills_ask"] = 0
            r["ofi"] = 0
            r["buy_flow"] = 0
            r["sell_flow"] = 0
            r["ice_absorbed_bid"] = 0
            r["ice_absorbed_ask"] = 0
            r["ice_px_bid"] = 0
            r["ice_px_ask"] = 0
        r["status"] = status
