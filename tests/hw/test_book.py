# amaranth: UnusedElaboratable=no
"""hean_hw.book: the single-cycle sorted book update must follow HL2 steps 2 and 3 exactly."""

from __future__ import annotations

import random

import pytest
from amaranth.back import rtlil, verilog
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from hean.engine import Mirror
from hean.feeds.adversarial import adversarial_stream
from hean.wire import MsgType, Params, Status
from hean_hw.book import OP_CLEAR, OP_NONE, OP_SET, Book

EMPTY_ASK = 0xFFFFFFFF
BID, ASK, BOTH = 0, 1, 2
OUTPUTS = (
    "bid_px_before",
    "bid_qty_before",
    "ask_px_before",
    "ask_qty_before",
    "bid_px",
    "bid_qty",
    "ask_px",
    "ask_qty",
    "levels_bid",
    "levels_ask",
    "depth_bid",
    "depth_ask",
    "dropped",
)

#: outputs that are ports; levels and depth are derived from the per-level outputs
PORTS = {name for name in OUTPUTS if not name.startswith(("levels_", "depth_"))}


def side_totals(K: int, live: int, qtys: int) -> tuple[int, int]:
    """Levels and depth of a side from the book's live bits and slot sizes, checking that
    the live levels are a prefix (the row stays compact) and that exactly one slot per
    live level holds a size (the others read 0)."""
    count = bin(live).count("1")
    assert live == (1 << count) - 1, f"live bits {live:b} are not a prefix"
    sizes = [(qtys >> (32 * j)) & 0xFFFFFFFF for j in range(K)]
    assert sum(q > 0 for q in sizes) == count, f"{count} levels but slots {sizes}"
    return count, sum(sizes)


# (op, instrument, side, price, qty)
Msg = tuple[int, int, int, int, int]


def run_book(K: int, N: int, msgs: list[Msg], idle: list[int] | None = None) -> list[dict]:
    """Drive ``msgs`` through a ``Book`` and return one dict of outputs per message.

    ``idle[i]`` idle cycles (``i_valid`` low) come before message ``i``; without ``idle``
    the messages go back to back with ``i_valid`` held high.
    """
    dut = Book(K, N, tag_width=16)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    out: list[dict] = []
    ports = [(name, getattr(dut, f"o_{name}")) for name in OUTPUTS if name in PORTS]

    sizes: list[dict] = []  # levels and depth per side, out a clock before the rest

    def collect(ctx) -> None:
        """After a clock edge: take the outputs of the message leaving the book, if any,
        and the sizes of the one behind it."""
        if ctx.get(dut.o_valid):
            assert ctx.get(dut.o_tag) == len(out) & 0xFFFF, "results out of order"
            assert sizes, "outputs without their sizes a clock earlier"
            row = {name: ctx.get(port) for name, port in ports} | sizes.pop(0)
            for side in ("bid", "ask"):
                assert ctx.get(getattr(dut, f"o_{side}_any")) == (row[f"levels_{side}"] > 0)
            out.append(row)
        if ctx.get(dut.o_sizes_valid):
            totals = {}
            for side in ("bid", "ask"):
                totals[f"levels_{side}"], totals[f"depth_{side}"] = side_totals(
                    K,
                    ctx.get(getattr(dut, f"o_live_{side}")),
                    ctx.get(getattr(dut, f"o_qty_{side}")),
                )
            sizes.append(totals)

    async def bench(ctx) -> None:
        for i, (op, inst, side, price, qty) in enumerate(msgs):
            for _ in range(idle[i] if idle else 0):
                ctx.set(dut.i_valid, 0)
                ctx.set(dut.i_sel, 0)
                await ctx.tick()
                collect(ctx)
            ctx.set(dut.i_valid, 1)
            ctx.set(dut.i_op, op)
            ctx.set(dut.i_sel, 1 << inst if inst < N else 0)
            ctx.set(dut.i_side, side)
            ctx.set(dut.i_price, price)
            ctx.set(dut.i_qty, qty)
            ctx.set(dut.i_tag, i & 0xFFFF)
            await ctx.tick()
            collect(ctx)
        ctx.set(dut.i_valid, 0)
        ctx.set(dut.i_sel, 0)
        for _ in range(Book.latency):
            await ctx.tick()
            collect(ctx)
        assert len(out) == len(msgs), "a message produced no result"

    sim.add_testbench(bench)
    sim.run()
    return out


