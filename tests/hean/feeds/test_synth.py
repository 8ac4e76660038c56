"""The synthetic session generator: shape of the stream, and what the mirror makes of it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from hean.engine import Mirror
from hean.feeds.sidecar import read_sidecar
from hean.feeds.synth import SynthConfig, generate, sidecar_for, write_session
from hean.wire import MSG_DTYPE, FileKind, Flag, MsgType, Params, Status, open_file

CLEAN = SynthConfig(instruments=2, messages=150_000, seed=3)
FAULTY = SynthConfig(instruments=2, messages=200_000, seed=5, faults=True)
MAX_PX = 0x7FFFFFFF


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return generate(CLEAN)[0]


@pytest.fixture(scope="module")
def clean_records(clean: np.ndarray) -> np.ndarray:
    engine = Mirror(Params(N=CLEAN.instruments))
    records = engine.process(clean)
    counters = engine.counters()
    assert (counters.bad, counters.gaps) == (0, 0)
    return records


@pytest.fixture(scope="module")
def full_records(clean: np.ndarray) -> np.ndarray:
    """Records of an engine that keeps every level the generator has (K >= levels), so
    its book is the generator's book; with K < levels the engine misses some levels."""
    return Mirror(Params(N=CLEAN.instruments, K=64)).process(clean)


@pytest.fixture(scope="module")
def faulty() -> np.ndarray:
    return generate(FAULTY)[0]


def _col(msgs: np.ndarray, name: str) -> np.ndarray:
    return msgs[name].astype(np.int64)


def bad_kinds(msgs: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """The spec's Validity conditions, one mask each."""
    t, s, p, q, inst = (_col(msgs, k) for k in ("type", "side", "price", "qty", "instrument"))
    set_or_trade = (t == MsgType.SET) | (t == MsgType.TRADE)
    return {
        "type 0": t == 0,
        "type > 4": t > 4,
        "instrument >= N": inst >= n,
        "SET/TRADE side > 1": set_or_trade & (s > 1),
        "SET/TRADE price 0": set_or_trade & (p == 0),
        "SET/TRADE price > 0x7FFFFFFF": set_or_trade & (p > MAX_PX),
        "TRADE qty 0": (t == MsgType.TRADE) & (q == 0),
        "CLEAR side > 2": (t == MsgType.CLEAR) & (s > 2),
    }


# ---- configuration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("instruments", 0),
        ("instruments", 257),
        ("messages", 0),
        ("levels", 0),
        ("levels", 1001),
        ("seed", -1),
        ("messages", 1.5),
        ("levels", True),
    ],
)
def test_config_is_checked(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"SynthConfig.{field}"):
        SynthConfig(**{field: value})  # type: ignore[arg-type]


def test_sidecar_has_realistic_instruments() -> None:
    sidecar = sidecar_for(SynthConfig(instruments=12))
    symbols = [i.symbol for i in sidecar.instruments]
    assert symbols[:4] == ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
    assert symbols[10:] == ["BTC2USDT", "ETH2USDT"]
    assert len(set(symbols)) == 12
    assert [i.id for i in sidecar.instruments] == list(range(12))
    btc = sidecar.by_id(0)
    assert (btc.tick, btc.lot) == ("0.1", "0.001")
    assert sidecar.source == "hean synth seed=1 instruments=12 faults=False"


# ---- determinism and size -------------------------------------------------------------


def test_same_seed_same_bytes() -> None:
    config = SynthConfig(messages=20_000, seed=11, faults=True)
    a, side_a = generate(config)
    b, side_b = generate(config)
    assert a.tobytes() == b.tobytes()
    assert side_a == side_b
    c, _ = generate(SynthConfig(messages=20_000, seed=12, faults=True))
    assert a.tobytes() != c.tobytes()


@pytest.mark.parametrize("count", [1, 7, 150, 101, 5_000, 300_001])
def test_exact_message_count(count: int) -> None:
    msgs, _ = generate(SynthConfig(messages=count))
    assert msgs.dtype == MSG_DTYPE
    assert len(msgs) == count


def test_progress_is_reported() -> None:
    seen: list[int] = []
    generate(SynthConfig(messages=300_000), progress=seen.append)
    assert len(seen) >= 2
    assert seen == sorted(seen)
    assert seen[-1] == 300_000


