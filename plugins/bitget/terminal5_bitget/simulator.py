"""A Bitget V2 simulator on 127.0.0.1 (aiohttp): the REST endpoints this plugin uses, with Bitget's field
names, envelope (``{"code": "00000", "msg": "success", "requestTime", "data"}``), error codes and HTTP
statuses, and signatures verified exactly as documented (base64 HMAC-SHA256 of timestamp + METHOD + path
(+ ``?`` + the raw query) + the raw body; key, passphrase and timestamp checked).

State lives in :mod:`terminal5_bitget.simulator_state`; this module is only the HTTP side. Run it::

    python -m terminal5_bitget.simulator --port 8610 --account KEY:SECRET:PASSPHRASE --max-seconds 3600

It stops by itself after ``--max-seconds`` (an hour by default) and never binds anything but loopback.
Point a broker at it with ``base_url`` (one URL serves spot and mix). ``GET /_sim/records`` reports every
placement (with the key that signed it) and every refusal; ``POST /_sim/faults`` sets one-shot faults.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from terminal5 import jsonutil
from terminal5_bitget import constants as c
from terminal5_bitget.simulator_state import Account, SimError, SimState

LOOPBACK = "127.0.0.1"
DEFAULT_MAX_SECONDS = 3600.0
Handler = Callable[[Account | None, dict[str, Any]], Awaitable[Any] | Any]


def envelope(data: Any, now_ms: int) -> dict[str, Any]:
    return {"code": c.SUCCESS, "msg": "success", "requestTime": now_ms, "data": data}


def respond(body: Mapping[str, Any], status: int = 200) -> web.Response:
    return web.Response(status=status, text=jsonutil.dumps(body), content_type="application/json")


class BitgetSimulator:
    """The aiohttp app over a ``SimState``; an async context manager serving on a free loopback port."""

    def __init__(self, state: SimState | None = None, *, accounts: Iterable[tuple[str, str, str]] = (),
                 check_timestamp: bool = False) -> None:
        self.state = state or SimState(accounts)
        #: off by default: tests run on fake clocks; the CLI turns it on
        self.check_timestamp = check_timestamp
        self._closing = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner: web.AppRunner | None = None
        self.url = ""
        st = self.state
        self.routes: dict[tuple[str, str], tuple[bool, Handler]] = {
            ("GET", c.SERVER_TIME): (False, lambda a, p: {"serverTime": str(st.now_ms)}),
            ("GET", c.Spot.symbols): (False, self._spot_symbols),
            ("GET", c.Mix.contracts): (False, self._contracts),
            ("POST", c.Spot.place): (True, self._spot_place),
            ("POST", c.Spot.cancel): (True, lambda a, p: st.spot_cancel(a, p)),
            ("GET", c.Spot.order_info): (True, self._spot_info),
            ("GET", c.Spot.unfilled): (True, self._spot_unfilled),
            ("GET", c.Spot.history): (True, self._spot_history),
            ("GET", c.Spot.fills): (True, self._spot_fills),
            ("POST", c.Spot.place_plan): (True, self._spot_plan_place),
            ("GET", c.Spot.current_plan): (True, lambda a, p: self._plans(a, p, mix=False, live=True)),
            ("GET", c.Spot.history_plan): (True, lambda a, p: self._plans(a, p, mix=False, live=False)),
            ("POST", c.Spot.cancel_plan): (True, lambda a, p: st.plan_cancel(a, [p], mix=False)[0]),
            ("GET", c.Spot.assets): (True, lambda a, p: st.spot_assets(a, p.get("coin"))),
            ("POST", c.Mix.place): (True, self._mix_place),
            ("POST", c.Mix.cancel): (True, lambda a, p: st.mix_cancel(a, p)),
            ("POST", c.Mix.modify): (True, lambda a, p: st.mix_modify(a, p)),
            ("GET", c.Mix.detail): (True, self._mix_detail),
            ("GET", c.Mix.pending): (True, lambda a, p: self._mix_list(a, p, live=True)),
            ("GET", c.Mix.history): (True, lambda a, p: self._mix_list(a, p, live=False)),
            ("GET", c.Mix.fills): (True, self._mix_fills),
            ("POST", c.Mix.place_plan): (True, self._mix_plan_place),
            ("GET", c.Mix.pending_plan): (True, lambda a, p: self._plans(a, p, mix=True, live=True)),
            ("GET", c.Mix.history_plan): (True, lambda a, p: self._plans(a, p, mix=True, live=False)),
            ("POST", c.Mix.cancel_plan): (True, self._mix_plan_cancel),
            ("GET", c.Mix.accounts): (True, lambda a, p: st.mix_accounts(a, str(p.get("productType", "")).upper())),
            ("GET", c.Mix.account): (True, self._mix_account),
            ("GET", c.Mix.positions): (True, lambda a, p: st.mix_positions(a, str(p.get("productType", "")).upper())),
        }

    # --- lifecycle -----------------------------------------------------------------------------------------
    async def start(self, port: int = 0) -> str:
        self.runner = web.AppRunner(self.app, shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, LOOPBACK, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{LOOPBACK}:{bound}"
        return self.url

    async def stop(self) -> None:
        self._closing.set()  # releases any late answer still waiting
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def __aenter__(self) -> BitgetSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- auth ------------------------------------------------------------------------------------------------
    def _authenticate(self, request: web.Request, body: str) -> Account:
        key = request.headers.get(c.KEY_HEADER)
        if not key:
            raise SimError("40001", "ACCESS_KEY cannot be empty")
        sign = request.headers.get(c.SIGN_HEADER)
        if not sign:
            raise SimError("40003", "Signature cannot be empty")
        timestamp = request.headers.get(c.TIMESTAMP_HEADER, "")
        if not timestamp.isdigit():
            raise SimError("40005", "Invalid ACCESS_TIMESTAMP")
        passphrase = request.headers.get(c.PASSPHRASE_HEADER)
        if not passphrase:
            raise SimError("40011", "ACCESS_PASSPHRASE cannot be empty")
        account = self.state.accounts.get(key)
        if account is None:
            raise SimError("40006", "Invalid ACCESS_KEY")
        if not hmac.compare_digest(passphrase, account.passphrase):
            raise SimError("40012", "apikey/password is incorrect")
        query = request.rel_url.raw_query_string
        prehash = f"{timestamp}{request.method}{request.rel_url.raw_path}{'?' + query if query else ''}{body}"
        digest = hmac.new(account.secret.encode(), prehash.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(sign, base64.b64encode(digest).decode()):
            raise SimError("40009", "sign signature error")
        if self.state.faults.expire_timestamp_once or (
            self.check_timestamp and abs(int(timestamp) - self.state.now_ms) > c.TIMESTAMP_TOLERANCE_MS
        ):
            self.state.faults.expire_timestamp_once = False
            raise SimError("40008", "Request timestamp expired")
        return account

    # --- dispatch --------------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        st = self.state
        demo = request.headers.get(c.DEMO_HEADER) == c.DEMO_HEADER_VALUE
        st.requests.append((request.method, request.path, demo))
        if request.path.startswith("/_sim/"):
            return await self._control(request)
        route = self.routes.get((request.method, request.path))
        if route is None:
            return respond({"code": "40404", "msg": "Request URL NOT FOUND", "requestTime": st.now_ms, "data": None},
                           404)
        signed, handler = route
        body = await request.text() if request.method == "POST" else ""
        try:
            params: dict[str, Any] = dict(parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True))
            if body:
                try:
                    params.update(jsonutil.loads(body))
                except ValueError:
                    raise SimError("40017", "Parameter verification failed: body is not JSON") from None
            account = self._authenticate(request, body) if signed else None
            result = handler(account, params)
            data = await result if asyncio.iscoroutine(result) else result
        except SimError as exc:
            st.rejections.append((request.path, exc.code))
            return respond({"code": exc.code, "msg": exc.msg, "requestTime": st.now_ms, "data": None}, exc.status)
        answer = respond(envelope(data, st.now_ms))
        if request.path in (c.Spot.place, c.Mix.place, c.Spot.place_plan, c.Mix.place_plan) \
                and st.faults.late_once is not None:
            delay, st.faults.late_once = st.faults.late_once, None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay)
        return answer

    async def _control(self, request: web.Request) -> web.Response:
        st = self.state
        if request.path == "/_sim/records":
            return respond({"placements": [{"key": k, "path": p, "params": v} for k, p, v in st.placements],
                            "rejections": [{"path": p, "code": code} for p, code in st.rejections]})
        if request.path == "/_sim/faults" and request.method == "POST":
            for name, value in jsonutil.loads(await request.text()).items():
                if not hasattr(st.faults, name):
                    return respond({"error": f"unknown fault {name}"}, 400)
                if isinstance(value, Decimal):  # a delay in seconds, not money: asyncio wants a float
                    value = float(value)
                setattr(st.faults, name, value)
            return respond({"ok": True})
        return respond({"error": "unknown control route"}, 404)

    # --- handlers ---------------------------------------------------------------------------------------------
    def _spot_symbols(self, account: Account | None, p: Mapping[str, Any]) -> Any:
        symbol = p.get("symbol")
        return [m for m in self.state.spot_symbols if symbol in (None, m["symbol"])]

    def _contracts(self, account: Account | None, p: Mapping[str, Any]) -> Any:
        product = str(p.get("productType", "")).upper()
        if product not in self.state.contracts:
            raise SimError("40020", "Parameter productType error")
        return [m for m in self.state.contracts[product] if p.get("symbol") in (None, m["symbol"])]

    def _with_status_fault(self, account: Account, answer: Mapping[str, str], *, key: str) -> Mapping[str, str]:
        if self.state.faults.status_once is not None:
            status, self.state.faults.status_once = self.state.faults.status_once, None
            target = account.orders.get(answer["orderId"]) or account.plans.get(answer["orderId"])
            if target is not None:
                target[key] = status
        return answer

    def _spot_place(self, account: Account | None, p: dict[str, Any]) -> Any:
        assert account is not None
        return self._with_status_fault(account, self.state.spot_place(account, p, c.Spot.place), key="status")

    def _spot_plan_place(self, account: Account | None, p: dict[str, Any]) -> Any:
        assert account is not None
        return self._with_status_fault(account, self.state.spot_plan_place(account, p, c.Spot.place_plan),
                                       key="status")

    def _mix_place(self, account: Account | None, p: dict[str, Any]) -> Any:
        assert account is not None
        return self._with_status_fault(account, self.state.mix_place(account, p, c.Mix.place), key="state")

    def _mix_plan_place(self, account: Account | None, p: dict[str, Any]) -> Any:
        assert account is not None
        return self._with_status_fault(account, self.state.mix_plan_place(account, p, c.Mix.place_plan),
                                       key="planStatus")

    def _lookup_fault(self) -> None:
        if self.state.faults.failing_lookups > 0:
            self.state.faults.failing_lookups -= 1
            raise SimError("50001", "Internal error", 500)

    def _spot_info(self, account: Account | None, p: Mapping[str, Any]) -> Any:
        assert account is not None
        self._lookup_fault()
        if not p.get("orderId") and not p.get("clientOid"):
            raise SimError("40019", "Parameter orderId or clientOid cannot be empty")
        order = self.state.spot_find(account, p)
        return [self.state.public(order)] if order is not None else []

    def _spot_orders(self, account: Account, p: Mapping[str, Any], live: bool) -> list[Any]:
        symbol = p.get("symbol")
        return [self.state.public(o) for o in account.orders.values()
                if "status" in o and symbol in (None, o["symbol"])
                and (o["status"] in ("live", "new", "partially_filled", "init")) is live]

    def _spot_unfilled(self, account: Account | None, p: Mapping[str, Any]) -> Any:
        assert account is not None
        return self._spot_orders(account, p, True)

    def _spot_history(self, account: Account | None, p: Mapping[str, Any]) -> Any:
        assert account is not None
        return self._spot_orders(account, p, False)

    def _spot_fills(self, account: Account | None, p: Mapping[str, Any]) -> Any:
        assert account is not None
        return [f for f in account.fills if "_product" not in f and p.get("symbol") in (None, f["symbol"])]

    def _plans(self, account: Account | None, p: Mapping[str, Any], *, mix: bool, live: bool) -> Any:
        assert account is not None
        key = "planStatus" if mix else "status"
        product = str(p.get("productType", "")).upper()
        items = [self.state.public(plan) for plan in account.plans.values()
                 if key in plan and p.get("symbol") in (None, plan["symbol"])
                 and (not mix or plan.get("_product") == product) and (plan[key] == "live") is live]
        return {"entrustedList": items or None, "endId": None} if mix else {"nextFlag": False, "idLessThan": "",
                                                                             "orderList": items}

    def _mix_detail(self, account: Account | None, p: Mapping[str, Any]) -> Any:
        assert account is not None
        self._lookup_fault()
        self.state._contract(p)
        order = self.state.mix_find(account, p)
        if order is None:
            raise SimError("40768", "Order does not exist")
        return self.state.public(order)

    def _mix_list(self, account: Account | None, p: Mapping[str, Any], *, live: bool) -> Any:
        assert account is not None
        product = str(p.get("productType", "")).upper()
        items = []
        for order in account.orders.values():
            if order.get("_product") != product or p.get("symbol") not in (None, order["symbol"]):
                continue
            if (order["state"] in ("live", "partially_filled")) is not live:
                continue
            view = self.state.public(order)
            view["status"] = view.pop("state")  # list answers carry ``status``; detail carries ``state``
            items.append(view)
        return {"entrustedList": items or None, "endId": items[-1]["orderId"] if items else None}

    def _mix_fills(self, account: Account | None, p: Mapping[str, Any]) -> Any:
        assert account is not None
        product = str(p.get("productType", "")).upper()
        items = [self.state.public(f) for f in account.fills
                 if f.get("_product") == product and p.get("symbol") in (None, f["symbol"])]
        return {"fillList": items, "endId": items[-1]["tradeId"] if items else None}

    def _mix_plan_cancel(self, account: Account | None, p: Mapping[str, Any]) -> Any:
        assert account is not None
        done = self.state.plan_cancel(account, p.get("orderIdList") or [p], mix=True)
        return {"successList": done, "failureList": []}

    def _mix_account(self, account: Account | None, p: Mapping[str, Any]) -> Any:
        assert account is not None
        self.state._contract(p)
        return self.state.mix_account(account, str(p.get("marginCoin", "")).upper())


# --- running it -------------------------------------------------------------------------------------------------


def parse_account(text: str) -> tuple[str, str, str]:
    key, _, rest = text.partition(":")
    secret, _, passphrase = rest.partition(":")
    if not (key and secret and passphrase):
        raise ValueError(f"an account is KEY:SECRET:PASSPHRASE, got {text!r}")
    return key, secret, passphrase


async def serve(port: int, accounts: Iterable[tuple[str, str, str]], max_seconds: float = DEFAULT_MAX_SECONDS,
                on_start: Callable[[str], None] | None = None, stop: asyncio.Event | None = None) -> int:
    """Serve until ``max_seconds`` have passed (or ``stop`` is set); returns the number of requests served."""
    sim = BitgetSimulator(accounts=accounts, check_timestamp=False)
    url = await sim.start(port)
    if on_start is not None:
        on_start(url)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for((stop or asyncio.Event()).wait(), max_seconds)
    finally:
        await sim.stop()
    return len(sim.state.requests)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m terminal5_bitget.simulator", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="loopback port (0: any free one)")
    parser.add_argument("--account", action="append", default=[], metavar="KEY:SECRET:PASSPHRASE")
    parser.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS)
    args = parser.parse_args(argv)
    try:
        accounts = [parse_account(a) for a in args.account] or [("demo-key", "demo-secret", "demo-pass")]
    except ValueError as exc:
        parser.error(str(exc))

    def started(url: str) -> None:
        print(json.dumps({"url": url, "max_seconds": args.max_seconds, "accounts": [a[0] for a in accounts]}),
              flush=True)

    async def run() -> int:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):  # stop cleanly, like the time limit does
            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        return await serve(args.port, accounts, args.max_seconds, started, stop)

    served = asyncio.run(run())
    print(f"simulator stopped after {served} request(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
