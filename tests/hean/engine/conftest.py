"""Fixtures of the HL2 v1 rule tests: every test runs on both mirror kernels.

The ``engine`` fixture is parametrized over the numba-compiled kernel and the same
kernel source run as plain Python; each test checks hand-worked values, so both runs
must give identical results.
"""

from __future__ import annotations

import pytest

from .rulekit import engine_factory


@pytest.fixture(params=[True, False], ids=["compiled", "python"])
def engine(request):
    """``engine(**params)`` -> a fresh :class:`rulekit.Engine` with ``Params(**params)``."""
    return engine_factory(request.param)