# ---- the shape of the stream -----------------------------------------------------------


@pytest.mark.parametrize("config", [CLEAN, SynthConfig(instruments=5, messages=5_000, levels=7)])
def test_opening_snapshots(config: SynthConfig, clean: np.ndarray) -> None:
    msgs = clean if config is CLEAN else generate(config)[0]
    size = 1 + 2 * config.levels
    for i in range(config.instruments):
        snap = msgs[msgs["instrument"] == i][:size]
        assert snap[0]["type"] == MsgType.CLEAR and snap[0]["side"] == 2
        sets = snap[1:]
        assert np.all(sets["type"] == MsgType.SET)
        assert np.all(snap["flags"] & Flag.SNAPSHOT)
        assert np.all(snap["flags"][:-1] & Flag.END == 0)
        assert snap[-1]["flags"] & Flag.END
        bids, asks = sets[: config.levels], sets[config.levels :]
        assert np.all(bids["side"] == 0) and np.all(asks["side"] == 1)
        assert np.all(np.diff(_col(bids, "price")) < 0)  # best first
        assert np.all(np.diff(_col(asks, "price")) > 0)
        assert bids[0]["price"] < asks[0]["price"]
        assert np.all(sets["qty"] > 0)
    # every instrument opens before anything else happens
    opening = config.instruments * size
    assert np.all(msgs["flags"][:opening] & Flag.SNAPSHOT)


def test_clean_stream_is_valid(clean: np.ndarray) -> None:
    for kind, mask in bad_kinds(clean, CLEAN.instruments).items():
        assert not mask.any(), kind
    t = _col(clean, "type")
    sets = t == MsgType.SET
    assert np.all(clean["price"][sets | (t == MsgType.TRADE)] >= 1)
    assert np.all(clean["qty"][t == MsgType.TRADE] > 0)
    assert np.all(clean["side"][t == MsgType.CLEAR] == 2)
    assert np.all(clean["flags"] <= (Flag.END | Flag.SNAPSHOT))
    assert clean[-1]["flags"] & Flag.END or clean[-1]["type"] == MsgType.HEARTBEAT


def test_message_mix(clean: np.ndarray) -> None:
    share = np.bincount(clean["type"], minlength=5) / len(clean)
    assert 0.84 <= share[MsgType.SET] <= 0.92
    assert 0.07 <= share[MsgType.TRADE] <= 0.13
    assert share[MsgType.HEARTBEAT] > 0
    assert share[MsgType.CLEAR] * len(clean) > CLEAN.instruments  # some re-snapshots
    # every instrument is busy, BTCUSDT busiest
    per_instrument = np.bincount(clean["instrument"])
    assert per_instrument[0] > per_instrument[1] > 0.2 * len(clean)


def test_seq_contiguous_per_instrument(clean: np.ndarray) -> None:
    for i in range(CLEAN.instruments):
        seq = _col(clean[clean["instrument"] == i], "seq")
        assert seq[0] == 1
        assert np.all(np.diff(seq) == 1)


def test_timestamps(clean: np.ndarray) -> None:
    exch, recv = _col(clean, "exch_ts_ns"), _col(clean, "recv_ts_ns")
    assert np.all(exch % 1_000_000 == 0)
    assert exch[0] >= CLEAN.start_ns
    latency = recv - exch
    assert latency.min() >= 100_000  # >= 0.1 ms
    assert 200_000 < np.median(latency) < 2_000_000
    assert latency.max() < 100_000_000
    for i in range(CLEAN.instruments):
        mine = clean["instrument"] == i
        assert np.all(np.diff(exch[mine]) >= 0)
        assert np.all(np.diff(recv[mine]) >= 0)
        # bursty: updates a millisecond apart, some long pauses, and more spread than
        # Poisson arrivals (whose gaps have a coefficient of variation of 1)
        steps = np.diff(np.unique(exch[mine]))
        assert steps.min() == 1_000_000
        assert steps.max() > 30 * np.median(steps)
        assert steps.std() / steps.mean() > 1.2


def test_updates_end_with_end_flag(clean: np.ndarray) -> None:
    # an update is never interleaved with another instrument's: END closes each run
    inst = _col(clean, "instrument")
    switch = np.flatnonzero(inst[1:] != inst[:-1])
    closed = (clean["flags"][switch] & Flag.END) | (clean["type"][switch] == MsgType.HEARTBEAT)
    assert np.all(closed)


