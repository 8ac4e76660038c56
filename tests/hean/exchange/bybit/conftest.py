"""Shared pieces: the instruments, recorded answers, a fake pybit session, a loopback Bybit."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pybit.unified_trading import HTTP

from hean.domain import InstrumentSpec
from hean.exchange.bybit import BybitExchange
from tests.hean.exchange.bybit.fake_bybit import FakeBybit

FIXTURES = Path(__file__).parent / "fixtures"

# Made-up credentials: they exist only here and in the fake server.
KEY = "hean-test-key-Q3f9zK"
SECRET = "hean-test-secret-8uV2pLmW0xR7"

BTC = InstrumentSpec(0, "BTCUSDT", Decimal("0.10"), Decimal("0.001"))
ETH = InstrumentSpec(1, "ETHUSDT", Decimal("0.01"), Decimal("0.01"))
INSTRUMENTS = {BTC.id: BTC, ETH.id: ETH}


def recorded(name: str) -> dict[str, Any]:
    """A recorded V5 answer (``fixtures/NAME.json``), a fresh copy each time."""
    return copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))


class FixtureSession:
    """Stands in for pybit's HTTP: answers each method from a queue of recorded answers
    (or raises what is queued) and keeps the keyword arguments of every call."""

    api_key = KEY
    api_secret = SECRET

    def __init__(self, **answers: Any) -> None:
        self.answers = {k: list(v) if isinstance(v, list) else [v] for k, v in answers.items()}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, method: str):
        if method.startswith("_") or method not in self.answers:
            raise AttributeError(method)

        def call(**kwargs: Any) -> Any:
            self.calls.append((method, kwargs))
            queue = self.answers[method]
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
            if isinstance(answer, BaseException):
                raise answer
            return copy.deepcopy(answer)

        return call


@pytest.fixture
def fake() -> Iterator[FakeBybit]:
    server = FakeBybit(KEY, SECRET, {"BTCUSDT": ("0.10", "0.001"), "ETHUSDT": ("0.01", "0.01")})
    server.last_price.update(BTCUSDT="27000.00", ETHUSDT="1600.00")
    yield server
    server.stop()


def loopback_session(fake: FakeBybit, timeout: float = 2.0) -> HTTP:
    """A real pybit session whose requests go to ``fake``."""
    session = HTTP(testnet=True, api_key=KEY, api_secret=SECRET, timeout=timeout)
    session.endpoint = fake.url  # pybit builds every URL as f"{endpoint}{path}"
    return session


@pytest.fixture
def bybit(fake: FakeBybit) -> Iterator[BybitExchange]:
    ex = BybitExchange(INSTRUMENTS, session=loopback_session(fake))
    yield ex
    ex.close()
