"""The double-buffered schedule: which slot is filled, launched, waited and read when."""

from __future__ import annotations

from hean.engine.pingpong import double_buffered


def schedule(n: int, batch: int) -> list[tuple]:
    log: list[tuple] = []
    double_buffered(
        n, batch,
        lambda slot, a, b: log.append(("fill", slot, a, b)),
        lambda slot, count: log.append(("launch", slot, count)),
        lambda slot, count, what: log.append(("finish", slot, count, what)),
        lambda slot, a, b: log.append(("collect", slot, a, b)),
    )  # fmt: skip
    return log


def test_the_next_batch_is_filled_and_launched_before_the_last_is_read() -> None:
    assert schedule(10, 4) == [
        ("fill", 0, 0, 4), ("launch", 0, 4),
        ("fill", 1, 4, 8), ("finish", 0, 4, "batch 1 of 3 (messages 0..3)"),
        ("launch", 1, 4), ("collect", 0, 0, 4),
        ("fill", 0, 8, 10), ("finish", 1, 4, "batch 2 of 3 (messages 4..7)"),
        ("launch", 0, 2), ("collect", 1, 4, 8),
        ("finish", 0, 2, "batch 3 of 3 (messages 8..9)"), ("collect", 0, 8, 10),
    ]  # fmt: skip


def test_one_batch_and_none() -> None:
    assert [e[0] for e in schedule(3, 8)] == ["fill", "launch", "finish", "collect"]
    assert schedule(0, 8) == []
