"""The backtester: a recorded session replayed through the whole stack, in exchange time.

:class:`hean.backtest.engine.Backtest` runs it; :mod:`hean.backtest.metrics` scores it;
:mod:`hean.backtest.report` draws it.
"""
