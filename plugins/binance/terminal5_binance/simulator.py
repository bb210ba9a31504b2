"""A native Binance on 127.0.0.1: spot (``/api/v3``) and USDⓈ-M (``/fapi``) on one host, for
``terminal5 simulate --exchange binance``, the plugin's tests and the checklist.

Built on ``terminal5.testing.fake_exchange``. It answers with Binance's field names, envelopes
(``{"code": -2010, "msg": ...}``), codes and HTTP statuses (reference §5, §7), and checks what Binance
checks:

* the **signature** (reference §2): HMAC-SHA256 of the raw query string concatenated with the raw body,
  ``signature`` last, keyed by the account's secret (-1022 otherwise); ``X-MBX-APIKEY`` must name an
  account (-2015, HTTP 401); ``timestamp`` within ``recvWindow`` (default 5000, max 60000) of the server
  clock and at most 1000 ms ahead (-1021);
* mandatory and forbidden parameters per order type (-1102/-1106), unknown symbols (-1121), symbols not
  trading (-1013 "Market is closed."), filters (-1013 ``Filter failure: LOT_SIZE`` / ``PRICE_FILTER`` /
  ``NOTIONAL``), stop prices that would trigger at once (-2010, algo -2021), duplicate client ids among
  the account's open orders (spot -2010 "Duplicate order sent.", futures -4116), conditional types sent to
  ``/fapi/v1/order`` (-4120), reduce-only orders without a position to reduce (-2022);
* funds: a spot order reserves its quote (buy, at its limit price or the ask) or its base (sell) and is
  refused -2010 "Account has insufficient balance for requested action." when the account cannot; a fill
  moves the wallet; a cancel releases what is left. A USDⓈ-M order reserves initial margin
  (notional / leverage) from the futures wallet (-2019 "Margin is insufficient.").

Matching: one book per symbol around a last price (``last`` for the BTC markets, a reference price for
the generated ones; ``POST /_sim/price`` changes it), bid and ask ``HALF_SPREAD`` away; market orders and
crossing limits fill at the touch, IOC/FOK leftovers expire, other orders rest until ``fill`` (or
``POST /_sim/fill``) fills them, partly or fully. Accounts are separate: each sees only its own orders.

Size: one class serving two products (spot, USDⓈ-M with its algo orders) and Binance's refusal rules in
the order Binance applies them, hence ~700 lines; the market metadata lives in ``sim_markets``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from terminal5 import jsonutil
from terminal5.decimals import is_multiple
from terminal5.testing.fake_exchange import Account, Call, FakeExchange, Resting, Route, Wallet, json_body
from terminal5.testing.fake_index import Ledger, Postings
from terminal5_binance import constants as c
from terminal5_binance.sim_markets import futures_exchange_info, reference_prices, spot_exchange_info

#: distance of the best bid/ask from ``last`` on the BTC markets
HALF_SPREAD = Decimal("100")
#: the same distance on the other markets, as a fraction of their price
SPREAD = Decimal(1) / Decimal(300)
OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")
#: spot order types -> (mandatory, forbidden) parameters, from "New order (TRADE)" of the spot API
SPOT_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "LIMIT": (("timeInForce", "quantity", "price"), ("stopPrice",)),
    "MARKET": (("quantity",), ("price", "stopPrice", "timeInForce")),
    "STOP_LOSS": (("quantity", "stopPrice"), ("price", "timeInForce")),
    "STOP_LOSS_LIMIT": (("timeInForce", "quantity", "price", "stopPrice"), ()),
    "TAKE_PROFIT": (("quantity", "stopPrice"), ("price", "timeInForce")),
    "TAKE_PROFIT_LIMIT": (("timeInForce", "quantity", "price", "stopPrice"), ()),
    "LIMIT_MAKER": (("quantity", "price"), ("stopPrice", "timeInForce")),
}
#: /fapi/v1/order takes LIMIT and MARKET only since conditional orders moved to the algo endpoint
FUTURES_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "LIMIT": (("timeInForce", "quantity", "price"), ()),
    "MARKET": (("quantity",), ("price",)),
}
ALGO_TYPES = ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")
INSUFFICIENT = "Account has insufficient balance for requested action."
DEFAULT_SPOT_BALANCES = {"USDT": "10000", "BTC": "1", "ETH": "10", "BNB": "50", "USDC": "10000", "FDUSD": "10000"}
DEFAULT_FUTURES_BALANCES = {"USDT": "10000"}
SIGNING = ("timestamp", "recvWindow", "signature")


def _business(params: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in params.items() if k not in SIGNING}


def _triggers_now(kind: str, side: str, stop: Decimal, last: Decimal) -> bool:
    """Stop-loss sells and take-profit buys trigger at or below the stop price; the others at or above."""
    below = kind.startswith("STOP") is (side == "SELL")
    return last <= stop if below else last >= stop


class BinanceSimulator(FakeExchange):
    name = "binance"
    default_balances = DEFAULT_SPOT_BALANCES
    default_price = Decimal("30000")

    def __init__(
        self,
        accounts: Iterable[Account] | Mapping[str, str] | None = None,
        *,
        last: Decimal = Decimal("30000"),
        **kwargs: Any,
    ) -> None:
        self.spot_info, self.futures_info = spot_exchange_info(), futures_exchange_info()
        self.spot_symbols = {s["symbol"]: s for s in self.spot_info["symbols"]}
        self.futures_symbols = {s["symbol"]: s for s in self.futures_info["symbols"]}
        self.futures_wallets: dict[str, Wallet] = {}
        self.account_positions: dict[str, dict[str, Decimal]] = {}
        super().__init__(accounts, **kwargs)
        self.last = last
        self.prices.update(reference_prices())
        self.orders: Ledger = Ledger()  # order id -> payload
        self.owner: dict[int, str] = {}  # order id -> api key
        self.futures_ids: set[int] = set()  # which of ``orders`` live on /fapi
        self.algos: Ledger = Ledger()  # algo id -> payload
        self.algo_owner: dict[int, str] = {}
        self.trades: list[dict[str, Any]] = []
        # indexes over ``orders`` (see ``_index``): (key, futures) -> ids; (key, futures, symbol) -> ids;
        # (key, futures, client id) -> ids; str(orderId) -> ids; (key, futures) -> ids that may be open
        self._by_account, self._by_symbol, self._by_cid, self._by_text = Postings(), Postings(), Postings(), Postings()
        self._maybe_open: dict[tuple[str, bool], dict[int, None]] = {}
        # over ``algos``: key -> ids; (key, clientAlgoId) -> ids; and trades by str(orderId)
        self._algos_of, self._algo_by_cid, self._trades_of = Postings(), Postings(), Postings()
        self.margin_calls: list[dict[str, str]] = []
        #: (method, path) of every request
        self.requests: list[tuple[str, str]] = []
        #: business parameters of every authenticated order placement that reached the matching step
        self.placements: list[dict[str, str]] = []
        #: (path, native code) of every error answered
        self.rejections: list[tuple[str, int]] = []
        self.hedge_mode = False  # the accounts' futures position mode
        self.modifications: list[dict[str, str]] = []  # business params of every PUT /fapi/v1/order
        self.leverage = Decimal(20)
        # ids start from the clock: a restarted simulator never hands out an id a gateway already stored
        self._ids = itertools.count(int(time.time()) * 1000)
        self._trade_ids = itertools.count(1)
        self._info_text: dict[bool, str] = {}

    # --- accounts ------------------------------------------------------------------------------------
    def add_account(self, account: Account) -> None:
        super().add_account(account)
        futures = {a[len("futures:"):]: v for a, v in (account.balances or {}).items() if a.startswith("futures:")}
        opening = futures or {a: Decimal(v) for a, v in DEFAULT_FUTURES_BALANCES.items()}
        self.wallets[account.api_key].free = {
            a: v for a, v in self.wallets[account.api_key].free.items() if not a.startswith("futures:")}
        self.futures_wallets[account.api_key] = Wallet(free=dict(opening))
        self.account_positions[account.api_key] = {}

    def futures_wallet(self, key: str) -> Wallet:
        return self.futures_wallets.setdefault(key, Wallet(free={a: Decimal(v) for a, v in DEFAULT_FUTURES_BALANCES.items()}))

    def _first_key(self) -> str:
        return next(iter(self.accounts))

    @property
    def balances(self) -> dict[str, Decimal]:
        """The first account's free spot balances (tests change them in place)."""
        return self.wallet(self._first_key()).free

    @property
    def futures_available(self) -> Decimal:
        return self.futures_wallet(self._first_key()).available("USDT")

    @futures_available.setter
    def futures_available(self, value: Decimal) -> None:
        self.futures_wallet(self._first_key()).free["USDT"] = Decimal(value)

    @property
    def positions(self) -> dict[str, Decimal]:
        """The first account's one-way positions, native symbol -> signed amount."""
        return self.account_positions.setdefault(self._first_key(), {})

    # --- prices ----------------------------------------------------------------------------------------
    def last_of(self, symbol: str, futures: bool) -> Decimal:
        return self.prices.get(f"fapi:{symbol}" if futures else symbol, self.last)

    def touch(self, symbol: str, futures: bool, side: str) -> Decimal:
        """The price a taker order of ``side`` fills at: the ask for a buy, the bid for a sell."""
        last = self.prices.get(f"fapi:{symbol}" if futures else symbol)
        if last is None:  # the BTC markets follow ``last``, bid and ask HALF_SPREAD away
            last, half = self.last, HALF_SPREAD
        else:
            half = (last * SPREAD).quantize(Decimal(1).scaleb(last.as_tuple().exponent))
        return last + half if side == "BUY" else last - half

    # --- test controls ---------------------------------------------------------------------------------
    def fill(self, order_id: int, qty: Any, price: Any, fee: str = "0", fee_asset: str = "USDT") -> None:
        """Fill ``qty`` of an order at ``price`` (partial fills on demand)."""
        order = self.orders[order_id]
        qty_d, price_d, fee_d = Decimal(str(qty)), Decimal(str(price)), Decimal(str(fee))
        executed = Decimal(order["executedQty"]) + qty_d
        order["executedQty"] = str(executed)
        order["status"] = "FILLED" if executed == Decimal(order["origQty"]) else "PARTIALLY_FILLED"
        order["updateTime"] = self.now_ms()
        futures = order_id in self.futures_ids
        if order["status"] in OPEN_STATUSES:  # a fill may reopen an order the open-orders index let go
            self._maybe_open.setdefault((self.owner.get(order_id, ""), futures), {})[order_id] = None
        if not futures:
            order["cummulativeQuoteQty"] = str(Decimal(order["cummulativeQuoteQty"]) + qty_d * price_d)
            order.setdefault("fills", []).append({"price": str(price), "qty": str(qty), "commission": fee,
                                                  "commissionAsset": fee_asset, "tradeId": next(self._trade_ids)})
        else:
            order["cumQty"] = str(executed)
            order["cumQuote"] = str(Decimal(order["cumQuote"]) + qty_d * price_d)
            order["avgPrice"] = str(Decimal(order["cumQuote"]) / executed)
        self._settle(order_id, order, qty_d, price_d, fee_d if fee_asset == self._quote(order, futures) else Decimal(0))
        self.trades.append({"symbol": order["symbol"], "id": next(self._trade_ids), "orderId": order_id,
                            "orderListId": -1, "price": str(price), "qty": str(qty), "quoteQty": str(qty_d * price_d),
                            "commission": fee, "commissionAsset": fee_asset, "time": self.now_ms(),
                            "isBuyer": order["side"] == "BUY", "isMaker": False, "isBestMatch": True,
                            "futures": futures, "side": order["side"], "positionSide": order.get("positionSide", "BOTH"),
                            "realizedPnl": "0", "marginAsset": "USDT", "buyer": order["side"] == "BUY", "maker": False})
        self._trades_of.add(str(order_id), self.trades[-1])

    def _quote(self, order: Mapping[str, Any], futures: bool) -> str:
        info = (self.futures_symbols if futures else self.spot_symbols).get(order["symbol"], {})
        return str(info.get("quoteAsset", "USDT"))

    def _settle(self, order_id: int, order: Mapping[str, Any], qty: Decimal, price: Decimal, fee: Decimal) -> None:
        resting = self.book.get(order_id)
        if resting is None:
            return  # an order a test put on the book by hand: nothing reserved
        futures = order_id in self.futures_ids
        if futures:
            if resting.reserved:
                used = min(resting.reserved, qty * price / self.leverage)
                resting.reserved -= used  # the margin now backs the position
            resting.filled += qty
            positions = self.account_positions.setdefault(resting.api_key, {})
            signed = qty if order["side"] == "BUY" else -qty
            positions[order["symbol"]] = positions.get(order["symbol"], Decimal(0)) + signed
        else:
            info = self.spot_symbols[order["symbol"]]
            self.settle_fill(resting, qty, price, base=info["baseAsset"], quote=info["quoteAsset"], fee=fee)
        if order["status"] not in OPEN_STATUSES:
            self._release(order_id)

    def _release(self, order_id: int) -> None:
        resting = self.book.get(order_id)
        if resting is None or not resting.is_open:
            return
        if order_id in self.futures_ids:
            if resting.reserved:
                self.futures_wallet(resting.api_key).release("USDT", resting.reserved)
            resting.reserved, resting.is_open = Decimal(0), False
        else:
            self.release_order(resting)

    def report_status_once(self, status: str) -> None:
        """The next placed order is accepted and reported (and stored) with ``status``."""
        self.add_fault({"endpoint": "@place", "kind": "unknown_status", "value": status})

    def answer_late_once(self, delay: float) -> None:
        """The next placed order is accepted at once, its answer sent ``delay`` seconds later."""
        self.add_fault({"endpoint": "@place", "kind": "timeout", "after_accept": True, "delay": delay})

    def placed(self, client_order_id: str) -> list[dict[str, str]]:
        """What reached the matching step for this native client id (orders and algo orders)."""
        return [p for p in self.placements if client_order_id in (p.get("newClientOrderId"), p.get("clientAlgoId"))]

    def order_id_from(self, value: Any) -> int:
        return int(value)

    # --- the exchange's envelopes ----------------------------------------------------------------------
    def error_response(self, status: int, code: Any, message: str) -> web.StreamResponse:
        return json_body({"code": int(code) if str(code).lstrip("-").isdigit() else -1000, "msg": message}, status)

    def _error(self, code: int, msg: str, status: int = 400) -> web.StreamResponse:
        return self.error_response(status, code, msg)

    def not_found_response(self, call: Call) -> web.StreamResponse:
        if call.request.method == "DELETE":
            return self._error(-2011, "Unknown order sent.")
        return self._error(-2013, "Order does not exist.")

    def rate_limit_response(self, call: Call, status: int, retry_after: float | None) -> web.StreamResponse:
        if status == 418:
            msg = "Way too many requests; IP(127.0.0.1) banned until 1700000000000. Please use the websocket for live updates to avoid bans."
        else:
            msg = "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute. Please use the websocket for live updates to avoid polling the API."
        response = self._error(-1003, msg, status)
        if retry_after is not None:
            response.headers["Retry-After"] = str(int(retry_after)) if retry_after == int(retry_after) else f"{retry_after:g}"
        return response

    def server_error_response(self, call: Call, status: int) -> web.StreamResponse:
        return self._error(-1007, "Timeout waiting for response from backend server. Send status unknown; "
                                  "execution status unknown.", status)

    def presented_key(self, request: web.Request) -> str:
        return request.headers.get(c.API_KEY_HEADER, "")

    def client_id_of(self, call: Call) -> str | None:
        return call.params.get("newClientOrderId") or call.params.get("clientAlgoId")

    # --- the signature check (reference §2) ------------------------------------------------------------
    async def authenticate(self, call: Call) -> Account | web.StreamResponse:
        account = self.accounts.get(self.presented_key(call.request))
        if account is None:
            return self._error(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        query = call.request.rel_url.raw_query_string
        body = call.body if call.request.method != "GET" else ""
        if "signature=" not in query and "signature=" not in body:
            return self._error(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        # the signature goes last, in whichever part carries it; what precedes it is what was signed
        if "signature=" in body:
            payload, _, sig = (query + body).rpartition("&signature=")
        else:
            signed_query, _, sig = query.rpartition("&signature=")
            payload = signed_query + body
        expected = hmac.new(account.api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sig.lower(), expected):
            return self._error(-1022, "Signature for this request is not valid.")
        stamp = call.params.get("timestamp", "")
        if not stamp.isdigit():
            return self._error(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        window = int(call.params.get("recvWindow", c.DEFAULT_RECV_WINDOW) or 0)
        if window > c.MAX_RECV_WINDOW:
            return self._error(-1131, "recvWindow must be less than 60000")
        now = self.now_ms()
        if int(stamp) >= now + 1000:
            return self._error(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - int(stamp) > window:
            return self._error(-1021, "Timestamp for this request is outside of the recvWindow.")
        return account

    # --- routes ----------------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        r = []
        for prefix, family in (("/api/v3", "spot"), ("/fapi/v1", "futures")):
            r += [
                Route("GET", f"{prefix}/exchangeInfo", self._exchange_info, f"{family}.exchangeInfo", private=False),
                Route("GET", f"{prefix}/time", self._time, f"{family}.time", private=False),
                Route("GET", f"{prefix}/ping", self._ping, f"{family}.ping", private=False),
                Route("POST", f"{prefix}/order", self._place, f"{family}.order.place", role="place"),
                Route("GET", f"{prefix}/order", self._query, f"{family}.order.get", role="lookup"),
                Route("DELETE", f"{prefix}/order", self._cancel, f"{family}.order.cancel", role="cancel"),
                Route("GET", f"{prefix}/openOrders", self._open_orders, f"{family}.orders.open", role="lookup"),
                Route("GET", f"{prefix}/allOrders", self._all_orders, f"{family}.orders.all", role="lookup"),
            ]
        return [
            *r,
            Route("GET", "/api/v3/account", self._spot_account, "spot.account"),
            Route("GET", "/api/v3/myTrades", self._my_trades, "spot.trades"),
            Route("PUT", "/fapi/v1/order", self._modify, "futures.order.modify"),
            Route("GET", "/fapi/v1/userTrades", self._my_trades, "futures.trades"),
            Route("GET", "/fapi/v3/balance", self._futures_balance, "futures.balance"),
            Route("GET", "/fapi/v3/positionRisk", self._position_risk, "futures.positions"),
            Route("GET", "/fapi/v1/positionSide/dual", self._position_mode, "futures.positionMode"),
            Route("POST", "/fapi/v1/marginType", self._margin_type, "futures.marginType"),
            Route("POST", "/fapi/v1/algoOrder", self._place_algo, "futures.algo.place", role="place"),
            Route("GET", "/fapi/v1/algoOrder", self._query_algo, "futures.algo.get", role="lookup"),
            Route("DELETE", "/fapi/v1/algoOrder", self._cancel_algo, "futures.algo.cancel", role="cancel"),
            Route("GET", "/fapi/v1/openAlgoOrders", self._open_algos, "futures.algo.open", role="lookup"),
            Route("GET", "/fapi/v1/allAlgoOrders", self._all_algos, "futures.algo.all", role="lookup"),
        ]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if not request.path.startswith("/_sim/"):
            self.requests.append((request.method, request.path))
        response = await super()._dispatch(request)
        if response.status >= 400 and isinstance(response, web.Response) and response.text:
            try:
                code = jsonutil.loads(response.text).get("code")
                self.rejections.append((request.path, int(code)))
            except (ValueError, AttributeError, TypeError):
                pass
        return response

    @staticmethod
    def _futures(call: Call) -> bool:
        return call.request.path.startswith("/fapi")

    def _json(self, data: Any, status: int = 200) -> web.StreamResponse:
        return json_body(data, status, {"X-MBX-USED-WEIGHT-1M": "1"})

    async def _exchange_info(self, call: Call) -> web.StreamResponse:
        # ~3 MB of JSON: encoded once (strings and ints only, so the stdlib encoder is exact), then served
        # with the current server time in front
        futures = self._futures(call)
        if futures not in self._info_text:
            info = self.futures_info if futures else self.spot_info
            self._info_text[futures] = json.dumps({k: v for k, v in info.items() if k != "serverTime"},
                                                  separators=(",", ":"))[1:]
        text = f'{{"serverTime":{self.now_ms()},{self._info_text[futures]}'
        return web.Response(text=text, content_type="application/json", headers={"X-MBX-USED-WEIGHT-1M": "20"})

    async def _time(self, call: Call) -> web.StreamResponse:
        return self._json({"serverTime": self.now_ms()})

    async def _ping(self, call: Call) -> web.StreamResponse:
        return self._json({})

    async def _spot_account(self, call: Call) -> web.StreamResponse:
        wallet = self.wallet(call.api_key)
        balances = [{"asset": a, "free": f"{wallet.available(a):.8f}", "locked": f"{wallet.locked.get(a, Decimal(0)):.8f}"}
                    for a in wallet.assets()]
        return self._json({"makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
                           "commissionRates": {"maker": "0.00100000", "taker": "0.00100000", "buyer": "0.00000000",
                                               "seller": "0.00000000"},
                           "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
                           "requireSelfTradePrevention": False, "preventSor": False, "updateTime": self.now_ms(),
                           "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"], "uid": 354937868})

    async def _futures_balance(self, call: Call) -> web.StreamResponse:
        wallet = self.futures_wallet(call.api_key)
        out = []
        for asset in wallet.assets():
            free, locked = wallet.available(asset), wallet.locked.get(asset, Decimal(0))
            out.append({"accountAlias": "SgsR", "asset": asset, "balance": str(free + locked),
                        "crossWalletBalance": str(free + locked), "crossUnPnl": "0", "availableBalance": str(free),
                        "maxWithdrawAmount": str(free), "marginAvailable": True, "updateTime": self.now_ms()})
        return self._json(out)

    async def _position_risk(self, call: Call) -> web.StreamResponse:
        positions = self.account_positions.get(call.api_key, {})
        return self._json([{"symbol": sym, "positionSide": "BOTH", "positionAmt": str(amount), "entryPrice": "0",
                            "breakEvenPrice": "0", "markPrice": str(self.last_of(sym, True)), "unRealizedProfit": "0",
                            "liquidationPrice": "0", "leverage": str(self.leverage), "marginType": "cross",
                            "isolated": False, "isolatedMargin": "0", "notional": "0", "updateTime": self.now_ms()}
                           for sym, amount in positions.items() if amount
                           if call.params.get("symbol") in (None, sym)])

    async def _position_mode(self, call: Call) -> web.StreamResponse:
        return self._json({"dualSidePosition": self.hedge_mode})

    async def _margin_type(self, call: Call) -> web.StreamResponse:
        self.margin_calls.append(dict(call.params))
        return self._json({"code": 200, "msg": "success"})

    def _index(self) -> None:
        """Index the orders added since the last lookup (placed here, or put in ``orders`` by a test, with
        its ``owner`` and ``futures_ids``, before its next request)."""
        for order_id in self.orders.fresh():
            order, key, futures = self.orders[order_id], self.owner.get(order_id, ""), order_id in self.futures_ids
            self._by_account.add((key, futures), order_id)
            self._by_symbol.add((key, futures, order.get("symbol")), order_id)
            self._by_cid.add((key, futures, order.get("clientOrderId")), order_id)
            self._by_text.add(str(order.get("orderId")), order_id)
            self._maybe_open.setdefault((key, futures), {})[order_id] = None

    def _orders(self, ids: list[int], key: str, futures: bool, symbol: str | None = None) -> list[dict[str, Any]]:
        """The orders of ``ids`` (ledger order) that are ``key``'s on this product, in ``symbol`` if given."""
        out = []
        for order_id in self.orders.in_order(ids):
            order = self.orders[order_id]
            if (order_id in self.futures_ids) is futures and self.owner.get(order_id) == key and symbol in (None, order["symbol"]):
                out.append(order)
        return out

    def _mine(self, key: str, futures: bool, symbol: str | None = None) -> list[dict[str, Any]]:
        self._index()
        ids = self._by_account.get((key, futures)) if symbol is None else self._by_symbol.get((key, futures, symbol))
        return self._orders(ids, key, futures, symbol)

    def _find(self, call: Call) -> dict[str, Any] | None:
        """The account's first order (in placement order) with this ``orderId`` or ``origClientOrderId``."""
        self._index()
        params, key, futures = call.params, call.api_key, self._futures(call)
        candidates = [*self._by_text.get(params.get("orderId", "")),
                      *self._by_cid.get((key, futures, params.get("origClientOrderId")))]
        for order in self._orders(candidates, key, futures, params.get("symbol")):
            if str(order["orderId"]) == params.get("orderId") or order["clientOrderId"] == params.get(
                "origClientOrderId"
            ):
                return order
        return None

    @staticmethod
    def _view(order: Mapping[str, Any]) -> dict[str, Any]:
        """Query/cancel/list shape: only the place answer (newOrderRespType=FULL) carries fills."""
        return {k: v for k, v in order.items() if k not in ("fills", "transactTime")}

    async def _open_orders(self, call: Call) -> web.StreamResponse:
        self._index()
        key, futures = call.api_key, self._futures(call)
        maybe = self._maybe_open.setdefault((key, futures), {})
        for order_id in [i for i in maybe if i not in self.orders or self.orders[i]["status"] not in OPEN_STATUSES]:
            del maybe[order_id]  # closed: a later fill that reopens it puts it back
        return self._json([self._view(o) for o in self._orders(list(maybe), key, futures, call.params.get("symbol"))])

    async def _all_orders(self, call: Call) -> web.StreamResponse:
        if "symbol" not in call.params:
            return self._error(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        limit = min(int(call.params.get("limit", "500")), 1000)
        key, futures, symbol = call.api_key, self._futures(call), call.params["symbol"]
        self._index()
        # the last ``limit`` of the account's orders in this symbol, found from the end of its index (which
        # is in placement order; a key seen twice was deleted and put back: its later place counts)
        newest: list[dict[str, Any]] = []
        seen: set[int] = set()
        for order_id in reversed(self._by_symbol.get((key, futures, symbol))) if limit > 0 else ():
            if order_id in seen or order_id not in self.orders:
                continue
            seen.add(order_id)
            newest += self._orders([order_id], key, futures, symbol)
            if len(newest) == limit:
                break
        answer = newest[::-1] if limit > 0 else self._mine(key, futures, symbol)[-limit:]
        return self._json([self._view(o) for o in answer])

    async def _my_trades(self, call: Call) -> web.StreamResponse:
        if "symbol" not in call.params:
            return self._error(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        futures = self._futures(call)
        wanted = call.params.get("orderId")
        mine = [t for t in (self.trades if wanted is None else self._trades_of.get(wanted))
                if t["futures"] is futures and t["symbol"] == call.params["symbol"]
                and self.owner.get(t["orderId"]) == call.api_key
                and call.params.get("orderId") in (None, str(t["orderId"]))]
        return self._json([{k: v for k, v in t.items() if k != "futures"} for t in mine])

    async def _query(self, call: Call) -> web.StreamResponse:
        order = self._find(call)
        if order is None:
            return self.not_found_response(call)
        return self._json(self._view(order))

    async def _cancel(self, call: Call) -> web.StreamResponse:
        order = self._find(call)
        if order is None or order["status"] not in OPEN_STATUSES:
            return self._error(-2011, "Unknown order sent.")
        order["status"], order["updateTime"] = "CANCELED", self.now_ms()
        self._release(int(order["orderId"]))
        view = self._view(order)
        if not self._futures(call):
            view.update(origClientOrderId=order["clientOrderId"], clientOrderId="cxl")
        return self._json(view)

    async def _modify(self, call: Call) -> web.StreamResponse:
        order = self._find(call)
        params = call.params
        if order is None or order["type"] != "LIMIT" or order["status"] not in OPEN_STATUSES:
            return self._error(-2011, "Unknown order sent.")
        if params.get("side") != order["side"]:
            return self._error(-1102, "Mandatory parameter 'side' was not sent, was empty/null, or malformed.")
        order["origQty"], order["price"], order["updateTime"] = params["quantity"], params["price"], self.now_ms()
        resting = self.book.get(int(order["orderId"]))
        if resting is not None:
            resting.quantity, resting.price = Decimal(params["quantity"]), Decimal(params["price"])
        self.modifications.append(_business(params))
        return self._json(self._view(order))

    # --- placement -------------------------------------------------------------------------------------
    def _filters(self, info: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
        return {f["filterType"]: f for f in info.get("filters", ())}

    def _filter_failure(self, info: Mapping[str, Any], params: Mapping[str, str], futures: bool) -> str | None:
        filters = self._filters(info)
        quantity = Decimal(params["quantity"])
        lot = filters.get("MARKET_LOT_SIZE" if params["type"] == "MARKET" and futures else "LOT_SIZE", {})
        minimum, maximum, step = (Decimal(str(lot.get(k, "0"))) for k in ("minQty", "maxQty", "stepSize"))
        if quantity < minimum or (maximum and quantity > maximum) or (
            step and not is_multiple(quantity - (minimum if futures else 0), step)
        ):
            return "LOT_SIZE"
        for name in ("price", "stopPrice"):
            if name in params:
                rule = filters.get("PRICE_FILTER", {})
                price = Decimal(params[name])
                low, high, tick = (Decimal(str(rule.get(k, "0"))) for k in ("minPrice", "maxPrice", "tickSize"))
                if (low and price < low) or (high and price > high) or (tick and not is_multiple(price - (low if futures else 0), tick)):
                    return "PRICE_FILTER"
        notional_rule = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
        minimum_notional = Decimal(str(notional_rule.get("minNotional", notional_rule.get("notional", "0"))))
        price = Decimal(params["price"]) if "price" in params else self.touch(params["symbol"], futures, params["side"])
        if params["type"] == "MARKET" and not futures and not notional_rule.get("applyMinToMarket", True):
            return None
        if minimum_notional and quantity * price < minimum_notional and not params.get("reduceOnly") == "true":
            return "NOTIONAL" if not futures else "MIN_NOTIONAL"
        return None

    def _refuse(self, call: Call) -> web.StreamResponse | None:
        """Binance's answers to an order it will not accept, in the order it checks them."""
        params, futures = call.params, self._futures(call)
        info = (self.futures_symbols if futures else self.spot_symbols).get(params.get("symbol", ""))
        if info is None:
            return self.refuse(call, 400, -1121, "Invalid symbol.")
        kind = params.get("type", "")
        table = FUTURES_TYPES if futures else SPOT_TYPES
        if kind not in table:
            if futures and kind in ALGO_TYPES:
                return self.refuse(call, 400, -4120, "Order type not supported for this endpoint. Please use the Algo Order API.")
            return self.refuse(call, 400, -1116, "Invalid orderType.")
        for name in ("side", *table[kind][0]):
            if not params.get(name):
                return self.refuse(call, 400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        for name in table[kind][1]:
            if name in params:
                return self.refuse(call, 400, -1106, f"Parameter '{name}' sent when not required.")
        if info["status"] != "TRADING":
            return self.refuse(call, 400, -1013, "Market is closed.")
        if not params.get("newClientOrderId"):  # Binance generates one when none is sent
            params["newClientOrderId"] = f"sim{self.request_count}x{len(self.orders)}"
        cid = params["newClientOrderId"]
        self._index()
        if any(o["clientOrderId"] == cid and o["status"] in OPEN_STATUSES
               for o in self._orders(self._by_cid.get((call.api_key, futures, cid)), call.api_key, futures)):
            if futures:
                return self.refuse(call, 400, -4116, "ClientOrderId is duplicated.", duplicate=True)
            return self.refuse(call, 400, -2010, "Duplicate order sent.", duplicate=True)
        failure = self._filter_failure(info, params, futures)
        if failure is not None:
            return self.refuse(call, 400, -4164 if failure == "MIN_NOTIONAL" else -1013, f"Filter failure: {failure}")
        side = params["side"]
        if "stopPrice" in params and _triggers_now(kind, side, Decimal(params["stopPrice"]), self.last_of(params["symbol"], futures)):
            return self.refuse(call, 400, -2010, "Stop price would trigger immediately.")
        if futures and params.get("reduceOnly") == "true":
            if self.hedge_mode:
                return self.refuse(call, 400, -1106, "Parameter 'reduceOnly' sent when not required.")
            position = self.account_positions.get(call.api_key, {}).get(params["symbol"], Decimal(0))
            reducing = (position > 0 and side == "SELL") or (position < 0 and side == "BUY")
            if not reducing or Decimal(params["quantity"]) > abs(position):
                return self.refuse(call, 400, -2022, "ReduceOnly Order is rejected.")
        return None

    def _reserve(self, call: Call, order_id: int, futures: bool) -> bool:
        params = call.params
        info = (self.futures_symbols if futures else self.spot_symbols)[params["symbol"]]
        side = "buy" if params["side"] == "BUY" else "sell"
        price = Decimal(params["price"]) if "price" in params else self.touch(params["symbol"], futures, params["side"])
        resting = Resting(order_id=order_id, api_key=call.api_key, client_id=params["newClientOrderId"],
                          symbol=params["symbol"], side=side, quantity=Decimal(params["quantity"]),
                          price=Decimal(params["price"]) if "price" in params else None)
        if futures:
            if params.get("reduceOnly") != "true":
                margin = resting.quantity * price / self.leverage
                if not self.futures_wallet(call.api_key).reserve("USDT", margin):
                    return False
                resting.reserved_asset, resting.reserved = "USDT", margin
        elif not self.reserve_order(resting, base=info["baseAsset"], quote=info["quoteAsset"], price=price):
            return False
        self.book[order_id] = resting
        return True

    async def _place(self, call: Call) -> web.StreamResponse:
        refused = self._refuse(call)
        if refused is not None:
            return refused
        params, futures = call.params, self._futures(call)
        order_id = next(self._ids)
        if not self._reserve(call, order_id, futures):
            if futures:
                return self.refuse(call, 400, -2019, "Margin is insufficient.")
            return self.refuse(call, 400, -2010, INSUFFICIENT)
        self.placements.append(_business(params))
        now = self.now_ms()
        order: dict[str, Any] = {
            "symbol": params["symbol"], "orderId": order_id, "clientOrderId": params["newClientOrderId"],
            "price": params.get("price", "0"), "origQty": params["quantity"], "executedQty": "0", "status": "NEW",
            "timeInForce": params.get("timeInForce", "GTC"), "type": params["type"], "side": params["side"],
            "time": now, "updateTime": now,
        }
        if "stopPrice" in params:
            order["stopPrice"] = params["stopPrice"]
        if futures:
            order.update({"avgPrice": "0", "cumQty": "0", "cumQuote": "0", "origType": params["type"],
                          "reduceOnly": params.get("reduceOnly") == "true", "closePosition": False,
                          "positionSide": params.get("positionSide", "BOTH"), "workingType": "CONTRACT_PRICE",
                          "priceProtect": False, "priceMatch": "NONE", "selfTradePreventionMode": "EXPIRE_MAKER",
                          "goodTillDate": int(params.get("goodTillDate", "0"))})
            self.futures_ids.add(order_id)
        else:
            order.update({"orderListId": -1, "cummulativeQuoteQty": "0", "origQuoteOrderQty": "0",
                          "transactTime": now, "workingTime": now, "selfTradePreventionMode": "EXPIRE_MAKER",
                          "fills": []})
        self.orders[order_id] = order
        self.owner[order_id] = call.api_key
        self.accept(call, params["newClientOrderId"], order_id)
        self._match(order, futures)
        if call.status_override is not None:
            order["status"] = call.status_override
        return self._json(order if futures else self._spot_answer(order, params))

    @staticmethod
    def _spot_answer(order: dict[str, Any], params: Mapping[str, str]) -> dict[str, Any]:
        """``newOrderRespType``: ACK (ids only), RESULT (no fills) or FULL; MARKET and LIMIT default to FULL."""
        kind = params.get("newOrderRespType") or ("FULL" if order["type"] in ("MARKET", "LIMIT") else "ACK")
        if kind == "ACK":
            return {k: order[k] for k in ("symbol", "orderId", "orderListId", "clientOrderId", "transactTime")}
        return order if kind == "FULL" else {k: v for k, v in order.items() if k != "fills"}

    def _match(self, order: dict[str, Any], futures: bool) -> None:
        """Against the book: market orders fill at the touch, crossing limits too; IOC/FOK leftovers expire."""
        buy = order["side"] == "BUY"
        touch = self.touch(order["symbol"], futures, order["side"])
        if order["type"] == "MARKET":
            self.fill(order["orderId"], order["origQty"], str(touch), fee="0")
        elif order["type"] in ("LIMIT", "LIMIT_MAKER"):
            price = Decimal(order["price"])
            crosses = (price >= touch) if buy else (price <= touch)
            if crosses and order["type"] == "LIMIT_MAKER":
                order["status"] = "EXPIRED"  # Binance answers -2010 "would immediately match and take"
                self._release(order["orderId"])
            elif crosses:
                self.fill(order["orderId"], order["origQty"], str(touch))
            elif order["timeInForce"] in ("IOC", "FOK"):
                order["status"] = "EXPIRED"
                self._release(order["orderId"])

    # --- USDⓈ-M conditional (algo) orders ----------------------------------------------------------------
    def _refuse_algo(self, call: Call) -> web.StreamResponse | None:
        params = call.params
        if params.get("symbol") not in self.futures_symbols:
            return self.refuse(call, 400, -1121, "Invalid symbol.")
        if params.get("algoType") != "CONDITIONAL":
            return self.refuse(call, 400, -1102, "Mandatory parameter 'algoType' was not sent, was empty/null, or malformed.")
        kind = params.get("type", "")
        if kind not in ALGO_TYPES:
            return self.refuse(call, 400, -1116, "Invalid orderType.")
        for name in ("quantity", "triggerPrice", "clientAlgoId", *(("price",) if kind in ("STOP", "TAKE_PROFIT") else ())):
            if not params.get(name):
                return self.refuse(call, 400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        self._index_algos()
        if any(a["clientAlgoId"] == params["clientAlgoId"] and a["algoStatus"] == "NEW" and self.algo_owner[i] == call.api_key
               for i in self._algo_by_cid.get((call.api_key, params["clientAlgoId"])) if (a := self.algos.get(i)) is not None):
            return self.refuse(call, 400, -4116, "ClientOrderId is duplicated.", duplicate=True)
        if _triggers_now(kind, params["side"], Decimal(params["triggerPrice"]), self.last_of(params["symbol"], True)):
            return self.refuse(call, 400, -2021, "Order would immediately trigger.")
        return None

    async def _place_algo(self, call: Call) -> web.StreamResponse:
        refused = self._refuse_algo(call)
        if refused is not None:
            return refused
        params = call.params
        self.placements.append(_business(params))
        algo_id = next(self._ids)
        now = self.now_ms()
        algo = {"algoId": algo_id, "clientAlgoId": params["clientAlgoId"], "algoType": "CONDITIONAL",
                "orderType": params["type"], "symbol": params["symbol"], "side": params["side"],
                "positionSide": params.get("positionSide", "BOTH"), "timeInForce": params.get("timeInForce", "GTC"),
                "quantity": params["quantity"], "algoStatus": call.status_override or "NEW",
                "triggerPrice": params["triggerPrice"], "price": params.get("price", "0"),
                "workingType": params.get("workingType", "CONTRACT_PRICE"), "priceMatch": "NONE",
                "closePosition": params.get("closePosition") == "true", "priceProtect": False,
                "reduceOnly": params.get("reduceOnly") == "true", "createTime": now, "updateTime": now,
                "triggerTime": 0, "goodTillDate": 0}
        self.algos[algo_id] = algo
        self.algo_owner[algo_id] = call.api_key
        self.accept(call, params["clientAlgoId"], algo_id)
        return self._json(algo)

    def _index_algos(self) -> None:
        for algo_id in self.algos.fresh():
            key = self.algo_owner.get(algo_id, "")
            self._algos_of.add(key, algo_id)
            self._algo_by_cid.add((key, self.algos[algo_id]["clientAlgoId"]), algo_id)

    def _key_of(self, text: str | None) -> int | None:
        """The int id whose ``str`` is exactly ``text`` (how the lookups compare ids), else None."""
        return int(text) if text and text.isdigit() and str(int(text)) == text else None

    def _find_algo(self, call: Call) -> dict[str, Any] | None:
        self._index_algos()
        wanted_id, wanted_cid = call.params.get("algoId"), call.params.get("clientAlgoId")
        by_id = self._key_of(wanted_id)
        candidates = [*([by_id] if by_id is not None else []), *self._algo_by_cid.get((call.api_key, wanted_cid))]

        def matches(algo_id: int) -> bool:
            algo = self.algos[algo_id]
            return self.algo_owner.get(algo_id) == call.api_key and (
                str(algo_id) == wanted_id or algo["clientAlgoId"] == wanted_cid)
        found = self.algos.first(candidates, matches)
        return None if found is None else self.algos[found]

    async def _query_algo(self, call: Call) -> web.StreamResponse:
        algo = self._find_algo(call)
        return self._json(algo) if algo is not None else self._error(-2013, "Order does not exist.")

    async def _cancel_algo(self, call: Call) -> web.StreamResponse:
        algo = self._find_algo(call)
        if algo is None or algo["algoStatus"] != "NEW":
            return self._error(-2011, "Unknown order sent.")
        algo["algoStatus"], algo["updateTime"] = "CANCELED", self.now_ms()
        return self._json({"algoId": algo["algoId"], "clientAlgoId": algo["clientAlgoId"], "code": "200", "msg": "success"})

    def _my_algos(self, call: Call) -> list[dict[str, Any]]:
        self._index_algos()
        mine = []
        for algo_id in self.algos.in_order(self._algos_of.get(call.api_key)):
            algo = self.algos[algo_id]
            if self.algo_owner.get(algo_id) == call.api_key and call.params.get("symbol") in (None, algo["symbol"]):
                mine.append(algo)
        return mine

    async def _open_algos(self, call: Call) -> web.StreamResponse:
        return self._json([a for a in self._my_algos(call) if a["algoStatus"] == "NEW"])

    async def _all_algos(self, call: Call) -> web.StreamResponse:
        return self._json(self._my_algos(call))


def make_simulator(**options: Any) -> BinanceSimulator:
    """The ``register_simulators`` factory."""
    return BinanceSimulator(**options)
