"""Bybit API keys: from the arguments or the environment, never shown.

The key and secret come from ``api_key``/``api_secret`` when given, else from
``$BYBIT_API_KEY`` and ``$BYBIT_API_SECRET``. :class:`Credentials` keeps them out of
its ``repr`` and ``str`` (so out of logs, tracebacks' locals and pytest output), and
no message this package writes contains them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from hean.exchange.base import AuthError

KEY_VAR = "BYBIT_API_KEY"
SECRET_VAR = "BYBIT_API_SECRET"


class Credentials:
    """An API key and its secret; both hidden from ``repr``/``str``.

    Parameters
    ----------
    api_key, api_secret : str
        Non-empty.
    """

    __slots__ = ("_key", "_secret")

    def __init__(self, api_key: str, api_secret: str) -> None:
        self._key = api_key
        self._secret = api_secret

    @property
    def api_key(self) -> str:
        return self._key

    @property
    def api_secret(self) -> str:
        return self._secret

    def __repr__(self) -> str:
        return "Credentials(api_key=<hidden>, api_secret=<hidden>)"

    __str__ = __repr__

    def __reduce__(self):  # a pickle would carry the secret to wherever it is written
        raise TypeError("Credentials cannot be pickled")


def load_credentials(
    api_key: str | None = None,
    api_secret: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """The key and secret from the arguments, else from the environment.

    Parameters
    ----------
    api_key, api_secret : str, optional
        Taken as given when not None; each one missing is read from
        ``$BYBIT_API_KEY`` / ``$BYBIT_API_SECRET``.
    environ : mapping, optional
        The environment (``os.environ`` by default).

    Raises
    ------
    AuthError
        If the key or the secret is missing or empty; the text names the variables,
        never a value.
    """
    env = os.environ if environ is None else environ
    key = api_key if api_key is not None else env.get(KEY_VAR, "")
    secret = api_secret if api_secret is not None else env.get(SECRET_VAR, "")
    wanted = ((f"the API key (${KEY_VAR})", key), (f"the secret (${SECRET_VAR})", secret))
    missing = [name for name, value in wanted if not value or not value.strip()]
    if missing:
        raise AuthError(
            f"Bybit trading needs {' and '.join(missing)}: set the environment variables "
            "or pass api_key= and api_secret= (testnet keys for testnet, mainnet keys for live)"
        )
    return Credentials(key.strip(), secret.strip())
