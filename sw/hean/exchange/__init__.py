"""Exchanges behind one interface (:mod:`hean.exchange.base`): Bybit and the paper exchange."""
