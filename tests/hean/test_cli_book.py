"""`hean book`: the mirror's book after a file, in the instrument's units."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hean.cli import main
from hean.engine import Mirror
from hean.exchange.paper.book import L2Book
from hean.feeds.synth import SynthConfig, generate, write_session
from hean.wire import Params

FIXTURE = Path(__file__).parent.parent / "fixtures" / "bybit_XRPUSDT_2024-12-01_ob500_head.jsonl"


def test_the_mirror_keeps_the_best_k_levels_of_the_full_book() -> None:
    msgs, _ = generate(SynthConfig(instruments=2, messages=30_000, seed=2))
    m = Mirror(Params(K=8, N=2))
    m.process(msgs)
    for inst in (0, 1):
        full = L2Book(inst)
        for row in msgs[msgs["instrument"] == inst].tolist():
            mtype, side, _, _, _, price, qty, *_ = row
            if mtype == 1:
                full.set(side, price, qty)
            elif mtype == 3:
                full.clear(side)
        bids, asks = m.book(inst)
        assert bids and asks and len(bids) <= 8
        assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
        assert [p for p, _ in asks] == sorted(p for p, _ in asks)
        assert bids[0] == full.levels(0, 1)[0] and asks[0] == full.levels(1, 1)[0]
    with pytest.raises(IndexError, match="outside"):
        m.book(2)


def test_book_prints_the_bybit_sample_in_its_units(tmp_path) -> None:
    hl2 = tmp_path / "x.hl2"
    runner = CliRunner()
    r = runner.invoke(main, ["convert", "bybit", str(FIXTURE), "-o", str(hl2),
                             "--instrument", "XRPUSDT=0:0.0001:1"])  # fmt: skip
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["book", str(hl2), "--levels", "3"])
    assert r.exit_code == 0, r.output
    assert "XRPUSDT (id 0)" in r.output and "spread" in r.output
    # prices shown with the sidecar's tick: four decimals, around the sample's 1.95
    prices = [float(w) for w in r.output.split() if w.count(".") == 1 and w[0] == "1"]
    assert prices and all(1.0 < p < 3.0 for p in prices)


def test_book_of_a_file_without_sidecar_and_errors(tmp_path) -> None:
    path = tmp_path / "s.hl2"
    write_session(path, SynthConfig(instruments=1, messages=5_000, seed=1))
    Path(str(path) + ".json").unlink()
    r = CliRunner().invoke(main, ["book", str(path)])
    assert r.exit_code == 0 and "no sidecar" in r.output and "INST0" in r.output
    r = CliRunner().invoke(main, ["book", str(tmp_path / "none.hl2")])
    assert r.exit_code == 1 and "no such file" in r.output
