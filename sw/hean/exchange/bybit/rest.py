"""pybit's session, called once per request, with failures as :mod:`.errors` exceptions.

pybit's own retries are switched off (:func:`configure_session`). Left alone, pybit
(5.17, ``_V5HTTPManager._submit_request``) would

* answer retCode 10006 by sleeping until the rate-limit window resets and sending the
  request again, and 10002 by re-sending with a larger ``recv_window``: the router's
  thread would block for an unknown time, and what it learns is a late success or,
  after ``max_retries``, a FailedRequestError with status 400 that no longer says why;
* with ``force_retry``, re-send after a timeout, when the first request may well have
  created the order;
* return, as if it had succeeded, any answer whose retCode is in ``ignore_codes``.

So every call is sent once (``max_retries=1``), no retCode is retried
(``retry_codes`` emptied after construction, since pybit replaces an empty set given to
its constructor with its defaults), none is ignored, network errors are raised at once
(``force_retry=False``), and pybit's request log, which prints the API key header, stays
off. Whether and when to try again is the caller's decision, made with the
``retryable`` flag of the exception; a repeated placement is safe because Bybit refuses
a second order with the same ``orderLinkId`` (110072, DuplicateOrderError).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hean.exchange.bybit import parse
from hean.exchange.bybit.errors import BadResponseError, translate

WEEK_MS = 7 * 24 * 3600 * 1000  # the widest startTime..endTime Bybit's execution list takes
MAX_PAGES = 1000  # a cursor that never ends is a broken answer, not a long history


def configure_session(session: Any) -> None:
    """Make ``session`` (a pybit ``HTTP``) send each request once and never hide a failure."""
    session.max_retries = 1
    session.retry_codes = set()
    session.ignore_codes = set()
    session.force_retry = False
    session.log_requests = False


class Rest:
    """Calls on a configured pybit session, for one product ``category``."""

    def __init__(self, session: Any, category: str) -> None:
        configure_session(session)
        self.session = session
        self.category = category

    def call(self, what: str, method: str, params: Mapping[str, Any]) -> Any:
        """``session.method(category=..., **params)``; failures as ExchangeErrors.

        ``what`` names the operation in the error message.
        """
        try:
            return getattr(self.session, method)(category=self.category, **params)
        except Exception as exc:
            err = translate(exc, what)
            if err is None:  # not a failed request: a bug, left as it is
                raise
            raise err from exc

    def result(self, what: str, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return parse.result(self.call(what, method, params), what)

    def paged(self, what: str, method: str, params: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """Every entry of a cursor-paginated list (``nextPageCursor`` empty at the end)."""
        items: list[Mapping[str, Any]] = []
        cursors: set[str] = set()
        cursor = ""
        for _ in range(MAX_PAGES):
            query = dict(params, cursor=cursor) if cursor else dict(params)
            res = self.result(what, method, query)
            items.extend(parse.entries(res, what))
            cursor = str(res.get("nextPageCursor") or "")
            if not cursor:
                return items
            if cursor in cursors:
                raise BadResponseError(f"Bybit {what}: the page cursor {cursor!r} repeats")
            cursors.add(cursor)
        raise BadResponseError(f"Bybit {what}: more than {MAX_PAGES} pages")

    def executions(self, start_ms: int, end_ms: int) -> list[Mapping[str, Any]]:
        """Raw execution entries from ``start_ms`` to ``end_ms`` (ms), a week per query."""
        out: list[Mapping[str, Any]] = []
        lo = min(start_ms, end_ms)
        while True:
            hi = min(lo + WEEK_MS, end_ms)
            params = {"startTime": lo, "endTime": hi, "limit": 100}
            out.extend(self.paged("executions", "get_executions", params))
            if hi >= end_ms:
                return out
            lo = hi
