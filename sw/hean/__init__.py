"""HEAN: a hybrid FPGA + Python trading system for Bybit.

The market-data path speaks HL2 (see ``hean.wire``): the FPGA core and the software
mirror (``hean.engine``) turn HL2 messages into identical feature records.
"""

__version__ = "0.1.0"
