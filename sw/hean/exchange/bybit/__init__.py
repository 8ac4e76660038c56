"""Bybit V5 order adapter: :class:`BybitExchange` implements :class:`hean.exchange.base.Exchange`.

Testnet by default, mainnet only with ``testnet=False, live=True``; keys from
``$BYBIT_API_KEY``/``$BYBIT_API_SECRET``. See ``docs/bybit_orders.md``.
"""

from hean.exchange.bybit.adapter import BybitExchange
from hean.exchange.bybit.errors import BadResponseError
from hean.exchange.bybit.keys import Credentials, load_credentials
from hean.exchange.bybit.rest import configure_session

__all__ = [
    "BadResponseError",
    "BybitExchange",
    "Credentials",
    "configure_session",
    "load_credentials",
]
