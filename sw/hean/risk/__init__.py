"""Risk: the governor (NORMAL -> SOFT_BRAKE -> QUARANTINE -> HARD_STOP), sizing, correlation."""
