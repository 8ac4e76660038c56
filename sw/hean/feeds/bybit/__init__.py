"""The Bybit V5 gateway: instrument registry, normalizer to HL2, live source, conversion."""
