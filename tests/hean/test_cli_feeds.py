"""`hean convert bybit`, `hean replay` and `hean registry`: happy paths and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hean.cli import main
from hean.engine import Mirror
from hean.feeds.bybit.registry import Registry
from hean.feeds.sidecar import Instrument, read_sidecar
from hean.wire import FileKind, Params, open_file
from tests.hean.engine.test_mirror_bybit_sample import SAMPLE, to_hl2

XRP = "XRPUSDT=0:0.0001:1"


def run(*args: object, env: dict | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, env=env)


@pytest.fixture()
def registry_file(tmp_path: Path) -> Path:
    path = tmp_path / "reg.json"
    Registry((Instrument(2, "XRPUSDT", "0.0001", "1"),), "test").save(path)
    return path


def test_convert_with_instrument(tmp_path: Path) -> None:
    dst = tmp_path / "x.hl2"
    r = run("convert", "bybit", SAMPLE, "-o", dst, "--instrument", XRP)
    assert r.exit_code == 0, r.output
    assert "50 messages in, 3,967 HL2 out, 0 rejected, 0 gaps, 1 snapshots" in r.output
    lines = [json.loads(x) for x in SAMPLE.read_text().splitlines()]
    assert open_file(dst, expect=FileKind.HL2).items.tobytes() == to_hl2(lines).tobytes()
    assert read_sidecar(dst).instruments[0].symbol == "XRPUSDT"
    assert not dst.with_name("x.hl2.part").exists()


def test_convert_with_the_cached_registry(tmp_path: Path, registry_file: Path) -> None:
    dst = tmp_path / "x.hl2"
    r = run("convert", "bybit", SAMPLE, "-o", dst, env={"HEAN_REGISTRY": str(registry_file)})
    assert r.exit_code == 0, r.output
    f = open_file(dst)
    assert set(f.items["instrument"].tolist()) == {2} and f.params.N == 3


def test_convert_reports_rejections_and_strict_fails(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(SAMPLE.read_text() + "garbage\n")
    dst = tmp_path / "x.hl2"
    r = run("convert", "bybit", src, "-o", dst, "--instrument", XRP)
    assert r.exit_code == 0 and "1 rejected" in r.output and "line 51: not JSON" in r.output
    dst.unlink()
    r = run("convert", "bybit", src, "-o", dst, "--instrument", XRP, "--strict")
    assert r.exit_code == 1 and "--strict" in r.output
    assert dst.exists()  # the conversion itself is complete; --strict only sets the status


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["--instrument", "XRPUSDT=0:0.0001"], 2, "SYMBOL=ID:TICK:STEP"),
        (["--registry", "/nonexistent/reg.json"], 1, "hean registry fetch"),
        (["--instrument", "BTCUSDT=0:0.1:0.001"], 0, "50 rejected"),  # every line: unknown
    ],
)
def test_convert_errors(tmp_path: Path, args: list[str], code: int, text: str) -> None:
    r = run("convert", "bybit", SAMPLE, "-o", tmp_path / "x.hl2", *args)
    assert r.exit_code == code, r.output
    assert text in r.output
    if code:
        assert not (tmp_path / "x.hl2").exists() and not (tmp_path / "x.hl2.json").exists()


def test_convert_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(SAMPLE.read_text())
    r = run("convert", "bybit", src, "-o", src, "--instrument", XRP)
    assert r.exit_code == 2 and src.read_text() == SAMPLE.read_text()


def test_registry_show(registry_file: Path) -> None:
    r = run("registry", "show", "--registry", registry_file)
    assert r.exit_code == 0 and "XRPUSDT" in r.output and "0.0001" in r.output
    r = run("registry", "show", "--registry", registry_file.with_name("none.json"))
    assert r.exit_code == 1 and "no instrument registry" in r.output


def test_replay_max_writes_the_mirror_records(tmp_path: Path) -> None:
    hl2 = tmp_path / "x.hl2"
    run("convert", "bybit", SAMPLE, "-o", hl2, "--instrument", XRP)
    hlf = tmp_path / "x.hlf"
    r = run("replay", hl2, "--speed", "max", "--N", "1", "-o", hlf)
    assert r.exit_code == 0, r.output
    assert "3,967/3,967 messages" in r.output and "XRPUSDT 1.9537/1.9538" in r.output
    msgs = open_file(hl2).items
    recs = open_file(hlf, expect=FileKind.HLF).items
    assert recs.tobytes() == Mirror(Params(N=1)).process(np.asarray(msgs)).tobytes()


@pytest.mark.parametrize("speed", ["0", "-1", "fast", "nan", "inf"])
def test_replay_bad_speed(tmp_path: Path, speed: str) -> None:
    hl2 = tmp_path / "x.hl2"
    run("convert", "bybit", SAMPLE, "-o", hl2, "--instrument", XRP)
    r = run("replay", hl2, "--speed", speed)
    assert r.exit_code == 2 and "--speed" in r.output


def test_record_refuses_bad_arguments(tmp_path: Path) -> None:
    r = run("record", "bybit", "--symbols", "XRPUSDT", "--depth", "500", "-o", tmp_path / "rec")
    assert r.exit_code == 2 and "500" in r.output
    r = run("record", "bybit", "--symbols", " , ", "-o", tmp_path / "rec")
    assert r.exit_code == 2 and "at least one symbol" in r.output


def test_record_bybit_end_to_end_with_pybit_offline(tmp_path: Path, monkeypatch) -> None:
    """`hean record bybit` over pybit's own WebSocket class with a socket that stays local.

    A feeder thread plays the recorded messages into pybit as Bybit would; the command
    stops after --duration, and its .jsonl converts back to its .hl2 exactly.
    """
    import threading

    from hean.feeds.bybit import live
    from hean.feeds.bybit.convert import convert_file

    from .feeds.bybit.fakes import PybitFactory, fixture_messages

    factory = PybitFactory()

    def feed_when_subscribed() -> None:
        for _ in range(200):
            if factory.sockets and len(factory.ws.frames()) >= 2:
                break
            threading.Event().wait(0.01)
        for msg in fixture_messages():
            factory.ws.feed(msg)

    monkeypatch.setattr(live, "pybit_websocket", lambda testnet: factory)
    feeder = threading.Thread(target=feed_when_subscribed, daemon=True)
    feeder.start()
    out_dir = tmp_path / "rec"
    r = run("record", "bybit", "--symbols", "XRPUSDT", "--instrument", XRP, "--registry",
            tmp_path / "reg.json", "-o", out_dir, "--duration", "1.5")  # fmt: skip
    feeder.join(5)
    assert r.exit_code == 0, r.output
    assert "recorded 50 messages, 3,967 HL2" in r.output
    (part,) = sorted(out_dir.glob("*.hl2"))
    report = convert_file(part.with_suffix(".jsonl"), tmp_path / "back.hl2",
                          Registry((Instrument(0, "XRPUSDT", "0.0001", "1"),)))  # fmt: skip
    assert report.counters.rejected == 0
    assert open_file(tmp_path / "back.hl2").items.tobytes() == open_file(part).items.tobytes()
    assert open_file(part).items["recv_ts_ns"].min() > 0  # stamped on arrival