def bid(price: int, qty: int, inst: int = 0) -> Msg:
    return (OP_SET, inst, BID, price, qty)


def ask(price: int, qty: int, inst: int = 0) -> Msg:
    return (OP_SET, inst, ASK, price, qty)


def clear(side: int, inst: int = 0) -> Msg:
    return (OP_CLEAR, inst, side, 0, 0)


def none(inst: int = 0) -> Msg:
    return (OP_NONE, inst, 0, 1234, 5)


class Model:
    """A plain list-based book, written from the spec's wording, for the hand cases."""

    def __init__(self, K: int, N: int) -> None:
        self.K = K
        self.books = [[[], []] for _ in range(N)]  # [inst][side] = [(price, qty), ...]

    def view(self, inst: int) -> tuple[int, int, int, int]:
        bids, asks = self.books[inst]
        b = bids[0] if bids else (0, 0)
        a = asks[0] if asks else (EMPTY_ASK, 0)
        return (*b, *a)

    def apply(self, msg: Msg) -> dict:
        op, inst, side, p, q = msg
        before = self.view(inst)
        dropped = 0
        if op == OP_CLEAR:
            for s in (BID, ASK):
                if side in (s, BOTH):
                    self.books[inst][s] = []
        elif op == OP_SET:
            levels = self.books[inst][side]
            prices = [px for px, _ in levels]
            if p in prices:
                j = prices.index(p)
                if q:
                    levels[j] = (p, q)
                else:
                    del levels[j]
            elif q:
                i = sum((px > p) if side == BID else (px < p) for px in prices)
                if i < self.K:
                    levels.insert(i, (p, q))
                    del levels[self.K :]
                else:
                    dropped = 1
        bids, asks = self.books[inst]
        after = self.view(inst)
        return {
            **dict(zip(OUTPUTS[:4], before, strict=True)),
            **dict(zip(OUTPUTS[4:8], after, strict=True)),
            "levels_bid": len(bids),
            "levels_ask": len(asks),
            "depth_bid": sum(qty for _, qty in bids),
            "depth_ask": sum(qty for _, qty in asks),
            "dropped": dropped,
        }


def check_against_model(K: int, N: int, msgs: list[Msg], **kw) -> list[dict]:
    model = Model(K, N)
    expected = [model.apply(msg) for msg in msgs]
    got = run_book(K, N, msgs, **kw)
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g == e, f"message {i} {msgs[i]}"
    return got


# ---- Hand cases ------------------------------------------------------------------------


def test_empty_sides_read_the_spec_convention() -> None:
    got = check_against_model(4, 1, [none(), bid(100, 5), ask(101, 7)])
    assert got[0]["ask_px"] == EMPTY_ASK and got[0]["bid_px"] == 0
    assert (got[1]["ask_px_before"], got[1]["ask_px"]) == (EMPTY_ASK, EMPTY_ASK)
    assert (got[2]["bid_px_before"], got[2]["bid_qty_before"]) == (100, 5)
    assert (got[2]["ask_px_before"], got[2]["ask_px"], got[2]["ask_qty"]) == (EMPTY_ASK, 101, 7)


@pytest.mark.parametrize("side", [BID, ASK])
def test_insert_at_front_middle_end(side: int) -> None:
    sign = 1 if side == BID else -1  # a better price is higher for bids, lower for asks
    msgs = [(OP_SET, 0, side, 1000 + sign * d, 10 + d) for d in (0, 5, -5, 2)]
    got = check_against_model(8, 1, msgs)
    key = "bid" if side == BID else "ask"
    assert [g[f"{key}_px"] for g in got] == [1000] + [1000 + sign * 5] * 3  # best after each
    assert got[-1][f"levels_{key}"] == 4
    assert got[-1][f"depth_{key}"] == 10 + 15 + 5 + 12


