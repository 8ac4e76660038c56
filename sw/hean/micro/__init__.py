"""Software-only microstructure: volume profile, trade-flow analyzer, flash-crash detector."""
