"""HEAN."""
