"""Keys from the environment, testnet unless live, and the keys never shown."""

from __future__ import annotations

import pickle

import pytest

from hean.exchange.base import AuthError
from hean.exchange.bybit import BybitExchange, Credentials, load_credentials
from tests.hean.exchange.bybit.conftest import INSTRUMENTS, KEY, SECRET, FixtureSession


@pytest.fixture
def env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYBIT_API_KEY", KEY)
    monkeypatch.setenv("BYBIT_API_SECRET", SECRET)


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BYBIT_API_KEY", raising=False)
    monkeypatch.delenv("BYBIT_API_SECRET", raising=False)


def test_keys_from_the_environment(env_keys: None) -> None:
    creds = load_credentials()
    assert (creds.api_key, creds.api_secret) == (KEY, SECRET)
    assert load_credentials("other", None).api_key == "other"


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, "API key"),
        ({"BYBIT_API_KEY": KEY}, "secret"),
        ({"BYBIT_API_SECRET": SECRET}, "API key"),
        ({"BYBIT_API_KEY": " ", "BYBIT_API_SECRET": SECRET}, "API key"),
    ],
)
def test_a_missing_key_is_an_auth_error_naming_the_variable(env: dict, missing: str) -> None:
    with pytest.raises(AuthError, match=missing) as info:
        load_credentials(environ=env)
    text = str(info.value)
    assert "BYBIT_API_KEY" in text or "BYBIT_API_SECRET" in text
    assert KEY not in text and SECRET not in text


def test_a_missing_key_fails_when_the_adapter_is_built(no_keys: None) -> None:
    with pytest.raises(AuthError, match=r"\$BYBIT_API_KEY"):
        BybitExchange(INSTRUMENTS)
    with pytest.raises(AuthError, match=r"\$BYBIT_API_SECRET"):
        BybitExchange(INSTRUMENTS, api_key=KEY)


def test_credentials_never_show(env_keys: None) -> None:
    creds = load_credentials()
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert KEY not in text and SECRET not in text and "hidden" in text
    with pytest.raises(TypeError):
        pickle.dumps(creds)
    assert isinstance(creds, Credentials)


def test_the_adapter_never_shows_the_keys(env_keys: None) -> None:
    ex = BybitExchange(INSTRUMENTS)
    for text in (repr(ex), str(ex), f"{ex!r}"):
        assert KEY not in text and SECRET not in text
    assert "BTCUSDT" in repr(ex) and "bybit-testnet" in repr(ex)
    with pytest.raises(TypeError):
        pickle.dumps(ex)  # it would carry the session, and the keys with it


def test_testnet_by_default(env_keys: None) -> None:
    ex = BybitExchange(INSTRUMENTS)
    assert ex.name == "bybit-testnet"
    assert "testnet" in ex._rest.session.endpoint


def test_mainnet_only_when_asked_twice(env_keys: None) -> None:
    with pytest.raises(ValueError, match="live=True"):
        BybitExchange(INSTRUMENTS, testnet=False)
    with pytest.raises(ValueError, match="testnet=False"):
        BybitExchange(INSTRUMENTS, live=True)
    ex = BybitExchange(INSTRUMENTS, testnet=False, live=True)
    assert ex.name == "bybit" and "testnet" not in ex._rest.session.endpoint


def test_pybit_is_told_never_to_retry(env_keys: None) -> None:
    ex = BybitExchange(INSTRUMENTS, recv_window=7000, timeout=3.5)
    session = ex._rest.session
    assert session.max_retries == 1
    assert session.retry_codes == set() and session.ignore_codes == set()
    assert session.force_retry is False and session.log_requests is False
    assert (session.recv_window, session.timeout) == (7000, 3.5)


def test_a_given_session_gets_the_same_settings() -> None:
    session = FixtureSession()
    BybitExchange(INSTRUMENTS, session=session)
    assert session.max_retries == 1 and session.retry_codes == set()
    assert session.force_retry is False and session.log_requests is False


def test_a_session_brings_its_own_keys() -> None:
    with pytest.raises(ValueError, match="not both"):
        BybitExchange(INSTRUMENTS, session=FixtureSession(), api_key=KEY)
    keyless = FixtureSession()
    keyless.api_key = None
    with pytest.raises(AuthError, match="no API key"):
        BybitExchange(INSTRUMENTS, session=keyless)
