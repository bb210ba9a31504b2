"""The native Bitget client (``terminal5.contract.ExchangeClient``): one instance per gateway, serving every
account concurrently.

It never stores credentials: each call brings its ``CallContext``. The only shared state is per exchange:
the server-time offset (per API host), the market cache (memory and disk) and the symbol indexes.
Rate limits are the core's shared budgets (``ExchangeSpec.rate_limits``), applied by the transport.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from terminal5 import jsonutil
from terminal5.contract import CallContext, HttpRequest, NativeCall, NativePayload, OrderRef, Transport
from terminal5.errors import (
    AuthenticationError,
    ExchangeError,
    OrderNotFound,
    UnsupportedParameterError,
)
from terminal5.models import Balance, Market, MarketType, OrderStatus, Position, Trade
from terminal5.timeutil import from_ms
from terminal5_bitget import constants as c
from terminal5_bitget.auth import encode_body, encode_query, public_headers, sign
from terminal5_bitget.clientids import modified_client_id
from terminal5_bitget.convert import (
    completed_from_request,
    is_plan_id,
    mix_balances,
    native_status_of,
    position_from_native,
    spot_balances,
    strip_plan,
    trade_from_native,
)
from terminal5_bitget.markets import check_price, check_quantity, dec, fmt, parse_contracts, parse_symbols
from terminal5_bitget.symbols import SymbolIndex, product_type_of, split_native

log = logger.bind(exchange=c.EXCHANGE)

DEFAULT_MARKETS_TTL_S = 24 * 3600
CACHE_DIR_ENV = "TERMINAL5_BITGET_CACHE_DIR"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def default_cache_dir() -> Path | None:
    """``$TERMINAL5_BITGET_CACHE_DIR`` (``off`` disables the disk cache), else ``$TERMINAL5_DATA_DIR/bitget``,
    else the XDG cache dir."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "none") else Path(configured)
    if os.environ.get("TERMINAL5_DATA_DIR"):
        return Path(os.environ["TERMINAL5_DATA_DIR"]) / "bitget"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "terminal5" / "bitget"


def to_ms(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(milliseconds=1)


def _items(data: Any, *keys: str) -> list[Any]:
    """A list answer, or the list under one of ``keys`` (``entrustedList``, ``orderList``, ``fillList``);
    Bitget answers ``null`` for an empty list on some endpoints."""
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping):
        for key in keys:
            value = data.get(key)
            if isinstance(value, list):
                return value
    return []


def decided_at_once(params: Mapping[str, str]) -> bool:
    """True for an order that cannot rest on the book (market, IOC, FOK): its outcome (fills, or cancelled
    unfilled) exists as soon as the place call returns, but the place answer holds only ids."""
    return params.get("orderType") == "market" or params.get("force") in c.DECIDED_AT_ONCE_FORCES


def reads_back(options: Mapping[str, Any] | None, params: Mapping[str, str], plan: bool, default: str) -> bool:
    """Whether a placed order is read back (the broker's ``read_back`` option). A plan (trigger) order rests
    until triggered whatever its ``orderType``/``force`` (they apply to the order it triggers)."""
    mode = str((options or {}).get("read_back") or default)
    return mode == "always" or (not plan and decided_at_once(params))


