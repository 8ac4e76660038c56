"""Execution: order types, slippage, TWAP/VWAP, iceberg-aware sizing, the router, the journal."""
