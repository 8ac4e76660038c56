"""A second, deliberately naive reading of HL2 v1, for checking the mirror.

It shares nothing with the kernel but the dtypes: books are Python dicts sorted on
demand, integers are Python ints wrapped by hand, and each rule is written the way the
contract states it. Far too slow for real use; fast enough for property tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hean.wire import REC_DTYPE, Params

U32, U64 = (1 << 32) - 1, (1 << 64) - 1


def i64(x: int) -> int:
    x &= U64
    return x - (1 << 64) if x >> 63 else x


def imb(b: int, a: int) -> int:
    if b + a == 0:
        return 0
    num = (b - a) * 32768
    q = abs(num) // (b + a)
    q = -q if num < 0 else q
    return max(-32767, min(32767, q))


@dataclass
class Ice:
    px: int = 0
    shown: int = 0
    absorbed: int = 0
    refills: int = 0
    pending: bool = False


@dataclass
class Inst:
    sides: list[dict[int, int]] = field(default_factory=lambda: [{}, {}])
    has_seq: bool = False
    last_seq: int = 0
    gap: bool = False
    ofi: int = 0
    flow: list[int] = field(default_factory=lambda: [0, 0])
    ice: list[Ice] = field(default_factory=lambda: [Ice(), Ice()])

    def ordered(self, s: int) -> list[tuple[int, int]]:
        return sorted(self.sides[s].items(), reverse=(s == 0))

    def best(self, s: int, empty: tuple[int, int]) -> tuple[int, int]:
        levels = self.ordered(s)
        return levels[0] if levels else empty


def is_bad(m: np.void, N: int) -> bool:
    t, side, inst, price = int(m["type"]), int(m["side"]), int(m["instrument"]), int(m["price"])
    if not 1 <= t <= 4 or inst >= N:
        return True
    if t in (1, 2) and (side > 1 or price == 0 or price > 0x7FFFFFFF):
        return True
    if t == 2 and int(m["qty"]) == 0:
        return True
    return t == 3 and side > 2


def reference(msgs: np.ndarray, p: Params) -> np.ndarray:
    """Records for ``msgs`` under ``p``, computed from a fresh state."""
    state = [Inst() for _ in range(p.N)]
    out = np.zeros(len(msgs), dtype=REC_DTYPE)
    for i, m in enumerate(msgs):
        t, side, inst = int(m["type"]), int(m["side"]), int(m["instrument"])
        price, qty, flags = int(m["price"]), int(m["qty"]), int(m["flags"])
        r = out[i]
        r["seq"], r["instrument"], r["type"] = m["seq"], inst, t
        r["recv_ts_ns"] = m["recv_ts_ns"]
        status = (0x80 if flags & 1 else 0) | (0x100 if flags & 2 else 0)
        event = 0
        if is_bad(m, p.N):
            status |= 0x40
        else:
            st = state[inst]
            seq = int(m["seq"])
            if st.has_seq and seq != (st.last_seq + 1) % (1 << 32):
                st.gap = True
            st.has_seq, st.last_seq = True, seq
            (pb, qb), (pa, qa) = st.best(0, (0, 0)), st.best(1, (U32, 0))
            if t == 1:
                book = st.sides[side]
                if price in book:
                    if qty:
                        book[price] = qty
                    else:
                        del book[price]
                elif qty:
                    better = sum(1 for x in book if (x > price if side == 0 else x < price))
                    if better < p.K:
                        book[price] = qty
                        if len(book) > p.K:
                            del book[st.ordered(side)[-1][0]]
                    else:
                        status |= 0x200
            elif t == 3:
                for s in (0, 1):
                    if side in (s, 2):
                        st.sides[s] = {}
                        st.ice[s] = Ice()
                if side == 2:
                    st.gap = False
            if t == 2:
                s = 1 - side
                levels = st.ordered(s)
                if levels and levels[0][0] == price:
                    ice = st.ice[s]
                    if ice.px != price:
                        st.ice[s] = ice = Ice(px=price, shown=levels[0][1])
                    ice.absorbed = (ice.absorbed + qty) & U64
                    ice.pending = True
            elif t == 1 and st.ice[side].px != 0 and price == st.ice[side].px:
                ice = st.ice[side]
                if qty == 0:
                    st.ice[side] = Ice()
                else:
                    if ice.pending and qty >= ice.shown:
                        ice.refills = min(255, ice.refills + 1)
                    ice.pending, ice.shown = False, qty
            (pb2, qb2), (pa2, qa2) = st.best(0, (0, 0)), st.best(1, (U32, 0))
            event = (pb2 >= pb) * qb2 - (pb2 <= pb) * qb - (pa2 <= pa) * qa2 + (pa2 >= pa) * qa
            st.ofi = i64(st.ofi - (st.ofi >> p.ofi_shift) + event)
            if t == 2:
                st.flow = [f - (f >> p.flow_shift) for f in st.flow]
                st.flow[side] = (st.flow[side] + qty) & U64
        r["ofi_event"] = event
        if inst < p.N:
            st = state[inst]
            bids, asks = st.ordered(0), st.ordered(1)
            bpx, bq = bids[0] if bids else (0, 0)
            apx, aq = asks[0] if asks else (0, 0)
            db, da = sum(q for _, q in bids), sum(q for _, q in asks)
            status |= (4 if not bids else 0) | (8 if not asks else 0) | (1 if st.gap else 0)
            if bids and asks and bpx >= apx:
                status |= 2
            for s in (0, 1):
                ice = st.ice[s]
                if (
                    ice.px
                    and ice.refills >= p.ice_min_refills
                    and ice.absorbed >= p.ice_absorb_ratio * ice.shown
                ):
                    status |= 0x10 << s
            r["bid_px"], r["bid_qty"], r["ask_px"], r["ask_qty"] = bpx, bq, apx, aq
            r["depth_bid"], r["depth_ask"] = db, da
            r["imb_l1"], r["imb_depth"] = imb(bq, aq), imb(db, da)
            r["levels_bid"], r["levels_ask"] = len(bids), len(asks)
            r["ice_refills_bid"], r["ice_refills_ask"] = st.ice[0].refills, st.ice[1].refills
            r["ofi"] = st.ofi
            r["buy_flow"], r["sell_flow"] = st.flow
            r["ice_absorbed_bid"], r["ice_absorbed_ask"] = st.ice[0].absorbed, st.ice[1].absorbed
            r["ice_px_bid"], r["ice_px_ask"] = st.ice[0].px, st.ice[1].px
        r["status"] = status
    return out