def test_replace_delete_and_delete_missing() -> None:
    msgs = [bid(p, p) for p in (10, 20, 30, 40)]
    msgs += [bid(30, 7), bid(40, 0), bid(25, 0), bid(20, 0), bid(40, 1)]
    got = check_against_model(4, 1, msgs)
    assert got[4]["depth_bid"] == 40 + 7 + 20 + 10  # replace: + new - old
    assert (got[5]["bid_px"], got[5]["bid_qty"], got[5]["levels_bid"]) == (30, 7, 3)
    assert got[6] == {**got[5], "bid_px_before": 30, "bid_qty_before": 7}  # missing, q == 0
    assert (got[7]["levels_bid"], got[7]["depth_bid"]) == (2, 17)  # worse levels moved up


@pytest.mark.parametrize("side", [BID, ASK])
def test_full_side_drops_and_pushes_out(side: int) -> None:
    sign = 1 if side == BID else -1
    fill = [(OP_SET, 0, side, 500 + sign * d, 100 + d) for d in range(4)]  # 500 is the worst
    worse = (OP_SET, 0, side, 500 - sign, 9)
    inside = (OP_SET, 0, side, 500 + sign * 10, 3)
    got = check_against_model(4, 1, [*fill, worse, worse, inside])
    key = "bid" if side == BID else "ask"
    full_depth = sum(100 + d for d in range(4))
    assert got[4]["dropped"] == 1 and got[4][f"depth_{key}"] == full_depth
    assert got[5] == got[4]  # dropped twice: nothing changed
    assert got[6]["dropped"] == 0 and got[6][f"levels_{key}"] == 4
    assert got[6][f"depth_{key}"] == full_depth + 3 - 100  # the worst level (qty 100) left
    assert got[6][f"{key}_px"] == 500 + sign * 10


def test_clear_each_side_and_both() -> None:
    fill = [bid(100, 1), bid(99, 2), ask(101, 3), ask(102, 4)]
    msgs = [*fill, clear(BID), *fill, clear(ASK), *fill, clear(BOTH), clear(BOTH)]
    got = check_against_model(4, 1, msgs)
    assert (got[4]["levels_bid"], got[4]["depth_bid"], got[4]["levels_ask"]) == (0, 0, 2)
    assert (got[4]["bid_px_before"], got[4]["bid_px"], got[4]["ask_px"]) == (100, 0, 101)
    assert (got[9]["ask_px"], got[9]["ask_qty"], got[9]["levels_bid"]) == (EMPTY_ASK, 0, 2)
    assert got[14]["levels_bid"] == got[14]["levels_ask"] == 0
    assert got[14]["depth_bid"] == got[14]["depth_ask"] == 0


def test_op_none_and_out_of_range_instrument_leave_state_alone() -> None:
    fill = [bid(100, 1, inst=1), ask(101, 2, inst=1), bid(50, 3, inst=0)]
    got = run_book(4, 2, [*fill, none(inst=1), none(inst=7), (OP_NONE, 255, 3, 0, 0), none(1)])
    for g in (got[3], got[6]):
        assert (g["bid_px"], g["bid_qty"], g["ask_px"], g["ask_qty"]) == (100, 1, 101, 2)
        assert (g["bid_px_before"], g["ask_px_before"]) == (100, 101)
        assert (g["levels_bid"], g["levels_ask"], g["depth_bid"], g["dropped"]) == (1, 1, 1, 0)


def test_instruments_are_independent() -> None:
    msgs = [bid(100, 1, 0), bid(200, 2, 1), ask(300, 3, 2), clear(BOTH, 1), bid(90, 4, 0)]
    msgs += [none(1), none(2)]
    check_against_model(4, 3, msgs)


