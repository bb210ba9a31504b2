"""A native Kraken spot REST on 127.0.0.1, for ``terminal5 simulate --exchange kraken``, the plugin's tests
and the checklist. Built on ``terminal5.testing.fake_exchange``.

It answers in Kraken's envelope (``{"error": [...], "result": ...}``, HTTP 200 for business errors) with
Kraken's field names (reference §5) and error strings (§7), and checks what Kraken checks:

* every private call's ``API-Sign`` (reference §2: base64 HMAC-SHA512, keyed by the base64-decoded
  secret, over ``path + SHA256(nonce + body)``) for the key named by ``API-Key`` (``EAPI:Invalid key``,
  ``EAPI:Invalid signature``); the **nonce** must strictly increase per key (``EAPI:Invalid nonce``);
  form-encoded and JSON bodies are both accepted, as Kraken does;
* ``userref`` and ``cl_ord_id`` never together; ``cl_ord_id`` unique among the account's open orders
  (refused ``EGeneral:Invalid arguments:cl_ord_id``: the reference could not confirm Kraken's exact
  string); unknown pairs (``EQuery:Unknown asset pair``), pairs not online
  (``EService:Market in cancel_only mode`` …), ``ordermin`` / ``costmin``, price decimals
  (``EOrder:Invalid price``), funds (``EOrder:Insufficient funds``).

Balances (``BalanceEx``: ``balance`` and ``hold_trade``): an order holds its quote (buy) or base (sell);
fills move them (taker fee ``TAKER_FEE`` charged in quote); cancels release the hold. Matching: market
orders fill at the pair's price (``market_price`` for the XBT pairs, a reference price otherwise;
``POST /_sim/price`` changes it), crossing limits fill, IOC leftovers are ``canceled`` (reason
``Unfilled``), other orders rest ``open`` until ``fill`` (or ``POST /_sim/fill``) fills them. Lookups:
``QueryOrders`` by txid, ``OpenOrders`` / ``ClosedOrders`` filtered by ``userref`` or ``cl_ord_id``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import secrets
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from terminal5 import jsonutil
from terminal5.testing.fake_exchange import Account, Call, FakeExchange, Resting, Route, json_body
from terminal5.testing.fake_index import Ledger, Postings
from terminal5_kraken import constants as k
from terminal5_kraken.sim_pairs import asset_pairs, reference_prices

#: the taker fee charged on fills (0.40 %, Kraken's starter taker rate)
TAKER_FEE = Decimal("0.004")
OPEN = ("pending", "open")
CLOSED = ("closed", "canceled", "expired")
DEFAULT_BALANCES = {"ZUSD": "50000.0000", "XXBT": "1.5000000000", "XXDG": "0.00000000", "ZEUR": "10000.0000",
                    "USDT": "10000.00000000", "XETH": "10.0000000000", "SOL": "100.0000000000"}


class KrakenSimulator(FakeExchange):
    name = "kraken"
    default_balances = DEFAULT_BALANCES
    default_price = Decimal("30000.0")

    def __init__(
        self,
        accounts: Iterable[Account] | Mapping[str, str] | None = None,
        *,
        market_price: Decimal = Decimal("30000.0"),
        frozen_at: Decimal | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(accounts, **kwargs)
        self.pairs = asset_pairs()
        self.by_name = {name: key for key, info in self.pairs.items() for name in (key, info["altname"])}
        self.market_price = market_price
        self.prices.update(reference_prices())
        #: a fixed clock (seconds) for tests that compare times; ``None`` follows the real clock
        self.frozen_at = frozen_at
        self.orders: Ledger = Ledger()  # txid -> payload
        self.owner: dict[str, str] = {}
        # indexes over ``orders`` (see ``_index``): key -> txids; (key, cl_ord_id) and (key, str(userref)) ->
        # txids; key -> txids that may be open (Kraken never reopens a closed order)
        self._by_account, self._by_cid, self._by_userref = Postings(), Postings(), Postings()
        self._maybe_open: dict[str, dict[str, None]] = {}
        self.nonces: dict[str, int] = {}
        #: (path, params without the nonce) of every authenticated private call
        self.calls: list[tuple[str, dict[str, str]]] = []
        self._ids = itertools.count(1)
        # a per-run segment in every id: a restarted simulator never hands out an id a gateway already stored
        self._run = base64.b32encode(secrets.token_bytes(5)).decode()[:5]
        self._ticks = itertools.count(1)
        self._pairs_text = ""

    # --- clock, accounts, prices -----------------------------------------------------------------------
    def now_ms(self) -> int:
        return int(self.frozen_at * 1000) if self.frozen_at is not None else super().now_ms()

    def _stamp(self) -> Decimal:
        """An order time: Unix seconds with four decimals, strictly increasing."""
        base = self.frozen_at if self.frozen_at is not None else Decimal(self.now_ms()) / 1000
        return (base + Decimal(next(self._ticks)) / 100).quantize(Decimal("0.0001"))

    def demo_account(self) -> Account:
        key = base64.b64encode(secrets.token_bytes(42)).decode()
        return Account(api_key=key, api_secret=base64.b64encode(secrets.token_bytes(64)).decode())

    @property
    def balances(self) -> dict[str, Decimal]:
        """The first account's free balances (tests change them in place)."""
        return self.wallet(next(iter(self.accounts))).free

    def pair_price(self, key: str) -> Decimal:
        return self.prices.get(key, self.market_price)

    # --- envelopes -------------------------------------------------------------------------------------
    @staticmethod
    def answer(result: Any = None, *errors: str, status: int = 200) -> web.Response:
        body: dict[str, Any] = {"error": list(errors)}
        if not errors:
            body["result"] = result
        return json_body(body, status)

    def error_response(self, status: int, code: str, message: str) -> web.StreamResponse:
        return self.answer(None, code, status=status)

    def fail(self, call: Call, error: str, *, duplicate: bool = False) -> web.StreamResponse:
        return self.refuse(call, 200, error, error, duplicate=duplicate)

    def not_found_response(self, call: Call) -> web.StreamResponse:
        return self.answer(None, "EOrder:Unknown order")

    def rate_limit_response(self, call: Call, status: int, retry_after: float | None) -> web.StreamResponse:
        response = self.answer(None, "EAPI:Rate limit exceeded", status=status)
        if retry_after is not None:
            response.headers["Retry-After"] = f"{retry_after:g}"
        return response

    def server_error_response(self, call: Call, status: int) -> web.StreamResponse:
        return self.answer(None, "EService:Unavailable", status=status)

    def presented_key(self, request: web.Request) -> str:
        return request.headers.get("API-Key", "")

    def client_id_of(self, call: Call) -> str | None:
        return call.params.get("cl_ord_id") or call.params.get("userref")

    def parse_params(self, request: web.Request, body: str) -> dict[str, str]:
        if body.lstrip().startswith("{"):
            try:
                data = jsonutil.loads(body)
            except ValueError:
                return {}
            return {str(key): str(v).lower() if isinstance(v, bool) else str(v) for key, v in data.items()}
        return super().parse_params(request, body)

    # --- the signature and nonce check (reference §2) ----------------------------------------------------
    async def authenticate(self, call: Call) -> Account | web.StreamResponse:
        account = self.accounts.get(self.presented_key(call.request))
        if account is None:
            return self.answer(None, "EAPI:Invalid key")
        nonce = call.params.get("nonce", "")
        try:
            key = base64.b64decode(account.api_secret, validate=True)
        except (binascii.Error, ValueError):
            return self.answer(None, "EAPI:Invalid key")
        digest = hashlib.sha256(f"{nonce}{call.body}".encode()).digest()
        expected = base64.b64encode(hmac.new(key, call.request.path.encode() + digest, hashlib.sha512).digest()).decode()
        if not hmac.compare_digest(expected, call.request.headers.get("API-Sign", "")):
            return self.answer(None, "EAPI:Invalid signature")
        if not nonce.isdigit() or int(nonce) <= self.nonces.get(account.api_key, 0):
            return self.answer(None, "EAPI:Invalid nonce")
        self.nonces[account.api_key] = int(nonce)
        call.params.pop("nonce")
        self.calls.append((call.request.path, dict(call.params)))
        return account

    # --- routes ----------------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        public = [Route(method, path, handler, name, private=False)
                  for path, handler, name in ((k.PATH_TIME, self._time, "Time"),
                                              (k.PATH_ASSET_PAIRS, self._asset_pairs, "AssetPairs"))
                  for method in ("GET", "POST")]
        private = [
            (k.PATH_ADD_ORDER, self._add_order, "AddOrder", "place"),
            (k.PATH_QUERY_ORDERS, self._query_orders, "QueryOrders", "lookup"),
            (k.PATH_OPEN_ORDERS, self._open_orders, "OpenOrders", "lookup"),
            (k.PATH_CLOSED_ORDERS, self._closed_orders, "ClosedOrders", "lookup"),
            (k.PATH_CANCEL_ORDER, self._cancel_order, "CancelOrder", "cancel"),
            (k.PATH_AMEND_ORDER, self._amend_order, "AmendOrder", "other"),
            (k.PATH_CANCEL_ALL_AFTER, self._cancel_all_after, "CancelAllOrdersAfter", "other"),
            (k.PATH_BALANCE, self._balance, "Balance", "other"),
            (k.PATH_BALANCE_EX, self._balance_ex, "BalanceEx", "other"),
            (k.PATH_TRADES_HISTORY, self._trades_history, "TradesHistory", "other"),
        ]
        return public + [Route("POST", path, handler, name, role=role) for path, handler, name, role in private]

    async def _time(self, call: Call) -> web.StreamResponse:
        from email.utils import formatdate

        seconds = self.now_ms() // 1000
        rfc = formatdate(seconds, usegmt=True).replace(" GMT", " +0000")
        return self.answer({"unixtime": seconds, "rfc1123": rfc})

    async def _asset_pairs(self, call: Call) -> web.StreamResponse:
        wanted = call.params.get("pair")
        if wanted:
            keys = [self.by_name.get(name) for name in wanted.split(",")]
            if None in keys:
                return self.answer(None, "EQuery:Unknown asset pair")
            return self.answer({key: self.pairs[key] for key in keys if key})
        if not self._pairs_text:  # ~700 pairs: encoded once
            self._pairs_text = jsonutil.dumps({"error": [], "result": self.pairs})
        return web.Response(text=self._pairs_text, content_type="application/json")

    def owner_of(self, txid: str) -> str:
        """The account an order belongs to; one a test put in ``orders`` by hand is the first account's."""
        return self.owner.get(txid) or next(iter(self.accounts), "")

    def _index(self) -> None:
        """Index the orders added since the last lookup (placed here, or put in ``orders`` by a test, with
        its ``owner`` if any, before its next request)."""
        for txid in self.orders.fresh():
            order, key = self.orders[txid], self.owner_of(txid)
            self._by_account.add(key, txid)
            self._by_cid.add((key, order.get("cl_ord_id")), txid)
            self._by_userref.add((key, str(order.get("userref"))), txid)
            self._maybe_open.setdefault(key, {})[txid] = None

    def _candidates(self, call: Call, statuses: tuple[str, ...]) -> list[str]:
        """The fewest txids that hold every order ``_mine`` could answer, in placement order."""
        self._index()
        params, key = call.params, call.api_key
        if "cl_ord_id" in params:
            return self.orders.in_order(self._by_cid.get((key, params["cl_ord_id"])))
        if "userref" in params:
            return self.orders.in_order(self._by_userref.get((key, params["userref"])))
        if statuses == OPEN:
            maybe = self._maybe_open.setdefault(key, {})
            for txid in [t for t in maybe if t not in self.orders or self.orders[t]["status"] not in OPEN]:
                del maybe[txid]
            return self.orders.in_order(maybe)
        return self.orders.in_order(self._by_account.get(key))

    def _mine(self, call: Call, statuses: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        params = call.params
        out = {}
        for txid in self._candidates(call, statuses):
            order = self.orders[txid]
            if self.owner_of(txid) != call.api_key or order["status"] not in statuses:
                continue
            if "userref" in params and str(order["userref"]) != params["userref"]:
                continue
            if "cl_ord_id" in params and order["cl_ord_id"] != params["cl_ord_id"]:
                continue
            out[txid] = order
        return out

    async def _add_order(self, call: Call) -> web.StreamResponse:
        params = call.params
        if "userref" in params and "cl_ord_id" in params:
            return self.fail(call, "EGeneral:Invalid arguments:cl_ord_id")
        for name in ("pair", "type", "ordertype", "volume"):
            if not params.get(name):
                return self.fail(call, f"EGeneral:Invalid arguments:{name}")
        key = self.by_name.get(params["pair"])
        if key is None:
            return self.fail(call, "EQuery:Unknown asset pair")
        info = self.pairs[key]
        if info.get("status", "online") != "online":
            return self.fail(call, f"EService:Market in {info['status']} mode")
        if "cl_ord_id" in params and any(o["cl_ord_id"] == params["cl_ord_id"] for o in self._mine(call, OPEN).values()):
            return self.fail(call, "EGeneral:Invalid arguments:cl_ord_id", duplicate=True)
        volume = Decimal(params["volume"])
        if volume < Decimal(info.get("ordermin", "0")):
            return self.fail(call, "EOrder:Order minimum not met")
        ordertype = params["ordertype"]
        limit = Decimal(params["price"]) if ordertype in ("limit", "iceberg") else None
        for name in ("price", "price2"):
            if name in params and -Decimal(params[name]).as_tuple().exponent > int(info["pair_decimals"]):  # type: ignore[operator]
                return self.fail(call, "EOrder:Invalid price")
        if -volume.as_tuple().exponent > int(info.get("lot_decimals", 8)):  # type: ignore[operator]
            return self.fail(call, "EGeneral:Invalid arguments:volume")
        market = self.pair_price(key)
        price_for_cost = limit or (Decimal(params["price"]) if "price" in params else market)
        if volume * price_for_cost < Decimal(info.get("costmin", "0")):
            return self.fail(call, "EOrder:Cost minimum not met")
        if params.get("validate") == "true":  # validated, nothing placed: a description and no txid
            return self.answer({"descr": {"order": f"{params['type']} {params['volume']} {info['altname']} @ {ordertype}"}})
        txid = f"O{next(self._ids):05d}-{self._run}-SIMULK"
        side = params["type"]
        resting = Resting(order_id=txid, api_key=call.api_key, client_id=self.client_id_of(call), symbol=key,
                          side=side, quantity=volume, price=limit)
        if not self.reserve_order(resting, base=info["base"], quote=info["quote"], price=limit or market):
            return self.fail(call, "EOrder:Insufficient funds")
        self.book[txid] = resting
        self.orders[txid] = {
            "refid": None,
            "userref": int(params["userref"]) if "userref" in params else 0,
            "cl_ord_id": params.get("cl_ord_id"),
            "status": "open",
            "reason": None,
            "opentm": self._stamp(),
            "closetm": 0,
            "starttm": 0,
            "expiretm": 0,
            "descr": {"pair": info["altname"], "type": side, "ordertype": ordertype,
                      "price": params.get("price", "0"), "price2": params.get("price2", "0"), "leverage": "none",
                      "order": f"{side} {params['volume']} {info['altname']} @ {ordertype} {params.get('price', '')}".rstrip(" @"),
                      "close": ""},
            "vol": params["volume"], "vol_exec": "0.00000000", "cost": "0", "fee": "0", "price": "0",
            "stopprice": "0", "limitprice": "0", "misc": "", "oflags": params.get("oflags", "fciq"),
        }
        self.owner[txid] = call.api_key
        self.accept(call, self.client_id_of(call), txid)
        self._match(txid, params)
        if call.status_override is not None:
            self.orders[txid]["status"] = call.status_override
        return self.answer({"descr": {"order": self.orders[txid]["descr"]["order"]}, "txid": [txid]})

    def _match(self, txid: str, params: Mapping[str, str]) -> None:
        order, resting = self.orders[txid], self.book[txid]
        market = self.pair_price(resting.symbol)
        if order["descr"]["ordertype"] == "market":
            self.fill(txid, resting.quantity, market)
            return
        if resting.price is None:
            return  # stop and take-profit orders wait for their trigger
        crosses = resting.price >= market if resting.side == "buy" else resting.price <= market
        if crosses:
            self.fill(txid, resting.quantity, market)  # a crossing limit fills at the better market price
        elif params.get("timeinforce") == "IOC":
            order.update(status="canceled", reason="Unfilled", closetm=self._stamp())
            self.release_order(resting)

    def fill(self, order_id: str, quantity: Decimal, price: Decimal) -> None:
        """Fill ``quantity`` of an order at ``price`` (partial fills on demand), charging the taker fee."""
        order = self.orders[order_id]
        quantity, price = Decimal(quantity), Decimal(price)
        executed = Decimal(order["vol_exec"]) + quantity
        cost = Decimal(order["cost"]) + quantity * price
        fee = (quantity * price * TAKER_FEE).quantize(Decimal("0.00001"))
        order.update(vol_exec=f"{executed:f}", cost=f"{cost:f}", fee=f"{Decimal(order['fee']) + fee:f}",
                     price=f"{(cost / executed).normalize():f}" if executed else "0")
        order.setdefault("trades", []).append(f"T{next(self._ids):05d}-{self._run}-SIMULT")
        resting = self.book.get(order_id)
        if resting is not None:
            info = self.pairs[resting.symbol]
            self.settle_fill(resting, quantity, price, base=info["base"], quote=info["quote"], fee=fee)
        if executed >= Decimal(order["vol"]):
            order.update(status="closed", closetm=self._stamp())
            if resting is not None:
                self.release_order(resting)

    async def _query_orders(self, call: Call) -> web.StreamResponse:
        wanted = call.params.get("txid", "").split(",")
        found = {t: self.orders[t] for t in wanted if t in self.orders and self.owner_of(t) == call.api_key
                 and call.params.get("userref") in (None, str(self.orders[t]["userref"]))}
        return self.answer(found) if found else self.answer(None, "EOrder:Unknown order")

    async def _open_orders(self, call: Call) -> web.StreamResponse:
        return self.answer({"open": self._mine(call, OPEN)})

    async def _closed_orders(self, call: Call) -> web.StreamResponse:
        closed = self._mine(call, CLOSED)
        offset = int(call.params.get("ofs", "0") or 0)
        page = dict(list(closed.items())[offset: offset + 50])
        return self.answer({"closed": page, "count": len(closed)})

    async def _trades_history(self, call: Call) -> web.StreamResponse:
        return self.answer({"trades": {}, "count": 0})

    def _targets(self, call: Call) -> list[str]:
        params = call.params
        mine = self._mine(call, OPEN)
        if "cl_ord_id" in params:
            return [t for t, o in mine.items() if o["cl_ord_id"] == params["cl_ord_id"]]
        if params.get("txid", "").lstrip("-").isdigit():  # a userref cancels every order carrying it
            return [t for t, o in mine.items() if str(o["userref"]) == params["txid"]]
        return [params["txid"]] if params.get("txid") in mine else []

    async def _cancel_order(self, call: Call) -> web.StreamResponse:
        targets = self._targets(call)
        if not targets:
            return self.answer(None, "EOrder:Unknown order")
        for txid in targets:
            self.orders[txid].update(status="canceled", closetm=self._stamp())
            if txid in self.book:
                self.release_order(self.book[txid])
        return self.answer({"count": len(targets), "pending": False})

    async def _amend_order(self, call: Call) -> web.StreamResponse:
        params = call.params
        targets = self._targets(call) if "cl_ord_id" in params else (
            [params["txid"]] if params.get("txid") in self._mine(call, OPEN) else [])
        if not targets:
            return self.answer(None, "EOrder:Unknown order")
        txid = targets[0]
        order, resting = self.orders[txid], self.book.get(txid)
        if resting is not None:
            info = self.pairs[resting.symbol]
            quantity = Decimal(params.get("order_qty", order["vol"]))
            price = Decimal(params["limit_price"]) if "limit_price" in params else resting.price
            self.release_order(resting)
            amended = Resting(order_id=txid, api_key=resting.api_key, client_id=resting.client_id,
                              symbol=resting.symbol, side=resting.side, quantity=quantity, price=price,
                              filled=resting.filled)
            if not self.reserve_order(amended, base=info["base"], quote=info["quote"],
                                      price=price or self.pair_price(resting.symbol)):
                self.reserve_order(resting, base=info["base"], quote=info["quote"],
                                   price=resting.price or self.pair_price(resting.symbol))
                resting.is_open = True
                return self.answer(None, "EOrder:Insufficient funds")
            self.book[txid] = amended
        if "order_qty" in params:
            order["vol"] = params["order_qty"]
        if "limit_price" in params:
            order["descr"]["price"] = params["limit_price"]
        order["misc"] = "amended"
        return self.answer({"amend_id": f"TAMEND-{txid}"})

    def _balances(self, call: Call) -> dict[str, tuple[Decimal, Decimal]]:
        wallet = self.wallet(call.api_key)
        return {a: (wallet.available(a) + wallet.locked.get(a, Decimal(0)), wallet.locked.get(a, Decimal(0)))
                for a in wallet.assets()}

    async def _balance_ex(self, call: Call) -> web.StreamResponse:
        return self.answer({a: {"balance": f"{total:f}", "hold_trade": f"{held:f}"}
                            for a, (total, held) in self._balances(call).items()})

    async def _balance(self, call: Call) -> web.StreamResponse:
        return self.answer({a: f"{total:f}" for a, (total, _) in self._balances(call).items()})

    async def _cancel_all_after(self, call: Call) -> web.StreamResponse:
        from datetime import UTC, datetime, timedelta

        timeout = int(call.params.get("timeout", "0") or 0)
        now = datetime.fromtimestamp(self.now_ms() / 1000, UTC).replace(microsecond=0)
        stamp = "%Y-%m-%dT%H:%M:%SZ"
        trigger = "0" if timeout == 0 else (now + timedelta(seconds=timeout)).strftime(stamp)
        return self.answer({"currentTime": now.strftime(stamp), "triggerTime": trigger})


def make_simulator(**options: Any) -> KrakenSimulator:
    """The ``register_simulators`` factory."""
    return KrakenSimulator(**options)
