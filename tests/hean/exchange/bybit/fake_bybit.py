"""A Bybit V5 REST server on loopback, for pybit to talk to as it would to Bybit.

It checks every request's signature the way Bybit documents it (HMAC-SHA256 of
``timestamp + api_key + recv_window + (query string | JSON body)``, hex, in
``X-BAPI-SIGN``), keeps orders, executions and positions, answers in the shape of the
V5 docs' examples, and can be told to fail: a retCode, an HTTP status, or no answer in
time (before or after doing what was asked, so an answer can be "lost").
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

WEEK_MS = 7 * 24 * 3600 * 1000
OPEN = ("New", "PartiallyFilled")


class BybitError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    params: dict[str, Any]
    payload: str  # the query string or JSON body, as signed
    headers: dict[str, str]
    signed: bool  # the signature headers are there and the HMAC is right


@dataclass
class Failure:
    path: str
    retcode: int | None = None
    msg: str = ""
    http: int | None = None
    hang_s: float = 0.0  # no answer for this long
    after: bool = False  # do what was asked first, then fail (the answer is lost)


@dataclass
class FakeBybit:
    api_key: str
    api_secret: str
    steps: dict[str, tuple[str, str]]  # symbol -> (tickSize, qtyStep)
    orders: dict[str, dict] = field(default_factory=dict)  # by orderLinkId
    executions: list[dict] = field(default_factory=list)
    position: dict[str, Decimal] = field(default_factory=dict)  # symbol -> signed size
    last_price: dict[str, str] = field(default_factory=dict)
    fees: dict[str, tuple[str, str]] = field(default_factory=dict)  # symbol -> maker, taker
    seen: list[Seen] = field(default_factory=list)
    page_cap: int = 50  # most entries per page, whatever the request's limit
    balance_ok: bool = True

    def __post_init__(self) -> None:
        self._failures: list[Failure] = []
        self._lock = threading.RLock()  # create() fills market orders under it
        self._ids = itertools.count(1)
        self.release = threading.Event()
        fake = self

        class Handler(_Handler):
            server_state = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def fail(self, path: str, **kwargs: Any) -> None:
        """Fail the next request to ``path`` (see :class:`Failure`)."""
        self._failures.append(Failure(path, **kwargs))

    def calls(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    # --- the exchange ---------------------------------------------------------------

    def _now(self) -> int:
        return int(time.time() * 1000)

    def _check(self, symbol: str, name: str, value: str, step: int) -> Decimal:
        if symbol not in self.steps:
            raise BybitError(10001, "params error: symbol invalid")
        d = Decimal(value)
        unit = Decimal(self.steps[symbol][step])
        if d <= 0 or d % unit != 0 or "e" in value.lower():
            raise BybitError(10001, f"params error: {name} {value} is not a multiple of {unit}")
        return d

    def create(self, p: dict) -> dict:
        symbol, link = p["symbol"], p.get("orderLinkId", "")
        qty = self._check(symbol, "qty", p["qty"], 1)
        market = p["orderType"] == "Market"
        price = None if market else self._check(symbol, "price", p["price"], 0)
        if link in self.orders:
            raise BybitError(110072, "OrderLinkedID is duplicate")
        if not self.balance_ok:
            raise BybitError(110007, "ab not enough for new order")
        now = str(self._now())
        order = {
            "orderId": f"{next(self._ids):08d}-0000-4000-8000-000000000000",
            "orderLinkId": link, "blockTradeId": "", "symbol": symbol,
            "price": "0" if market else p["price"], "qty": p["qty"], "side": p["side"],
            "isLeverage": "", "positionIdx": 0, "orderStatus": "New",
            "cancelType": "UNKNOWN", "rejectReason": "EC_NoError", "avgPrice": "0",
            "leavesQty": p["qty"], "leavesValue": str(qty * (price or 0)),
            "cumExecQty": "0", "cumExecValue": "0", "cumExecFee": "0",
            "timeInForce": "IOC" if market else p.get("timeInForce", "GTC"),
            "orderType": p["orderType"], "stopOrderType": "", "orderIv": "",
            "triggerPrice": "0", "takeProfit": "", "stopLoss": "",
            "tpTriggerBy": "", "slTriggerBy": "", "triggerDirection": 0, "triggerBy": "",
            "lastPriceOnCreated": self.last_price.get(symbol, ""),
            "reduceOnly": bool(p.get("reduceOnly", False)), "closeOnTrigger": False,
            "smpType": "None", "smpGroup": 0, "smpOrderId": "", "tpslMode": "",
            "tpLimitPrice": "", "slLimitPrice": "", "placeType": "",
            "createdTime": now, "updatedTime": now,
        }  # fmt: skip
        self.orders[link] = order
        if market:
            self.fill(link, p["qty"], self.last_price[symbol], maker=False)
        return {"orderId": order["orderId"], "orderLinkId": link}

    def fill(self, link: str, qty: str, price: str, *, maker: bool = True,
             ts_ms: int | None = None) -> dict:  # fmt: skip
        """Execute ``qty`` of the open order ``link`` at ``price`` (a test's doing)."""
        with self._lock:
            o = self.orders[link]
            q, px = Decimal(qty), Decimal(price)
            left = Decimal(o["leavesQty"]) - q
            assert o["orderStatus"] in OPEN and left >= 0
            rate = Decimal("0.0002") if maker else Decimal("0.00055")
            ts = str(ts_ms if ts_ms is not None else self._now())
            e = {
                "symbol": o["symbol"], "orderType": o["orderType"], "underlyingPrice": "",
                "orderLinkId": link, "side": o["side"], "indexPrice": "",
                "orderId": o["orderId"], "stopOrderType": "UNKNOWN", "leavesQty": str(left),
                "execTime": ts, "feeCurrency": "", "isMaker": maker,
                "execFee": str(q * px * rate), "feeRate": str(rate),
                "execId": f"e{next(self._ids):07d}-5866-9415-cf319b5dab3b", "tradeIv": "",
                "blockTradeId": "", "markPrice": price, "execPrice": price, "markIv": "",
                "orderQty": o["qty"], "orderPrice": o["price"], "execValue": str(q * px),
                "execType": "Trade", "execQty": qty, "closedSize": "", "seq": next(self._ids),
            }  # fmt: skip
            self.executions.append(e)
            o["leavesQty"] = str(left)
            o["cumExecQty"] = str(Decimal(o["cumExecQty"]) + q)
            o["cumExecValue"] = str(Decimal(o["cumExecValue"]) + q * px)
            o["cumExecFee"] = str(Decimal(o["cumExecFee"]) + Decimal(e["execFee"]))
            o["orderStatus"] = "Filled" if left == 0 else "PartiallyFilled"
            o["updatedTime"] = ts
            sign = 1 if o["side"] == "Buy" else -1
            self.position[o["symbol"]] = self.position.get(o["symbol"], Decimal(0)) + sign * q
            return e

    def _open(self, link: str, verb: str) -> dict:
        o = self.orders.get(link)
        if o is None or o["orderStatus"] not in OPEN:
            raise BybitError(110001, f"order not exists or too late to {verb}")
        return o

    def amend(self, p: dict) -> dict:
        o = self._open(p.get("orderLinkId", ""), "replace")
        if "qty" in p:
            self._check(o["symbol"], "qty", p["qty"], 1)
            o["leavesQty"] = str(Decimal(p["qty"]) - Decimal(o["cumExecQty"]))
            o["qty"] = p["qty"]
        if "price" in p:
            o["price"] = str(self._check(o["symbol"], "price", p["price"], 0))
        o["updatedTime"] = str(self._now())
        return {"orderId": o["orderId"], "orderLinkId": o["orderLinkId"]}

    def cancel(self, p: dict) -> dict:
        o = self._open(p.get("orderLinkId", ""), "cancel")
        o.update(orderStatus="Cancelled", cancelType="CancelByUser", leavesQty="0")
        o["updatedTime"] = str(self._now())
        return {"orderId": o["orderId"], "orderLinkId": o["orderLinkId"]}

    def _page(self, items: list[dict], p: dict, cap: int) -> dict:
        # The cursor travels percent-encoded in the query, so it arrives decoded once.
        start = int(p["cursor"].split("=")[1].split("&")[0]) if p.get("cursor") else 0
        n = min(int(p.get("limit", 20)), cap, self.page_cap)
        nxt = f"page_args%3D{start + n}%26direction%3Dnext" if start + n < len(items) else ""
        return {"category": p["category"], "list": items[start : start + n],
                "nextPageCursor": nxt}  # fmt: skip

    def _orders(self, p: dict, statuses: tuple[str, ...] | None) -> list[dict]:
        out = [
            o for o in self.orders.values()
            if (statuses is None or o["orderStatus"] in statuses)
            and o["symbol"] == p.get("symbol", o["symbol"])
            and o["orderLinkId"] == p.get("orderLinkId", o["orderLinkId"])
            and o["symbol"].endswith(p.get("settleCoin", ""))
        ]  # fmt: skip
        return sorted(out, key=lambda o: int(o["createdTime"]), reverse=True)

    def realtime(self, p: dict) -> dict:
        if not any(k in p for k in ("symbol", "settleCoin", "baseCoin", "orderLinkId")):
            raise BybitError(10001, "params error: symbol, baseCoin or settleCoin is required")
        return self._page(self._orders(p, OPEN), p, 50)

    def history(self, p: dict) -> dict:
        return self._page(self._orders(p, None), p, 50)

    def positions(self, p: dict) -> dict:
        rows = []
        for sym in sorted(self.steps):
            size = self.position.get(sym, Decimal(0))
            if p.get("symbol", sym) != sym or (size == 0 and "symbol" not in p):
                continue
            side = "" if size == 0 else ("Buy" if size > 0 else "Sell")
            rows.append({"positionIdx": 0, "symbol": sym, "side": side, "size": str(abs(size)),
                         "avgPrice": "0", "positionValue": "0", "tradeMode": 0,
                         "positionStatus": "Normal", "leverage": "10", "markPrice": "0",
                         "createdTime": "1676538056258",
                         "updatedTime": str(self._now())})  # fmt: skip
        return self._page(rows, p, 200)

    def execution_list(self, p: dict) -> dict:
        start, end = p.get("startTime"), p.get("endTime")
        if start and end and int(end) - int(start) > WEEK_MS:
            raise BybitError(10001, "params error: endTime - startTime must be <= 7 days")
        lo = int(start) if start else (int(end) - WEEK_MS if end else self._now() - WEEK_MS)
        hi = int(end) if end else lo + WEEK_MS
        rows = [e for e in self.executions if lo <= int(e["execTime"]) <= hi
                and e["symbol"] == p.get("symbol", e["symbol"])]  # fmt: skip
        rows.sort(key=lambda e: int(e["execTime"]), reverse=True)
        return self._page(rows, p, 100)

    def fee_rate(self, p: dict) -> dict:
        maker, taker = self.fees.get(p["symbol"], ("0.0002", "0.00055"))
        return {"list": [{"symbol": p["symbol"], "takerFeeRate": taker, "makerFeeRate": maker}]}

    ROUTES: ClassVar[dict[tuple[str, str], Any]] = {
        ("POST", "/v5/order/create"): create,
        ("POST", "/v5/order/amend"): amend,
        ("POST", "/v5/order/cancel"): cancel,
        ("GET", "/v5/order/realtime"): realtime,
        ("GET", "/v5/order/history"): history,
        ("GET", "/v5/position/list"): positions,
        ("GET", "/v5/execution/list"): execution_list,
        ("GET", "/v5/account/fee-rate"): fee_rate,
    }

    def serve(self, method: str, path: str, payload: str, headers: dict[str, str]) -> tuple:
        """(HTTP status, body, hang seconds) for one request."""
        params = json.loads(payload) if method == "POST" else dict(parse_qsl(payload))
        ts, sign = headers.get("X-BAPI-TIMESTAMP", ""), headers.get("X-BAPI-SIGN", "")
        recv = headers.get("X-BAPI-RECV-WINDOW", "")
        want = hmac.new(self.api_secret.encode(), f"{ts}{self.api_key}{recv}{payload}".encode(),
                        hashlib.sha256).hexdigest()  # fmt: skip
        key_ok = headers.get("X-BAPI-API-KEY") == self.api_key
        signed = key_ok and bool(ts and recv) and hmac.compare_digest(sign, want)
        with self._lock:
            self.seen.append(Seen(method, path, params, payload, headers, signed))
            failure = next((f for f in self._failures if f.path == path), None)
            if failure is not None:
                self._failures.remove(failure)
        if failure is not None and not failure.after:
            return self._failed(failure)
        try:
            if not key_ok:
                raise BybitError(10003, "API key is invalid.")
            if not signed:
                raise BybitError(10004, "error sign! origin_string[...]")
            if abs(self._now() - int(ts)) > int(recv):
                raise BybitError(10002, "invalid request, please check your server timestamp")
            route = self.ROUTES.get((method, path))
            if route is None:
                return 404, "Not Found", 0.0
            with self._lock:
                result = route(self, params)
            body = {"retCode": 0, "retMsg": "OK", "result": result}
        except BybitError as e:
            body = {"retCode": e.code, "retMsg": e.msg, "result": {}}
        if failure is not None:
            return self._failed(failure)
        return 200, json.dumps({**body, "retExtInfo": {}, "time": self._now()}), 0.0

    def _failed(self, f: Failure) -> tuple:
        if f.hang_s:
            return 200, json.dumps({"retCode": 0, "retMsg": "OK", "result": {}}), f.hang_s
        if f.http is not None:
            return f.http, "<html><body>Internal Server Error</body></html>", 0.0
        body = {"retCode": f.retcode, "retMsg": f.msg, "result": {}, "retExtInfo": {},
                "time": self._now()}  # fmt: skip
        return 200, json.dumps(body), 0.0


class _Handler(BaseHTTPRequestHandler):
    server_state: FakeBybit
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each small write waits on a delayed ACK (40 ms)

    def log_message(self, *args: Any) -> None:  # quiet: pytest shows failures anyway
        pass

    def _answer(self, method: str) -> None:
        url = urlsplit(self.path)
        if method == "POST":
            payload = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        else:
            payload = url.query
        headers = {k.upper(): v for k, v in self.headers.items()}
        status, body, hang = self.server_state.serve(method, url.path, payload, headers)
        if hang and self.server_state.release.wait(hang):
            return  # the test is over: no answer at all
        data = body.encode()
        try:
            self.send_response(status)
            ctype = "application/json" if body.startswith("{") else "text/html"
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up waiting
            pass

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")
