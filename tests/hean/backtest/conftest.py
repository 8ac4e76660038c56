"""A short synthetic session shared by the backtest tests (generated once per worker)."""

from __future__ import annotations

import pytest

from hean.domain import InstrumentSpec
from hean.feeds.synth import SynthConfig, generate


@pytest.fixture(scope="session")
def session():
    """250,000 messages over three instruments (about four minutes of exchange time)."""
    msgs, sidecar = generate(SynthConfig(instruments=3, messages=250_000, seed=7))
    specs = {i.id: InstrumentSpec.from_sidecar(i) for i in sidecar.instruments}
    return msgs, specs, sidecar
