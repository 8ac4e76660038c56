"""A trading process for the crash test (run as a script): ``live_child.py URL DB``.

It trades market orders of one lot against the loopback Bybit at URL through the real
stack (pybit's HTTP, :class:`BybitExchange`, :class:`Router`, :class:`Journal`) until
it is killed, printing each link id (flushed) once the router has placed it. With
``resume`` as a third argument it first reconciles and takes its open orders back,
then trades ``N`` (fourth argument) more orders and exits.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from pybit.unified_trading import HTTP

from hean.domain import OrderRequest, Side
from hean.exchange.bybit import BybitExchange
from hean.execution.journal import Journal, LinkIds
from hean.execution.reconcile import reconcile
from hean.execution.router import Router
from tests.hean.exchange.bybit.conftest import INSTRUMENTS, KEY, SECRET


def main(url: str, db: str, mode: str = "run", more: str = "0") -> None:
    session = HTTP(testnet=True, api_key=KEY, api_secret=SECRET, timeout=5)
    session.endpoint = url
    exchange = BybitExchange(INSTRUMENTS, session=session)
    journal = Journal(db)
    router = Router(exchange, journal)
    if mode == "resume":
        for line in reconcile(journal, exchange).lines():
            print("reconcile:", line, flush=True)
        router.resume()
    ids = LinkIds(journal, block=8)
    count = int(more) if mode == "resume" else 10_000
    for k in range(count):
        side = Side.BUY if k % 3 else Side.SELL
        request = OrderRequest(time.time_ns(), k % 2, side, 1, None, "crash", ids("crash", k % 2))
        router.submit(request)
        print(request.link_id, flush=True)
        router.pump()
    router.pump()
    journal.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