def test_deltas_concentrate_near_the_touch(clean: np.ndarray, full_records: np.ndarray) -> None:
    t = _col(clean, "type")
    delta = (t == MsgType.SET) & (clean["flags"] & Flag.SNAPSHOT == 0)
    rec = full_records[delta]
    msg = clean[delta]
    px = _col(msg, "price")
    bid = msg["side"] == 0
    # distance from the best level of the same side after the update, in ticks
    dist = np.where(bid, _col(rec, "bid_px") - px, px - _col(rec, "ask_px"))
    dist = dist[(rec["levels_bid"] > 0) & (rec["levels_ask"] > 0) & (msg["qty"] > 0)]
    assert np.mean(dist <= 3) > 0.4
    assert np.mean(dist > 30) > 0.01  # the far end changes too
    deletes = msg["qty"] == 0
    assert 0.1 < deletes.mean() < 0.6


def test_trades_hit_the_best_opposite_price(clean: np.ndarray, full_records: np.ndarray) -> None:
    t = _col(clean, "type")
    inst = _col(clean, "instrument")
    trade = np.flatnonzero(t == MsgType.TRADE)
    hits = 0
    for i in range(CLEAN.instruments):
        mine = np.flatnonzero(inst == i)
        prev_type = np.concatenate([[0], t[mine][:-1]])
        first = mine[(t[mine] == MsgType.TRADE) & (prev_type != MsgType.TRADE)]
        rec = full_records[first]
        msg = clean[first]
        best = np.where(msg["side"] == 0, rec["ask_px"], rec["bid_px"])
        assert np.all(msg["price"] == best)
        hits += len(first)
    assert hits > 0.5 * len(trade) / 2  # trades come in short groups
    assert set(np.unique(clean["side"][trade])) == {0, 1}


def test_mid_drifts(clean_records: np.ndarray) -> None:
    rec = clean_records
    both = (rec["instrument"] == 0) & (rec["levels_bid"] > 0) & (rec["levels_ask"] > 0)
    mid = (_col(rec, "bid_px")[both] + _col(rec, "ask_px")[both]) / 2
    assert mid.max() - mid.min() > 50  # ticks
    spread = _col(rec, "ask_px")[both] - _col(rec, "bid_px")[both]
    assert np.median(spread) <= 2


def test_prices_match_the_sidecar(clean: np.ndarray) -> None:
    sidecar = sidecar_for(CLEAN)
    t = _col(clean, "type")
    for inst, (lo, hi) in zip(
        sidecar.instruments, [(90_000, 105_000), (3_000, 4_200)], strict=True
    ):
        px = clean["price"][(t == MsgType.TRADE) & (clean["instrument"] == inst.id)]
        usd = [float(Decimal(int(p)) * inst.tick_decimal) for p in (px.min(), px.max())]
        assert lo < usd[0] <= usd[1] < hi


# ---- what the mirror makes of it --------------------------------------------------------


def test_mirror_clean(clean_records: np.ndarray) -> None:
    status = clean_records["status"].astype(np.int64)
    assert not np.any(status & (Status.CROSSED | Status.GAP | Status.BAD_MSG))
    assert np.any(status & Status.ICEBERG_BID)
    assert np.any(status & Status.ICEBERG_ASK)
    assert np.any(status & Status.DROPPED)  # 50 levels per side, K = 32
    books = clean_records[clean_records["status"] & Status.SNAPSHOT == 0]
    assert np.all(books["levels_bid"] > 0) and np.all(books["levels_ask"] > 0)


def test_iceberg_is_refilled(clean: np.ndarray, clean_records: np.ndarray) -> None:
    rec = clean_records
    status = rec["status"].astype(np.int64)
    for side, name in ((0, "bid"), (1, "ask")):
        flag = Status.ICEBERG_BID if side == 0 else Status.ICEBERG_ASK
        best = rec[f"{name}_px"]
        at = (status & flag != 0) & (rec[f"ice_px_{name}"] == best)
        assert at.sum() > 10
        assert np.all(rec[f"ice_refills_{name}"][at] >= 3)
        assert np.all(
            rec[f"ice_absorbed_{name}"][at] >= 2 * rec[f"{name}_qty"][at].astype(np.int64)
        )
        # the level was hit by trades again and again at the same price
        first = np.flatnonzero(at)[0]
        inst, px = clean["instrument"][first], clean_records[f"ice_px_{name}"][first]
        hits = (
            (clean["type"] == MsgType.TRADE)
            & (clean["instrument"] == inst)
            & (clean["price"] == px)
            & (clean["side"] == 1 - side)
        )
        assert hits[: first + 1].sum() >= 3