def test_a_reset_empties_every_instrument_and_holds_the_input_meanwhile() -> None:
    # with several instruments the rows are LUT RAM, which a reset does not reach: the
    # book clears them itself, one instrument per clock, and is not ready until then
    K, N = 4, 3
    dut = Book(K, N)
    m = Module()
    m.domains.sync = cd = ClockDomain("sync")
    m.submodules.book = dut
    sim = Simulator(m)
    sim.add_clock(1e-8, domain="sync")

    async def send(ctx, op: int, inst: int, side: int, price: int, qty: int) -> None:
        ctx.set(dut.i_valid, 1)
        ctx.set(dut.i_op, op)
        ctx.set(dut.i_sel, 1 << inst)
        ctx.set(dut.i_side, side)
        ctx.set(dut.i_price, price)
        ctx.set(dut.i_qty, qty)
        await ctx.tick()
        ctx.set(dut.i_valid, 0)
        ctx.set(dut.i_sel, 0)

    async def best(ctx, inst: int) -> tuple[int, int, int]:
        await send(ctx, OP_NONE, inst, 0, 0, 0)
        for _ in range(Book.latency - 1):
            await ctx.tick()
        assert ctx.get(dut.o_valid)
        return ctx.get(dut.o_bid_px), ctx.get(dut.o_bid_qty), ctx.get(dut.o_ask_px)

    async def bench(ctx) -> None:
        assert ctx.get(dut.o_ready), "ready at power-on: the RAMs start out empty"
        for inst in range(N):
            await send(ctx, OP_SET, inst, BID, 100 + inst, 7)
            await send(ctx, OP_SET, inst, ASK, 200 + inst, 8)
        for inst in range(N):
            assert await best(ctx, inst) == (100 + inst, 7, 200 + inst)
        ctx.set(cd.rst, 1)
        await ctx.delay(2e-8)  # two clock edges in reset (a tick would raise DomainReset)
        ctx.set(cd.rst, 0)
        waited = 0
        while not ctx.get(dut.o_ready):
            await ctx.tick()
            waited += 1
        assert waited == N, f"cleared in {waited} clocks"
        for _ in range(Book.latency):  # the sweep's CLEARs leave no outputs
            assert not ctx.get(dut.o_valid)
            await ctx.tick()
        for inst in range(N):
            assert await best(ctx, inst) == (0, 0, EMPTY_ASK), inst
        await send(ctx, OP_SET, 1, BID, 55, 3)
        assert await best(ctx, 1) == (55, 3, EMPTY_ASK)

    sim.add_testbench(bench)
    sim.run()


def test_back_to_back_equals_with_idle_cycles() -> None:
    rng = random.Random(5)
    msgs: list[Msg] = []
    for _ in range(300):
        r = rng.random()
        inst = rng.choice([0, 0, 0, 1])  # mostly the same instrument, consecutively
        if r < 0.05:
            msgs.append(clear(rng.randrange(3), inst))
        elif r < 0.12:
            msgs.append(none(inst))
        else:
            q = rng.choice([0, rng.randrange(1, 9), 0xFFFFFFFF])
            msgs.append((OP_SET, inst, rng.randrange(2), rng.randrange(95, 106), q))
    tight = check_against_model(4, 2, msgs)
    loose = run_book(4, 2, msgs, idle=[rng.randrange(3) for _ in msgs])
    assert tight == loose


def test_a_level_added_just_ahead_is_changed_in_its_own_slot() -> None:
    """A size goes to the slot of its level, also when one of the two messages just
    ahead (still in the pipeline when the compares ran) added that level."""
    msgs = [
        bid(100, 5),
        bid(100, 6),  # the message just ahead added 100
        bid(101, 1),
        bid(101, 0),  # ... and deleted here
        bid(102, 2),
        bid(99, 3),
        bid(102, 4),  # two messages ahead added 102
        bid(98, 7),  # the row is full (K=4): 102 100 99 98
        bid(103, 8),  # pushes 98 out, and its size takes 98's slot
        bid(104, 9),  # pushes 99 out
        bid(99, 0),
        bid(104, 10),
        bid(102, 0),
        bid(105, 11),
        bid(105, 12),
        bid(100, 0),
    ]
    got = check_against_model(4, 1, msgs)
    assert [g["bid_qty"] for g in got[:2]] == [5, 6]
    assert [g["depth_bid"] for g in got[7:]] == [20, 21, 27, 27, 28, 24, 35, 36, 30]
    # the same with other messages between them, and with the other instrument's
    check_against_model(4, 2, [m for msg in msgs for m in (msg, none(1), bid(50, 1, 1))])


