"""The fake-exchange base every simulator grows from: one aiohttp server on loopback, bounded in time and
in requests, with accounts, wallets, a records log, fault knobs and a small control route.

A simulator subclasses ``FakeExchange``, declares its native routes in ``routes()`` and implements
``authenticate`` (its signature check, answered with its own error) and its error envelopes. The base
gives it:

* **lifecycle**: ``async with Sim(accounts) as sim: sim.url`` binds 127.0.0.1 (or ::1) only, on ``port``
  (0 = any free one), and stops by itself after ``max_seconds`` or ``max_requests``; answers held back
  by a fault are released when it stops, so shutting down never waits for them;
* **accounts and wallets**: ``Account(api_key, api_secret, extra, balances)``; ``wallet(key)`` holds free
  and locked amounts: ``reserve`` when an order rests, ``settle_buy``/``settle_sell`` when it fills,
  ``release`` when it is cancelled;
* **a book**: ``Resting`` orders with the generic state (side, quantity, price, filled, reservation);
  each simulator keeps its native payloads beside it and renders them its own way;
* **records** (``GET /_sim/records``): every order accepted, keyed by native client id, with the API key
  that signed it; every refused or duplicate attempt; request counts per endpoint and per role
  (``place``, ``lookup``, ``cancel``, ``other``);
* **faults** per endpoint (a name, ``*``, or a role like ``@place``), set at start (``faults=``) or at
  run time (``POST /_sim/faults``): added latency, timeouts, 5xx with a JSON or an HTML body, 429/418
  storms with ``Retry-After``, "accept the order then drop the connection unanswered", lookups answered
  "not found", unknown statuses; one-shot (``times=1``), ``times=N`` or unlimited (``times=None``), and
  probabilistic with a seeded generator (``seed=``);
* **control**: ``POST /_sim/fill`` (partial fills on demand), ``POST /_sim/price`` (the price market
  orders fill at), ``GET /_sim/health``.

It proves the gateway's behaviour, not the exchange's: the wire format's evidence stays the cassettes.

Layout: accounts and wallets live in ``fake_wallets``, fault rules and records in ``fake_faults``, the
control route in ``fake_control``; this module (a little over 400 lines, on purpose) keeps the one class a
simulator subclasses whole: lifecycle, dispatch with its fault hooks, and the entry points to the rest.

Longer than ~400 lines on purpose: the server's lifecycle, routing and fault application form one request
path that a simulator author reads top to bottom; wallets, faults and the control route already live in
``fake_wallets``, ``fake_faults`` and ``fake_control``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

import attrs
from aiohttp import web

from terminal5 import jsonutil
from terminal5.testing.fake_control import control
from terminal5.testing.fake_faults import FAULT_KINDS, Accepted, FaultRule, Refused
from terminal5.testing.fake_wallets import Account, Resting, Wallet, accounts_from, load_accounts

__all__ = ["FAULT_KINDS", "Accepted", "Account", "Call", "FakeExchange", "FaultRule", "Refused", "Resting", "Route",
           "Wallet", "accounts_from", "json_body", "load_accounts"]

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
#: a runaway client stops here instead of looping forever
MAX_REQUESTS = 500_000
#: a simulator nobody stops ends by itself after this long
DEFAULT_MAX_SECONDS = 3600.0
#: how long a ``timeout`` fault holds its answer unless told otherwise (released early on stop)
DEFAULT_HOLD_SECONDS = 30.0
CONTROL_PREFIX = "/_sim/"
ROLES = ("place", "lookup", "cancel", "other")

Handler = Callable[["Call"], Awaitable[web.StreamResponse]]


@attrs.define
class Route:
    method: str
    path: str
    handler: Handler
    endpoint: str
    role: str = "other"
    private: bool = True


@attrs.define
class Call:
    """One request as a route handler sees it."""

    request: web.Request
    route: Route
    body: str
    params: dict[str, str]
    account: Account | None = None
    #: set by an ``unknown_status`` fault: report this native status for the order accepted now
    status_override: str | None = None

    @property
    def api_key(self) -> str:
        return self.account.api_key if self.account else ""


# --- the server ---------------------------------------------------------------------------------------


class FakeExchange:
    """Subclass: set ``name``, implement ``routes``, ``authenticate``, ``error_response`` (and optionally
    ``not_found_response``, ``rate_limit_response``, ``client_id_of``, ``fill``)."""

    name: ClassVar[str] = "fake"
    #: opening balances of an account that brings none
    default_balances: ClassVar[Mapping[str, str]] = {}
    #: the price market orders fill at when none was set for the symbol
    default_price: ClassVar[Decimal] = Decimal("30000")

    def __init__(
        self,
        accounts: Iterable[Account] | Mapping[str, str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        max_requests: int = MAX_REQUESTS,
        faults: Iterable[FaultRule | Mapping[str, Any]] = (),
        seed: int | None = None,
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"a simulator binds only to loopback ({', '.join(LOOPBACK_HOSTS)}), not {host!r}")
        self.host, self.port = host, port
        self.max_seconds, self.max_requests = max_seconds, max_requests
        self.accounts: dict[str, Account] = {}
        self.wallets: dict[str, Wallet] = {}
        for account in accounts_from(accounts):
            self.add_account(account)
        self.faults: list[FaultRule] = []
        for fault in faults:
            self.add_fault(fault)
        self.random = random.Random(seed)
        self.prices: dict[str, Decimal] = {}
        self.book: dict[Any, Resting] = {}
        self.accepted: dict[str, list[Accepted]] = {}
        self.refused: list[Refused] = []
        self.endpoint_counts: Counter[str] = Counter()
        self.role_counts: Counter[str] = Counter()
        self.request_count = 0
        self.started_at = 0.0
        self.stopped = asyncio.Event()
        self._closing = asyncio.Event()
        self._routes: dict[tuple[str, str], Route] = {}
        self._runner: web.AppRunner | None = None
        self._deadline: asyncio.TimerHandle | None = None
        for route in self.routes():
            self._routes[(route.method, route.path)] = route

    # --- what a simulator provides -----------------------------------------------------------------
    def routes(self) -> Sequence[Route]:
        return ()

    async def authenticate(self, call: Call) -> Account | web.StreamResponse:
        """The exchange's signature check: the account that signed ``call``, or the exchange's refusal."""
        raise NotImplementedError

    def error_response(self, status: int, code: str, message: str) -> web.StreamResponse:
        """The exchange's error envelope."""
        return web.json_response({"code": code, "msg": message}, status=status)

    def not_found_response(self, call: Call) -> web.StreamResponse:
        return self.error_response(404, "NOT_FOUND", "order does not exist")

    def rate_limit_response(self, call: Call, status: int, retry_after: float | None) -> web.StreamResponse:
        response = self.error_response(status, "RATE_LIMIT", "too many requests")
        if retry_after is not None:
            response.headers["Retry-After"] = f"{retry_after:g}"
        return response

    def server_error_response(self, call: Call, status: int) -> web.StreamResponse:
        return self.error_response(status, "SERVER_ERROR", "injected server error; execution status unknown")

    def presented_key(self, request: web.Request) -> str:
        """The API key a request presents (recorded with a refused placement, even when unknown)."""
        return ""

    def client_id_of(self, call: Call) -> str | None:
        """The native client id an order placement carries (for the refusal records)."""
        return None

    def fill(self, order_id: Any, quantity: Decimal, price: Decimal) -> None:
        raise NotImplementedError(f"{self.name} does not fill on demand")

    # --- accounts, wallets, prices ----------------------------------------------------------------------
    def demo_account(self) -> Account:
        """A fresh random account in the exchange's key format (used when none was given)."""
        return Account(api_key=f"sim-{secrets.token_hex(8)}", api_secret=secrets.token_urlsafe(24))

    def ensure_account(self) -> None:
        if not self.accounts:
            self.add_account(self.demo_account())

    def add_account(self, account: Account) -> None:
        self.accounts[account.api_key] = account
        opening = account.balances if account.balances is not None else {
            a: Decimal(v) for a, v in self.default_balances.items()
        }
        self.wallets[account.api_key] = Wallet(free=dict(opening))

    def wallet(self, api_key: str) -> Wallet:
        return self.wallets.setdefault(api_key, Wallet(free={a: Decimal(v) for a, v in self.default_balances.items()}))

    def price_of(self, symbol: str) -> Decimal:
        return self.prices.get(symbol, self.default_price)

    def reserve_order(self, resting: Resting, *, base: str, quote: str, price: Decimal) -> bool:
        """Reserve what ``resting`` may spend: a buy locks quote at ``price``, a sell locks base."""
        return self.wallet(resting.api_key).hold_for(resting, base=base, quote=quote, price=price)

    def settle_fill(self, resting: Resting, quantity: Decimal, price: Decimal, *, base: str, quote: str,
                    fee: Decimal = Decimal(0)) -> None:
        """Move the wallet for a fill of ``quantity`` at ``price`` (``fee`` in the quote asset)."""
        self.wallet(resting.api_key).settle(resting, quantity, price, base=base, quote=quote, fee=fee)

    def release_order(self, resting: Resting) -> None:
        """The order left the book (cancelled, expired, filled): what it still holds comes back."""
        self.wallet(resting.api_key).release_for(resting)

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    # --- records ---------------------------------------------------------------------------------------
    def accept(self, call: Call, client_id: str | None, order_id: Any) -> None:
        self.accepted.setdefault(str(client_id), []).append(
            Accepted(order_id=str(order_id), api_key=call.api_key, endpoint=call.route.endpoint, at_ms=self.now_ms())
        )

    def refuse(self, call: Call, status: int, code: str, message: str, *, duplicate: bool = False) -> web.StreamResponse:
        """Answer the exchange's error; when ``call`` places an order, record the refused attempt."""
        if call.route.role == "place":
            self.refused.append(Refused(endpoint=call.route.endpoint, api_key=call.api_key,
                                        client_id=self.client_id_of(call), code=str(code), reason=message,
                                        duplicate=duplicate))
        return self.error_response(status, code, message)

    def placements(self, client_id: str) -> int:
        return len(self.accepted.get(str(client_id), ()))

    def signed_by(self) -> dict[str, str]:
        """native client id -> the API key that signed its (last) accepted placement."""
        return {cid: items[-1].api_key for cid, items in self.accepted.items()}

    def records(self) -> dict[str, Any]:
        return {
            "exchange": self.name,
            "requests": self.request_count,
            "accepted": {cid: [attrs.asdict(a) for a in items] for cid, items in self.accepted.items()},
            "refused": [attrs.asdict(r) for r in self.refused],
            "endpoints": dict(self.endpoint_counts),
            "roles": {role: self.role_counts.get(role, 0) for role in ROLES},
        }

    # --- faults ----------------------------------------------------------------------------------------
    def add_fault(self, fault: FaultRule | Mapping[str, Any]) -> FaultRule:
        rule = fault if isinstance(fault, FaultRule) else FaultRule.from_dict(fault)
        self.faults.append(rule)
        return rule

    def clear_faults(self) -> None:
        self.faults.clear()

    def _matches(self, rule: FaultRule, route: Route) -> bool:
        if rule.endpoint == "*":
            return True
        if rule.endpoint.startswith("@"):
            return rule.endpoint[1:] == route.role
        return rule.endpoint == route.endpoint

    def _take_fault(self, route: Route) -> FaultRule | None:
        for rule in list(self.faults):
            if not self._matches(rule, route):
                continue
            if rule.probability < 1.0 and self.random.random() >= rule.probability:
                continue
            rule.hits += 1
            if rule.times is not None and rule.hits >= rule.times:
                self.faults.remove(rule)
            return rule
        return None

    async def hold(self, seconds: float) -> None:
        """Wait ``seconds``, or less when the simulator stops (a held answer never delays a shutdown)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    async def _fault_before(self, rule: FaultRule, call: Call) -> web.StreamResponse | None:
        if rule.kind == "latency":
            await self.hold(rule.delay)
            return None
        if rule.kind == "rate_limit":
            return self._refused_by_fault(call, rule, self.rate_limit_response(call, rule.status, rule.retry_after))
        if rule.kind == "error":
            return self._refused_by_fault(call, rule, self._error_page(call, rule))
        if rule.kind == "not_found":
            return self.not_found_response(call)
        if rule.kind == "timeout":
            await self.hold(rule.delay or DEFAULT_HOLD_SECONDS)
            return self._refused_by_fault(call, rule, self.server_error_response(call, 504))
        if rule.kind == "drop":
            self._refused_by_fault(call, rule, None)
            return self._drop(call)
        return None

    async def _fault_after(self, rule: FaultRule, call: Call, response: web.StreamResponse) -> web.StreamResponse:
        if rule.kind == "timeout":
            await self.hold(rule.delay or DEFAULT_HOLD_SECONDS)
            return response
        if rule.kind == "drop":
            return self._drop(call)
        if rule.kind == "error":
            return self._error_page(call, rule)
        if rule.kind == "rate_limit":
            return self.rate_limit_response(call, rule.status, rule.retry_after)
        return response

    def _refused_by_fault(self, call: Call, rule: FaultRule, response: web.StreamResponse | None) -> Any:
        if call.route.role == "place":
            self.refused.append(Refused(endpoint=call.route.endpoint, api_key=call.api_key,
                                        client_id=self.client_id_of(call), code=f"fault:{rule.kind}",
                                        reason=f"injected {rule.kind} before accepting"))
        return response

    def _error_page(self, call: Call, rule: FaultRule) -> web.StreamResponse:
        if rule.body == "html":
            page = f"<html><head><title>{rule.status}</title></head><body><h1>{rule.status} Server Error</h1></body></html>"
            return web.Response(status=rule.status, text=page, content_type="text/html")
        return self.server_error_response(call, rule.status)

    @staticmethod
    def _drop(call: Call) -> web.StreamResponse:
        if call.request.transport is not None:
            call.request.transport.close()
        return web.Response(status=500)  # never reaches the client: the connection is gone

    # --- dispatch ---------------------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.request_count += 1
        if self.request_count > self.max_requests:
            return self.error_response(503, "OVERLOAD", "request budget of this simulator exhausted")
        if request.path.startswith(CONTROL_PREFIX):
            return await self._control(request)
        route = self._routes.get((request.method, request.path))
        if route is None:
            return self.error_response(404, "NO_ROUTE", f"no route {request.method} {request.path}")
        body = await request.text()
        call = Call(request=request, route=route, body=body, params=self.parse_params(request, body))
        self.endpoint_counts[route.endpoint] += 1
        self.role_counts[route.role] += 1
        if route.private:
            signed = await self.authenticate(call)
            if not isinstance(signed, Account):
                if route.role == "place":
                    self.refused.append(Refused(endpoint=route.endpoint, api_key=self.presented_key(request),
                                                client_id=self.client_id_of(call), code="auth", reason="refused"))
                return signed
            call.account = signed
        rule = self._take_fault(route)
        if rule is not None and rule.kind == "unknown_status":
            call.status_override = rule.value or "SOMETHING_NEW"
            rule = None
        if rule is not None and not rule.after:
            refused = await self._fault_before(rule, call)
            if refused is not None:
                return refused
        response = await route.handler(call)
        if rule is not None and rule.after:
            return await self._fault_after(rule, call, response)
        return response

    def parse_params(self, request: web.Request, body: str) -> dict[str, str]:
        """Query string and form body merged (the query string wins, as on most exchanges)."""
        from urllib.parse import parse_qsl

        params: dict[str, str] = {}
        content_type = request.headers.get("Content-Type", "")
        if body and "json" not in content_type and not body.lstrip().startswith(("{", "[")):
            params.update(parse_qsl(body, keep_blank_values=True))
        params.update(parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True))
        return params

    async def _control(self, request: web.Request) -> web.StreamResponse:
        return await control(self, request, request.path[len(CONTROL_PREFIX):])

    def order_id_from(self, value: Any) -> Any:
        """The book's key for an order id given over the control route (as text)."""
        return value

    # --- lifecycle -------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=1024**2)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.started_at = time.monotonic()
        self._deadline = asyncio.get_running_loop().call_later(self.max_seconds, self._expire)

    def _expire(self) -> None:
        asyncio.get_running_loop().create_task(self.stop())

    async def stop(self) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        self._closing.set()  # held answers end now
        if self._deadline is not None:
            self._deadline.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeExchange:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def serve(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set or the lifetime ends (whichever first)."""
        await self.start()
        try:
            waiters = [asyncio.ensure_future(self.stopped.wait())]
            if stop is not None:
                waiters.append(asyncio.ensure_future(stop.wait()))
            _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
        finally:
            await self.stop()


def json_body(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON answer serialised by the core's encoder (Decimals as JSON numbers, never floats)."""
    return web.Response(status=status, text=jsonutil.dumps(data), content_type="application/json",
                        headers=dict(headers or {}))
