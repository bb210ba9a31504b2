"""A native Bitget V2 REST on 127.0.0.1, for ``terminal5 simulate --exchange bitget``, the plugin's tests
and the checklist. Built on ``terminal5.testing.fake_exchange`` (lifecycle, records, faults, control route).

It answers in Bitget's envelope (``{"code": "00000", "msg": "success", "requestTime", "data"}``; an error
carries its code, its message and ``data: null`` with the HTTP status Bitget uses) with V2 field names, and
verifies every private call as Bitget documents it (reference §2): base64 HMAC-SHA256 of timestamp +
METHOD + path (+ ``?`` + the raw query) + the raw body, with ``ACCESS-KEY`` (40001/40006),
``ACCESS-SIGN`` (40003/40009), ``ACCESS-TIMESTAMP`` (40005, 40008 when ``check_timestamp`` or
``expire_timestamp_once``) and ``ACCESS-PASSPHRASE`` (40011/40012).

Accounts: ``Account(api_key, api_secret, extra={"passphrase": ...}, balances=...)`` (an account without
a passphrase gets a random one, shown by ``terminal5 simulate``; ``balances`` open its spot wallet, the
base's ``Wallet``: resting orders hold, fills settle, cancels release). The markets, books, balances and positions live in
:mod:`terminal5_bitget.simulator_state`; this module is the HTTP side. Endpoint names (for fault rules)
are the client's rate-limit labels (``spot.order.place``, ``mix.order.fetch``…); roles ``place``,
``lookup``, ``cancel`` as the base defines them. ``GET /_sim/records`` adds to the base's records the
business parameters of every placement (``placements``) and every Bitget refusal (``rejections``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from terminal5 import jsonutil
from terminal5.testing.fake_exchange import Account, Call, FakeExchange, Route, json_body
from terminal5_bitget import constants as c
from terminal5_bitget.simulator_state import Account as BitgetAccount
from terminal5_bitget.simulator_state import SimError, SimState

Handler = Callable[[BitgetAccount | None, dict[str, Any]], Awaitable[Any] | Any]
#: a placement's answer key that carries the status an ``unknown_status`` fault overrides
STATUS_KEYS = {c.Spot.place: "status", c.Spot.place_plan: "status", c.Mix.place: "state",
               c.Mix.place_plan: "planStatus"}
#: where a body that is not JSON is refused
NOT_JSON = object()


def envelope(data: Any, now_ms: int) -> dict[str, Any]:
    return {"code": c.SUCCESS, "msg": "success", "requestTime": now_ms, "data": data}


def as_account(item: Account | tuple[str, str, str]) -> Account:
    """An ``Account``, or a ``(key, secret, passphrase)`` triple."""
    if isinstance(item, Account):
        return item
    key, secret, passphrase = item
    return Account(api_key=key, api_secret=secret, extra={"passphrase": passphrase})


class BitgetSimulator(FakeExchange):
    """``async with BitgetSimulator([("key", "secret", "passphrase")]) as sim: sim.url`` (one URL serves spot
    and mix); ``sim.state`` is the exchange's state, which tests arrange directly."""

    name = "bitget"

    def __init__(
        self,
        accounts: Iterable[Account | tuple[str, str, str]] | Mapping[str, str] | None = None,
        *,
        state: SimState | None = None,
        n_spot: int = 1000,
        n_usdt: int = 200,
        check_timestamp: bool = False,
        **kwargs: Any,
    ) -> None:
        self.state = state or SimState(n_spot=n_spot, n_usdt=n_usdt)
        if isinstance(accounts, Mapping):
            base = [Account(api_key=k, api_secret=v) for k, v in accounts.items()]
        else:
            base = [as_account(item) for item in accounts or ()]
        super().__init__(base, **kwargs)
        for key, account in self.state.accounts.items():  # a state built beforehand brings its own accounts
            if key not in self.accounts:
                self.accounts[key] = Account(api_key=key, api_secret=account.secret,
                                             extra={"passphrase": account.passphrase})
            self.wallets[key] = account.spot
        self.prices = self.state.prices  # ``POST /_sim/price`` moves the book's reference price
        self.book = self.state.book  # type: ignore[assignment]
        #: off by default: tests run on the state's fake clock
        self.check_timestamp = check_timestamp
        #: the next signed call answers "Request timestamp expired" (40008) once
        self.expire_timestamp_once = False
        self._symbols_text = ""

    # --- accounts -----------------------------------------------------------------------------------------
    def demo_account(self) -> Account:
        return Account(api_key=f"bg_{secrets.token_hex(16)}", api_secret=secrets.token_hex(32),
                       extra={"passphrase": secrets.token_urlsafe(12)})

    def add_account(self, account: Account) -> None:
        if not account.extra.get("passphrase"):
            account.extra["passphrase"] = secrets.token_urlsafe(12)  # Bitget keys always have one
        super().add_account(account)
        if account.api_key not in self.state.accounts:
            self.state.add_account(account.api_key, account.api_secret, account.extra["passphrase"], account.balances)
        self.wallets[account.api_key] = self.state.accounts[account.api_key].spot  # the spot wallet is the base's

    def now_ms(self) -> int:
        return self.state.now_ms

    # --- envelopes -----------------------------------------------------------------------------------------
    def error_response(self, status: int, code: str, message: str) -> web.StreamResponse:
        return json_body({"code": code, "msg": message, "requestTime": self.state.now_ms, "data": None}, status)

    def not_found_response(self, call: Call) -> web.StreamResponse:
        if call.route.path == c.Spot.order_info:  # spot answers an unknown order with an empty list
            return json_body(envelope([], self.state.now_ms))
        code = "43001" if call.route.path.startswith("/api/v2/spot/") else "40768"
        return self.error_response(400, code, "The order does not exist")

    def rate_limit_response(self, call: Call, status: int, retry_after: float | None) -> web.StreamResponse:
        response = self.error_response(status, "429", "Too Many Requests")
        if retry_after is not None:
            response.headers["Retry-After"] = f"{retry_after:g}"
        return response

    def server_error_response(self, call: Call, status: int) -> web.StreamResponse:
        return self.error_response(status, "50001", "Internal error")

    def presented_key(self, request: web.Request) -> str:
        return request.headers.get(c.KEY_HEADER, "")

    def client_id_of(self, call: Call) -> str | None:
        value = call.params.get("clientOid")
        return str(value) if value else None

    def parse_params(self, request: web.Request, body: str) -> dict[str, Any]:
        """The query string, then the JSON body on top (Bitget's POST bodies are JSON objects)."""
        params: dict[str, Any] = dict(parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True))
        if body:
            try:
                params.update(jsonutil.loads(body))
            except (ValueError, TypeError, AttributeError):
                params["__not_json__"] = NOT_JSON
        return params

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.state.requests.append((request.method, request.path, request.headers.get(c.DEMO_HEADER) == "1"))
        if not request.path.startswith("/_sim/") and (request.method, request.path) not in self._routes:
            return self.error_response(404, "40404", "Request URL NOT FOUND")
        return await super()._dispatch(request)

    def records(self) -> dict[str, Any]:
        records = super().records()
        records["placements"] = [{"key": k, "path": p, "params": v} for k, p, v in self.state.placements]
        records["rejections"] = [{"path": p, "code": code} for p, code in self.state.rejections]
        return records

    # --- the signature check (reference §2) -----------------------------------------------------------------
    async def authenticate(self, call: Call) -> Account | web.StreamResponse:
        try:
            return self._verify(call.request, call.body)
        except SimError as exc:
            self.state.rejections.append((call.request.path, exc.code))
            return self.error_response(exc.status, exc.code, exc.msg)

    def _verify(self, request: web.Request, body: str) -> Account:
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
        account = self.accounts.get(key)
        if account is None:
            raise SimError("40006", "Invalid ACCESS_KEY")
        if not hmac.compare_digest(passphrase, account.extra.get("passphrase", "")):
            raise SimError("40012", "apikey/password is incorrect")
        query = request.rel_url.raw_query_string
        prehash = f"{timestamp}{request.method}{request.rel_url.raw_path}{'?' + query if query else ''}{body}"
        digest = hmac.new(account.api_secret.encode(), prehash.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(sign, base64.b64encode(digest).decode()):
            raise SimError("40009", "sign signature error")
        if self.expire_timestamp_once or (
            self.check_timestamp and abs(int(timestamp) - self.state.now_ms) > c.TIMESTAMP_TOLERANCE_MS
        ):
            self.expire_timestamp_once = False
            raise SimError("40008", "Request timestamp expired")
        return account

    # --- routes ---------------------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        st = self.state
        table: list[tuple[str, str, str, str, bool, Handler]] = [
            ("GET", c.SERVER_TIME, "time", "other", False, lambda a, p: {"serverTime": str(st.now_ms)}),
            ("GET", c.Spot.symbols, "spot.symbols", "other", False, self._spot_symbols),
            ("GET", c.Mix.contracts, "mix.contracts", "other", False, self._contracts),
            ("POST", c.Spot.place, "spot.order.place", "place", True, self._spot_place),
            ("POST", c.Spot.cancel, "spot.order.cancel", "cancel", True, lambda a, p: st.spot_cancel(a, p)),
            ("GET", c.Spot.order_info, "spot.order.fetch", "lookup", True, self._spot_info),
            ("GET", c.Spot.unfilled, "spot.orders.open", "lookup", True, self._spot_unfilled),
            ("GET", c.Spot.history, "spot.orders.history", "lookup", True, self._spot_history),
            ("GET", c.Spot.fills, "spot.fills", "other", True, self._spot_fills),
            ("POST", c.Spot.place_plan, "spot.plan.place", "place", True, self._spot_plan_place),
            ("GET", c.Spot.current_plan, "spot.plan.list", "lookup", True,
             lambda a, p: self._plans(a, p, mix=False, live=True)),
            ("GET", c.Spot.history_plan, "spot.plan.history", "lookup", True,
             lambda a, p: self._plans(a, p, mix=False, live=False)),
            ("POST", c.Spot.cancel_plan, "spot.plan.cancel", "cancel", True,
             lambda a, p: st.plan_cancel(a, [p], mix=False)[0]),
            ("GET", c.Spot.assets, "spot.assets", "other", True, lambda a, p: st.spot_assets(a, p.get("coin"))),
            ("POST", c.Mix.place, "mix.order.place", "place", True, self._mix_place),
            ("POST", c.Mix.cancel, "mix.order.cancel", "cancel", True, lambda a, p: st.mix_cancel(a, p)),
            ("POST", c.Mix.modify, "mix.order.modify", "other", True, lambda a, p: st.mix_modify(a, p)),
            ("GET", c.Mix.detail, "mix.order.fetch", "lookup", True, self._mix_detail),
            ("GET", c.Mix.pending, "mix.orders.open", "lookup", True, lambda a, p: self._mix_list(a, p, live=True)),
            ("GET", c.Mix.history, "mix.orders.history", "lookup", True,
             lambda a, p: self._mix_list(a, p, live=False)),
            ("GET", c.Mix.fills, "mix.fills", "other", True, self._mix_fills),
            ("POST", c.Mix.place_plan, "mix.plan.place", "place", True, self._mix_plan_place),
            ("GET", c.Mix.pending_plan, "mix.plan.list", "lookup", True,
             lambda a, p: self._plans(a, p, mix=True, live=True)),
            ("GET", c.Mix.history_plan, "mix.plan.history", "lookup", True,
             lambda a, p: self._plans(a, p, mix=True, live=False)),
            ("POST", c.Mix.cancel_plan, "mix.plan.cancel", "cancel", True, self._mix_plan_cancel),
            ("GET", c.Mix.accounts, "mix.accounts", "other", True,
             lambda a, p: st.mix_accounts(a, str(p.get("productType", "")).upper())),
            ("GET", c.Mix.account, "mix.account", "other", True, self._mix_account),
            ("GET", c.Mix.positions, "mix.positions", "other", True,
             lambda a, p: st.mix_positions(a, str(p.get("productType", "")).upper())),
        ]
        return [Route(method, path, self._serve(path, handler), endpoint, role=role, private=private)
                for method, path, endpoint, role, private, handler in table]

    def _serve(self, path: str, handler: Handler) -> Callable[[Call], Awaitable[web.StreamResponse]]:
        async def serve(call: Call) -> web.StreamResponse:
            account = self.state.accounts.get(call.api_key) if call.account else None
            try:
                if call.params.pop("__not_json__", None) is NOT_JSON:
                    raise SimError("40017", "Parameter verification failed: body is not JSON")
                result = handler(account, call.params)
                data = await result if isinstance(result, Awaitable) else result
            except SimError as exc:
                self.state.rejections.append((path, exc.code))
                return self.refuse(call, exc.status, exc.code, exc.msg, duplicate=exc.code in c.DUPLICATE_CLIENT_OID)
            if call.route.role == "place" and account is not None:
                self.accept(call, data["clientOid"], data["orderId"])
                if call.status_override is not None:
                    target = account.orders.get(data["orderId"]) or account.plans.get(data["orderId"])
                    if target is not None:
                        target[STATUS_KEYS[path]] = call.status_override
            if path == c.Spot.symbols and not call.params.get("symbol"):
                if not self._symbols_text:  # ~1,000 symbols: encoded once, the request time patched in
                    self._symbols_text = jsonutil.dumps(data)
                return web.Response(text=f'{{"code":"{c.SUCCESS}","msg":"success","requestTime":{self.state.now_ms},'
                                         f'"data":{self._symbols_text}}}', content_type="application/json")
            return json_body(envelope(data, self.state.now_ms))

        return serve

    # --- fills on demand (``POST /_sim/fill``) ----------------------------------------------------------------
    def fill(self, order_id: Any, quantity: Decimal, price: Decimal) -> None:
        for account in self.state.accounts.values():
            order = account.orders.get(str(order_id))
            if order is None:
                continue
            if "state" in order:
                self.state.fill_mix(account, str(order_id), quantity, price)
            else:
                self.state.fill_spot(account, str(order_id), quantity, price)
            return
        raise KeyError(f"no order {order_id}")

    # --- handlers ---------------------------------------------------------------------------------------------
    def _spot_symbols(self, account: BitgetAccount | None, p: Mapping[str, Any]) -> Any:
        symbol = p.get("symbol")
        return [m for m in self.state.spot_symbols if symbol in (None, m["symbol"])]

    def _contracts(self, account: BitgetAccount | None, p: Mapping[str, Any]) -> Any:
        product = str(p.get("productType", "")).upper()
        if product not in self.state.contracts:
            raise SimError("40020", "Parameter productType error")
        return [m for m in self.state.contracts[product] if p.get("symbol") in (None, m["symbol"])]

    def _spot_place(self, account: BitgetAccount | None, p: dict[str, Any]) -> Any:
        assert account is not None
        return self.state.spot_place(account, p, c.Spot.place)

    def _spot_plan_place(self, account: BitgetAccount | None, p: dict[str, Any]) -> Any:
        assert account is not None
        return self.state.spot_plan_place(account, p, c.Spot.place_plan)

    def _mix_place(self, account: BitgetAccount | None, p: dict[str, Any]) -> Any:
        assert account is not None
        return self.state.mix_place(account, p, c.Mix.place)

    def _mix_plan_place(self, account: BitgetAccount | None, p: dict[str, Any]) -> Any:
        assert account is not None
        return self.state.mix_plan_place(account, p, c.Mix.place_plan)

    def _spot_info(self, account: BitgetAccount | None, p: Mapping[str, Any]) -> Any:
        assert account is not None
        if not p.get("orderId") and not p.get("clientOid"):
            raise SimError("40019", "Parameter orderId or clientOid cannot be empty")
        order = self.state.spot_find(account, p)
        return [self.state.public(order)] if order is not None else []

    def _spot_orders(self, account: BitgetAccount, p: Mapping[str, Any], live: bool) -> list[Any]:
        symbol = p.get("symbol")
        return [self.state.public(o) for o in account.orders.values()
                if "status" in o and symbol in (None, o["symbol"])
                and (o["status"] in ("live", "new", "partially_filled", "init")) is live]

    def _spot_unfilled(self, account: BitgetAccount | None, p: Mapping[str, Any]) -> Any:
        assert account is not None
        return self._spot_orders(account, p, True)

    def _spot_history(self, account: BitgetAccount | None, p: Mapping[str, Any]) -> Any:
        assert account is not None
        return self._spot_orders(account, p, False)

    def _spot_fills(self, account: BitgetAccount | None, p: Mapping[str, Any]) -> Any:
        assert account is not None
        return [f for f in account.fills if "_product" not in f and p.get("symbol") in (None, f["symbol"])]

    def _plans(self, account: BitgetAccount | None, p: Mapping[str, Any], *, mix: bool, live: bool) -> Any:
        assert account is not None
        key = "planStatus" if mix else "status"
        product = str(p.get("productType", "")).upper()
        items = [self.state.public(plan) for plan in account.plans.values()
                 if key in plan and p.get("symbol") in (None, plan["symbol"])
                 and (not mix or plan.get("_product") == product) and (plan[key] == "live") is live]
        return {"entrustedList": items or None, "endId": None} if mix else {"nextFlag": False, "idLessThan": "",
                                                                             "orderList": items}

    def _mix_detail(self, account: BitgetAccount | None, p: Mapping[str, Any]) -> Any:
        assert account is not None
        self.state._contract(p)
        order = self.state.mix_find(account, p)
        if order is None:
            raise SimError("40768", "Order does not exist")
        return self.state.public(order)

    def _mix_list(self, account: BitgetAccount | None, p: Mapping[str, Any], *, live: bool) -> Any:
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

    def _mix_fills(self, account: BitgetAccount | None, p: Mapping[str, Any]) -> Any:
        assert account is not None
        product = str(p.get("productType", "")).upper()
        items = [self.state.public(f) for f in account.fills
                 if f.get("_product") == product and p.get("symbol") in (None, f["symbol"])]
        return {"fillList": items, "endId": items[-1]["tradeId"] if items else None}

    def _mix_plan_cancel(self, account: BitgetAccount | None, p: Mapping[str, Any]) -> Any:
        assert account is not None
        done = self.state.plan_cancel(account, p.get("orderIdList") or [p], mix=True)
        return {"successList": done, "failureList": []}

    def _mix_account(self, account: BitgetAccount | None, p: Mapping[str, Any]) -> Any:
        assert account is not None
        self.state._contract(p)
        return self.state.mix_account(account, str(p.get("marginCoin", "")).upper())