class BitgetClient:
    """Implements ``ExchangeClient`` for Bitget V2 spot and V2 mix (perpetuals)."""

    def __init__(
        self,
        transport: Transport,
        *,
        cache_dir: Path | str | None = None,
        use_disk_cache: bool = True,
        markets_ttl_s: float = DEFAULT_MARKETS_TTL_S,
        wall_clock: Callable[[], float] = time.time,
        read_back: str = c.DEFAULT_READ_BACK,
    ) -> None:
        self.transport = transport
        #: the ``read_back`` mode of brokers that do not set the option
        self.read_back = read_back
        self.cache_dir = Path(cache_dir) if cache_dir is not None else (default_cache_dir() if use_disk_cache else None)
        self.markets_ttl_s = markets_ttl_s
        self._wall_clock = wall_clock
        #: server time minus local time, per API base URL
        self.offsets: dict[str, int] = {}
        self._indexes: dict[tuple[str, bool], SymbolIndex] = {}
        self._markets_lock = asyncio.Lock()

    # --- plumbing -----------------------------------------------------------------------------------------

    def now_ms(self, ctx: CallContext) -> int:
        return self.transport.now_ms() + self.offsets.get(ctx.base_url.rstrip("/"), 0)

    @staticmethod
    def product(ctx: CallContext, product_type: str) -> str:
        """The productType to send: demo trading may want its own names (constants.DEMO_PRODUCT_TYPES)."""
        return c.DEMO_PRODUCT_TYPES.get(product_type, product_type) if ctx.testnet else product_type

    def _build(self, ctx: CallContext, method: str, path: str, params: Mapping[str, Any], *, endpoint: str,
               signed: bool) -> HttpRequest:
        get = method.upper() == "GET"
        query = encode_query({k: str(v) for k, v in params.items()}) if get else ""
        body = "" if get else encode_body(params)
        if signed:
            if ctx.credentials is None:
                raise AuthenticationError(f"{endpoint} needs API keys", exchange=c.EXCHANGE)
            headers = sign(ctx.credentials, self.now_ms(ctx), method, path, query=query, body=body)
        else:
            headers = public_headers()
        base = ctx.base_url.rstrip("/")
        return HttpRequest(
            method=method.upper(),
            url=f"{base}{path}?{query}" if query else f"{base}{path}",
            headers=headers,
            body=None if get else body,
            endpoint=endpoint,
            redact=c.SECRET_HEADERS,
        )

    async def _call(self, ctx: CallContext, method: str, path: str, params: Mapping[str, Any], *, endpoint: str,
                    signed: bool = True) -> Any:
        """One call; the envelope's ``data``. On "timestamp expired" resync the clock and retry once: Bitget
        refuses a stale timestamp before the order reaches the matching engine, so the retry cannot double."""
        try:
            response = await self.transport.send(ctx, self._build(ctx, method, path, params, endpoint=endpoint,
                                                                  signed=signed))
        except ExchangeError as exc:
            if not signed or str(exc.code) not in c.TIMESTAMP_EXPIRED:
                raise
            log.warning("{}: timestamp expired ({}), resyncing the clock and retrying once", endpoint, exc.code)
            await self.sync_time(ctx)
            response = await self.transport.send(ctx, self._build(ctx, method, path, params, endpoint=endpoint,
                                                                  signed=signed))
        data = response.data
        return data.get("data") if isinstance(data, Mapping) else data

    # --- time ----------------------------------------------------------------------------------------------

    async def sync_time(self, ctx: CallContext) -> datetime:
        sent = self.transport.now_ms()
        data = await self._call(ctx, "GET", c.SERVER_TIME, {}, endpoint="time", signed=False)
        received = self.transport.now_ms()
        server = int(data["serverTime"])
        # the server stamped its time somewhere during the round trip: assume the middle
        self.offsets[ctx.base_url.rstrip("/")] = server - (sent + received) // 2
        when = from_ms(server)
        assert when is not None
        return when

    async def server_time(self, ctx: CallContext) -> datetime:
        return await self.sync_time(ctx)

    # --- markets -------------------------------------------------------------------------------------------

    def _cache_file(self, ctx: CallContext, family: str) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(f"{ctx.base_url.rstrip('/')}|{ctx.testnet}".encode()).hexdigest()[:12]
        return self.cache_dir / f"{family}-{digest}.json"

    def _read_disk(self, path: Path | None) -> Any:
        if path is None or not path.exists():
            return None
        try:
            stored = jsonutil.loads(path.read_text("utf-8"))
            if self._wall_clock() - int(stored["fetched_at"]) >= self.markets_ttl_s:
                return None
            return stored["data"]
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("ignoring unreadable market cache {}", path)
            return None

    def _write_disk(self, path: Path | None, data: Any) -> None:
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(jsonutil.dumps({"fetched_at": int(self._wall_clock()), "data": data}), "utf-8")
            os.replace(tmp, path)  # atomic: a crash never leaves half a file for the next start
        except OSError as exc:
            log.warning("cannot write market cache {}: {}", path, exc)

    async def _fetch_raw_markets(self, ctx: CallContext) -> Any:
        if ctx.market_type is MarketType.SPOT:
            return await self._call(ctx, "GET", c.Spot.symbols, {}, endpoint="spot.symbols", signed=False)
        out = {}
        for product_type in c.PRODUCT_TYPES:
            out[product_type] = await self._call(
                ctx, "GET", c.Mix.contracts, {"productType": self.product(ctx, product_type)},
                endpoint="mix.contracts", signed=False,
            )
        return out

    async def load_markets(self, ctx: CallContext) -> Sequence[Market]:
        """Spot symbols, or the perpetual contracts of every mix product type (USDT-M, USDC-M, coin-M)."""
        spot = ctx.market_type is MarketType.SPOT
        family = "spot" if spot else "mix"
        async with self._markets_lock:
            path = self._cache_file(ctx, family)
            raw = None if ctx.options.get("refresh_markets") else await asyncio.to_thread(self._read_disk, path)
            if raw is None:
                raw = await self._fetch_raw_markets(ctx)
                await asyncio.to_thread(self._write_disk, path, raw)
            if spot:
                markets = parse_symbols(raw)
            else:
                markets = [m for pt, items in raw.items() for m in parse_contracts(items, pt)]
            self._indexes[(ctx.base_url.rstrip("/"), spot)] = SymbolIndex(markets)
        return markets

    def _index(self, ctx: CallContext) -> SymbolIndex | None:
        return self._indexes.get((ctx.base_url.rstrip("/"), ctx.market_type is MarketType.SPOT))

    def _symbol_of(self, ctx: CallContext) -> Callable[[str], str]:
        index = self._index(ctx)

        def symbol_of(native: str) -> str:
            market = index.by_native(native) if index is not None else None
            if market is not None:
                return market.symbol
            return split_native(native, ctx.market_type) or native

        return symbol_of

    def _product_types(self, ctx: CallContext, market: Market | None) -> tuple[str, ...]:
        return (product_type_of(market),) if market is not None else c.PRODUCT_TYPES

    # --- orders -------------------------------------------------------------------------------------------

    def _send_params(self, ctx: CallContext, params: Mapping[str, str]) -> dict[str, str]:
        out = dict(params)
        if "productType" in out:
            out["productType"] = self.product(ctx, out["productType"])
        return out

    async def place_order(self, ctx: CallContext, call: NativeCall) -> NativePayload:
        """Send; the answer holds only ``orderId``/``clientOid``. A resting order (limit GTC, post-only, plan
        orders) is completed from the request at Bitget's documented initial status, ``t5_synthetic``: one
        signed call, fills come with the first lookup or reconciliation. An order decided at once (market, IOC,
        FOK), or every order with the broker option ``read_back = always``, is read back; when that fails the
        order is completed from the request (marked so), never stored as a half order."""
        params = self._send_params(ctx, call.params)
        answer = await self._call(ctx, call.method, call.path, params, endpoint=call.endpoint) or {}
        plan = call.endpoint.endswith("plan.place")
        order_id = answer.get("orderId") or None
        # without Bitget's id in the answer, the read-back (by clientOid) is what finds it
        if order_id is not None and not reads_back(ctx.options, call.params, plan, self.read_back):
            return completed_from_request(call.params, answer, plan, read_back_failed=False)
        client_oid = answer.get("clientOid") or call.params.get("clientOid")
        try:
            found = await self._read_back(ctx, call.params, order_id, client_oid, plan)
        except ExchangeError as exc:
            log.warning("order {} placed, read-back failed ({}): completed from the request", client_oid, exc.kind)
            found = None
        return found if found is not None else completed_from_request(call.params, answer, plan)

    async def _read_back(self, ctx: CallContext, params: Mapping[str, str], order_id: Any, client_oid: Any,
                         plan: bool) -> NativePayload | None:
        symbol = params["symbol"]
        product_type = params.get("productType")
        if plan:
            return await self._find_plan(ctx, symbol, product_type, order_id=order_id, client_oid=client_oid)
        return await self._find_regular(ctx, symbol, product_type, order_id=order_id, client_oid=client_oid)

    async def _find_regular(self, ctx: CallContext, symbol: str, product_type: str | None, *, order_id: Any,
                            client_oid: Any) -> NativePayload | None:
        key = {"orderId": str(order_id)} if order_id else {"clientOid": str(client_oid)}
        try:
            if product_type is None:
                data = await self._call(ctx, "GET", c.Spot.order_info, key, endpoint="spot.order.fetch")
                items = _items(data)
                return items[0] if items else None
            params = {"symbol": symbol, "productType": self.product(ctx, product_type), **key}
            data = await self._call(ctx, "GET", c.Mix.detail, params, endpoint="mix.order.fetch")
            return data if isinstance(data, Mapping) and data else None
        except OrderNotFound:
            return None

    async def _plan_lists(self, ctx: CallContext, symbol: str | None, product_type: str | None,
                          *, history: bool) -> list[Any]:
        if product_type is None:
            path = c.Spot.history_plan if history else c.Spot.current_plan
            params: dict[str, str] = {"symbol": symbol} if symbol else {}
            data = await self._call(ctx, "GET", path, params, endpoint="spot.plan.list")
        else:
            path = c.Mix.history_plan if history else c.Mix.pending_plan
            params = {"productType": self.product(ctx, product_type), "planType": c.MIX_PLAN_TYPE}
            if symbol:
                params["symbol"] = symbol
            data = await self._call(ctx, "GET", path, params, endpoint="mix.plan.list")
        return _items(data, "orderList", "entrustedList")

    async def _find_plan(self, ctx: CallContext, symbol: str, product_type: str | None, *, order_id: Any,
                         client_oid: Any) -> NativePayload | None:
        for history in (False, True):
            try:
                items = await self._plan_lists(ctx, symbol, product_type, history=history)
            except OrderNotFound:
                items = []
            for item in items:
                if (order_id and str(item.get("orderId")) == str(order_id)) or (
                    not order_id and client_oid and item.get("clientOid") == client_oid
                ):
                    return item
        return None

    def _where(self, ref: OrderRef) -> tuple[str, str | None]:
        market = ref.market
        product_type = None if market.type is MarketType.SPOT else product_type_of(market)
        return market.native_symbol, product_type

    async def fetch_order(self, ctx: CallContext, ref: OrderRef) -> NativePayload | None:
        """The order, or ``None`` when Bitget does not know it. By ``orderId`` when known; by ``clientOid``
        otherwise (trying the plan orders too, since a trigger order's id namespace is its own)."""
        symbol, product_type = self._where(ref)
        if is_plan_id(ref.exchange_id):
            return await self._find_plan(ctx, symbol, product_type, order_id=strip_plan(str(ref.exchange_id)),
                                         client_oid=None)
        if ref.exchange_id is None and ref.native_client_id is None:
            return None
        found = await self._find_regular(ctx, symbol, product_type, order_id=ref.exchange_id,
                                         client_oid=ref.native_client_id)
        if found is None and ref.exchange_id is None:
            found = await self._find_plan(ctx, symbol, product_type, order_id=None, client_oid=ref.native_client_id)
        return found

    async def cancel_order(self, ctx: CallContext, ref: OrderRef) -> NativePayload:
        """Cancel, then read the order back (the answer is a receipt: ``orderId``/``clientOid``)."""
        symbol, product_type = self._where(ref)
        plan = is_plan_id(ref.exchange_id)
        key: dict[str, Any]
        if ref.exchange_id:
            key = {"orderId": strip_plan(str(ref.exchange_id))}
        elif ref.native_client_id is not None:
            key = {"clientOid": str(ref.native_client_id)}
        else:
            raise OrderNotFound("give the order id or its client id", exchange=c.EXCHANGE)
        if product_type is None:
            path, endpoint = (c.Spot.cancel_plan, "spot.plan.cancel") if plan else (c.Spot.cancel, "spot.order.cancel")
            params: dict[str, Any] = key if plan else {"symbol": symbol, **key}
        else:
            common = {"symbol": symbol, "productType": self.product(ctx, product_type),
                      "marginCoin": (ref.market.settle or ref.market.quote).upper()}
            if plan:
                path, endpoint = c.Mix.cancel_plan, "mix.plan.cancel"
                params = {**common, "orderIdList": [key], "planType": c.MIX_PLAN_TYPE}
            else:
                path, endpoint = c.Mix.cancel, "mix.order.cancel"
                params = {**common, **key}
        answer = await self._call(ctx, "POST", path, params, endpoint=endpoint) or {}
        order_id = answer.get("orderId") if isinstance(answer, Mapping) else None
        again = OrderRef(market=ref.market, exchange_id=ref.exchange_id or (str(order_id) if order_id else None),
                         native_client_id=ref.native_client_id, client_order_id=ref.client_order_id)
        found = await self.fetch_order(ctx, again)
        if found is None:
            raise OrderNotFound("cancelled, but Bitget no longer shows the order", exchange=c.EXCHANGE)
        return found

    async def edit_order(self, ctx: CallContext, ref: OrderRef, *, quantity: Decimal | None = None,
                         price: Decimal | None = None) -> NativePayload:
        """Mix limit orders: ``modify-order`` (a cancel-replace inside Bitget, so it needs a new clientOid,
        derived deterministically). Spot and trigger orders are refused: cancel and place."""
        if ref.market.type is MarketType.SPOT:
            raise UnsupportedParameterError(
                "Bitget modifies mix (futures) orders only: cancel the spot order and place a new one",
                exchange=c.EXCHANGE,
            )
        if is_plan_id(ref.exchange_id):
            raise UnsupportedParameterError("Bitget trigger orders are not modified here: cancel and place",
                                            exchange=c.EXCHANGE)
        current = await self.fetch_order(ctx, ref)
        if current is None:
            raise OrderNotFound("no such order to modify", exchange=c.EXCHANGE)
        if str(current.get("orderType", "")).lower() != "limit":
            raise UnsupportedParameterError(f"Bitget modifies limit orders only, not {current.get('orderType')}",
                                            exchange=c.EXCHANGE)
        new_size = quantity if quantity is not None else dec(current.get("size"))
        new_price = price if price is not None else dec(current.get("price"))
        assert new_size is not None and new_price is not None
        check_quantity(ref.market, new_size)
        check_price(ref.market, new_price)
        _, product_type = self._where(ref)
        assert product_type is not None
        new_oid = modified_client_id(str(current.get("clientOid") or ref.native_client_id), fmt(new_size),
                                     fmt(new_price))
        params = {
            "symbol": ref.market.native_symbol,
            "productType": self.product(ctx, product_type),
            "marginCoin": (ref.market.settle or ref.market.quote).upper(),
            "orderId": str(current["orderId"]),
            "newClientOid": new_oid,
            "newSize": fmt(new_size),
            "newPrice": fmt(new_price),
        }
        answer = await self._call(ctx, "POST", c.Mix.modify, params, endpoint="mix.order.modify") or {}
        found = await self._find_regular(ctx, ref.market.native_symbol, product_type,
                                         order_id=answer.get("orderId") or current["orderId"], client_oid=new_oid)
        if found is None:
            raise OrderNotFound("modified, but Bitget no longer shows the order", exchange=c.EXCHANGE)
        return found

    async def fetch_open_orders(self, ctx: CallContext, market: Market | None) -> Sequence[NativePayload]:
        symbol = {"symbol": market.native_symbol} if market is not None else {}
        if ctx.market_type is MarketType.SPOT:
            orders = _items(await self._call(ctx, "GET", c.Spot.unfilled, symbol, endpoint="spot.orders.open"))
            if market is None and c.Spot.plan_list_needs_symbol:
                log.warning("Bitget lists spot plan orders per symbol: open plan orders are not listed without one")
                return orders
            plans = await self._plan_lists(ctx, market.native_symbol if market else None, None, history=False)
            return [*orders, *(p for p in plans if _open(p))]
        out: list[Any] = []
        for product_type in self._product_types(ctx, market):
            params = {"productType": self.product(ctx, product_type), **symbol}
            data = await self._call(ctx, "GET", c.Mix.pending, params, endpoint="mix.orders.open")
            out.extend(_items(data, "entrustedList"))
            plans = await self._plan_lists(ctx, market.native_symbol if market else None, product_type, history=False)
            out.extend(p for p in plans if _open(p))
        return out

    async def fetch_closed_orders(self, ctx: CallContext, market: Market | None,
                                  since: datetime | None) -> Sequence[NativePayload]:
        params: dict[str, str] = {"symbol": market.native_symbol} if market is not None else {}
        if since is not None:
            params["startTime"] = str(to_ms(since))
        if ctx.market_type is MarketType.SPOT:
            return _items(await self._call(ctx, "GET", c.Spot.history, params, endpoint="spot.orders.history"))
        out: list[Any] = []
        for product_type in self._product_types(ctx, market):
            data = await self._call(ctx, "GET", c.Mix.history,
                                    {"productType": self.product(ctx, product_type), **params},
                                    endpoint="mix.orders.history")
            out.extend(_items(data, "entrustedList"))
        return out

    async def fetch_my_trades(self, ctx: CallContext, market: Market, since: datetime | None) -> Sequence[Trade]:
        params: dict[str, str] = {"symbol": market.native_symbol}
        if since is not None:
            params["startTime"] = str(to_ms(since))
        if ctx.market_type is MarketType.SPOT:
            items = _items(await self._call(ctx, "GET", c.Spot.fills, params, endpoint="spot.fills"))
        else:
            params = {"productType": self.product(ctx, product_type_of(market)), **params}
            items = _items(await self._call(ctx, "GET", c.Mix.fills, params, endpoint="mix.fills"), "fillList")
        return [trade_from_native(item, market.symbol) for item in items]

    async def fetch_balances(self, ctx: CallContext) -> Sequence[Balance]:
        if ctx.market_type is MarketType.SPOT:
            return spot_balances(_items(await self._call(ctx, "GET", c.Spot.assets, {}, endpoint="spot.assets")))
        out: list[Balance] = []
        for product_type in c.PRODUCT_TYPES:
            data = await self._call(ctx, "GET", c.Mix.accounts, {"productType": self.product(ctx, product_type)},
                                    endpoint="mix.accounts")
            out.extend(mix_balances(_items(data)))
        return out

    async def fetch_positions(self, ctx: CallContext) -> Sequence[Position]:
        if ctx.market_type is MarketType.SPOT:
            return []
        symbol_of = self._symbol_of(ctx)
        out: list[Position] = []
        for product_type in c.PRODUCT_TYPES:
            params = {"productType": self.product(ctx, product_type)}
            if product_type != c.COIN_FUTURES:
                params["marginCoin"] = product_type.split("-")[0]
            items = _items(await self._call(ctx, "GET", c.Mix.positions, params, endpoint="mix.positions"))
            out.extend(position_from_native(i, symbol_of) for i in items if (dec(i.get("total")) or 0) != 0)
        return out

    async def fetch_account_config(self, ctx: CallContext) -> Mapping[str, str]:
        """The USDT-M account's position mode (account-wide: hedge or one-way) and margin mode, which decide
        how ``tradeSide``/``reduceOnly`` must be sent (broker option ``position_mode``)."""
        if ctx.market_type is MarketType.SPOT:
            return {}
        params = {"symbol": c.ACCOUNT_PROBE_SYMBOL[c.USDT_FUTURES], "productType": self.product(ctx, c.USDT_FUTURES),
                  "marginCoin": "USDT"}
        data = await self._call(ctx, "GET", c.Mix.account, params, endpoint="mix.accounts") or {}
        pos_mode = str(data.get(c.POS_MODE_FIELD, "")).lower()
        margin = c.NATIVE_MARGIN_MODES.get(str(data.get(c.MARGIN_MODE_FIELD, "")).lower(), "unknown")
        position_mode = "hedge" if pos_mode == c.HEDGE else "one_way" if pos_mode == c.ONE_WAY else "unknown"
        return {"position_mode": position_mode, "margin_mode": margin}

    async def close(self) -> None:
        """Nothing to release: the HTTP session belongs to the core's transport."""


def _open(payload: Mapping[str, Any]) -> bool:
    return c.STATUSES.get(native_status_of(payload) or "") is OrderStatus.OPEN
