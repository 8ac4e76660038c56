"""Strategies: the impulse engine and its filters."""