# ---- Against the mirror ----------------------------------------------------------------


def check_against_mirror(K: int, N: int, seed: int, n: int, band: int, idle: bool) -> None:
    msgs = adversarial_stream(seed, n, instruments=N, N=N, band=band)
    recs = Mirror(Params(K=K, N=N)).process(msgs)
    ops: list[Msg] = []
    for msg, rec in zip(msgs, recs, strict=True):
        kind = int(msg["type"])
        op = OP_NONE
        if not rec["status"] & Status.BAD_MSG:  # a bad message must change nothing: op 0
            op = {MsgType.SET: OP_SET, MsgType.CLEAR: OP_CLEAR}.get(kind, OP_NONE)
        side = int(msg["side"]) & 3  # only op 0 can carry a side > 2; it ignores it
        ops.append((op, int(msg["instrument"]), side, int(msg["price"]), int(msg["qty"])))
    rng = random.Random(seed)
    gaps = [rng.choice((0, 0, 1, 2)) for _ in ops] if idle else None
    got = run_book(K, N, ops, idle=gaps)

    before = {i: (0, 0, EMPTY_ASK, 0) for i in range(N)}
    dropped = 0
    for i, (g, rec, op) in enumerate(zip(got, recs, ops, strict=True)):
        inst = op[1]
        if inst >= N:
            continue  # outputs unspecified; the caller zeroes them
        nb, na = int(rec["levels_bid"]), int(rec["levels_ask"])
        after = (
            int(rec["bid_px"]),
            int(rec["bid_qty"]),
            int(rec["ask_px"]) if na else EMPTY_ASK,
            int(rec["ask_qty"]),
        )
        expected = {
            **dict(zip(OUTPUTS[:4], before[inst], strict=True)),
            **dict(zip(OUTPUTS[4:8], after, strict=True)),
            "levels_bid": nb,
            "levels_ask": na,
            "depth_bid": int(rec["depth_bid"]),
            "depth_ask": int(rec["depth_ask"]),
            "dropped": int(bool(rec["status"] & Status.DROPPED)),
        }
        assert g == expected, f"message {i}: {msgs[i]}"
        before[inst] = after
        dropped += expected["dropped"]
    # the stream must really reach the corners this test is about
    assert dropped > 0
    assert any(g["levels_bid"] == K for g in got) and any(g["levels_ask"] == K for g in got)


@pytest.mark.parametrize(
    ("K", "N", "seed", "n", "band", "idle"),
    [
        (4, 2, 11, 6000, 12, False),
        (8, 3, 12, 5000, 24, False),
        (16, 2, 14, 3000, 40, False),
        (4, 3, 13, 3000, 10, True),
    ],
)
def test_against_mirror(K: int, N: int, seed: int, n: int, band: int, idle: bool) -> None:
    check_against_mirror(K, N, seed, n, band, idle)


# ---- Elaboration -----------------------------------------------------------------------


def test_converts_to_verilog() -> None:
    text = verilog.convert(Book(16, 2), name="book")
    assert "module book" in text and "endmodule" in text
    assert "o_qty_bid" in text


@pytest.mark.parametrize(("K", "N"), [(3, 1), (65, 1), (4, 0), (4, 257)])
def test_refuses_parameters_out_of_range(K: int, N: int) -> None:
    with pytest.raises(ValueError, match="must be in"):
        Book(K, N)


@pytest.mark.parametrize(("K", "N"), [(64, 1), (4, 256)])
def test_extreme_configurations_elaborate(K: int, N: int) -> None:
    text = rtlil.convert(Book(K, N), name="book")
    assert "module \\book" in text
