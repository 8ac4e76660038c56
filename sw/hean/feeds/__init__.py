"""Market-data sources that produce HL2: synthetic sessions and instrument sidecars."""
