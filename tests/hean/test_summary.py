"""hean.summary: per-instrument digests, computed from END records."""

from __future__ import annotations

from decimal import Decimal

from click.testing import CliRunner

from hean.cli import main
from hean.engine import Mirror
from hean.feeds.sidecar import Instrument, Sidecar, write_sidecar
from hean.summary import summarize
from hean.wire import FileKind, Flag, MsgType, Params, Side, messages, write_file

SET, TRADE = MsgType.SET, MsgType.TRADE
B, A = Side.BID, Side.ASK
END = Flag.END


def _records():
    msgs = messages(
        [
            (SET, B, 0, 0, 1, 1000, 5),
            (SET, A, END, 0, 2, 1002, 5),  # END: mid 1001, spread 2
            (SET, B, 0, 1, 1, 50, 1),
            (SET, B, 0, 0, 3, 1003, 1),  # crosses the ask inside the update ...
            (SET, A, 0, 0, 4, 1004, 5),
            (SET, A, END, 0, 5, 1002, 0),  # ... which deletes it: END at 1003/1004
            (TRADE, B, END, 0, 6, 1004, 5),  # END: still 1003/1004
            (9, 0, 0, 0, 7, 0, 0),  # bad
            (SET, A, END, 1, 2, 60, 2),  # instrument 1: mid 55, spread 10
        ]
    )
    return Mirror(Params(N=2)).process(msgs)


def test_summary_counts_and_prices() -> None:
    sidecar = Sidecar((Instrument(0, "XRPUSDT", "0.0001", "1"),), source="test")
    btc, other = summarize(_records(), sidecar)
    assert (btc.symbol, btc.records, btc.updates, btc.trades, btc.bad) == ("XRPUSDT", 7, 3, 1, 1)
    assert btc.first_mid == Decimal("0.1001")  # (1000 + 1002) / 2 ticks of 0.0001
    assert btc.last_mid == Decimal("0.10035")  # (1003 + 1004) / 2
    # END spreads 2, 1, 1: the crossed book inside the second update is not counted
    assert btc.spread_ticks_median == 1.0 and btc.spread_ticks_p99 < 2.0
    assert other.symbol == "INST1" and other.first_mid == Decimal(55)
    assert other.spread_ticks_median == 10.0 and other.updates == 1


def test_summary_command(tmp_path) -> None:
    path = tmp_path / "x.hlf"
    write_file(path, FileKind.HLF, Params(N=2), _records())
    write_sidecar(path, Sidecar((Instrument(0, "XRPUSDT", "0.0001", "1"),)))
    result = CliRunner().invoke(main, ["summary", str(path)])
    assert result.exit_code == 0, result.output
    assert "0 XRPUSDT" in result.output and "0.1001 -> 0.10035" in result.output
    assert "1 INST1" in result.output
    bad = CliRunner().invoke(main, ["summary", str(tmp_path / "missing.hlf")])
    assert bad.exit_code == 1 and "no such file" in bad.output