def test_mirror_small_k_drops(clean: np.ndarray) -> None:
    engine = Mirror(Params(N=CLEAN.instruments, K=8))
    records = engine.process(clean)
    assert engine.counters().dropped > 100
    assert np.any(records["status"] & Status.DROPPED)
    assert not np.any(records["status"] & Status.CROSSED)


def test_mirror_sees_the_whole_book_with_large_k() -> None:
    config = SynthConfig(messages=30_000, levels=40, seed=9)
    msgs, _ = generate(config)
    engine = Mirror(Params(N=2, K=64))
    records = engine.process(msgs)
    assert engine.counters().dropped == 0
    ends = records[records["status"] & Status.END != 0][1000:]
    assert np.median(ends["levels_bid"]) == 40
    # kept at 40 after each update (one more only inside an update, before the far end
    # level is deleted)
    assert ends["levels_ask"].max() == 40 and records["levels_ask"].max() <= 41


def test_faults(faulty: np.ndarray) -> None:
    engine = Mirror(Params(N=FAULTY.instruments))
    records = engine.process(faulty)
    counters = engine.counters()
    assert counters.bad > 0 and counters.gaps > 0
    kinds = bad_kinds(faulty, FAULTY.instruments)
    for kind, mask in kinds.items():
        assert mask.any(), f"no bad message of kind {kind}"
    any_bad = np.logical_or.reduce(list(kinds.values()))
    assert counters.bad == int(any_bad.sum())
    assert any_bad.mean() < 0.002  # a low rate
    status = records["status"].astype(np.int64)
    assert np.array_equal(status & Status.BAD_MSG != 0, any_bad)
    assert np.any(status & Status.GAP)


def test_faults_gap_then_resync(faulty: np.ndarray) -> None:
    records = Mirror(Params(N=FAULTY.instruments)).process(faulty)
    status = records["status"].astype(np.int64)
    t = _col(faulty, "type")
    for i in range(FAULTY.instruments):
        mine = np.flatnonzero((faulty["instrument"] == i) & (status & Status.BAD_MSG == 0))
        seq = _col(faulty, "seq")[mine]
        jumps = np.flatnonzero(np.diff(seq) != 1)
        assert len(jumps) > 0
        # after each gap the gateway resyncs: CLEAR both, then a snapshot, gap cleared
        for j in jumps:
            later = mine[j + 1 :]
            clears = later[(t[later] == MsgType.CLEAR) & (faulty["side"][later] == 2)]
            assert len(clears) > 0
            assert status[clears[0]] & Status.GAP == 0
            assert faulty["flags"][clears[0]] & Flag.SNAPSHOT


def test_many_instruments_with_faults() -> None:
    config = SynthConfig(instruments=256, messages=60_000, levels=4, faults=True)
    msgs, sidecar = generate(config)
    assert len(sidecar.instruments) == 256
    assert len(np.unique(msgs["instrument"])) == 256
    engine = Mirror(Params(N=256))
    engine.process(msgs)
    assert engine.counters().bad > 0
    # no instrument id can be >= 256, so that kind is left out; the others remain
    kinds = bad_kinds(msgs, 256)
    assert not kinds.pop("instrument >= N").any()
    assert all(mask.any() for mask in kinds.values())


# ---- files ------------------------------------------------------------------------------


def test_write_session(tmp_path: Path) -> None:
    config = SynthConfig(instruments=3, messages=4_000, seed=2, faults=True)
    path = tmp_path / "s.hl2"
    sidecar = write_session(path, config)
    hl2 = open_file(path, expect=FileKind.HL2)
    assert hl2.params == Params(N=3)
    expected, expected_sidecar = generate(config)
    assert hl2.items.tobytes() == expected.tobytes()
    assert sidecar == expected_sidecar == read_sidecar(path)
    assert sidecar.source == "hean synth seed=2 instruments=3 faults=True"
