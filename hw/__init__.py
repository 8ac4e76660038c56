"""HEAN gateware (``hean_hw``): Amaranth descriptions of the HL2 feature core.

Layouts are derived from :mod:`hean.wire`, never retyped by hand.
"""
