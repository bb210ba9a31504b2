"""The native Binance client (``terminal5.contract.ExchangeClient``): one instance per gateway, serving
every account concurrently.

It never stores credentials: each call brings its ``CallContext``. The only shared state is per exchange:
the server-time offset (per API host), the market cache (memory and disk), the rate limiters (weight per
IP/host, order count per key fingerprint) and the margin-type cache keyed by (key fingerprint, symbol).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from loguru import logger

from terminal5 import jsonutil
from terminal5.contract import CallContext, HttpRequest, HttpResponse, NativeCall, NativePayload, OrderRef, Transport
from terminal5.errors import (
    AuthenticationError,
    BadSymbol,
    ExchangeError,
    OrderNotFound,
    RateLimitExceeded,
    UnsupportedParameterError,
)
from terminal5.models import Balance, Market, MarketType, OrderStatus, Position, Trade
from terminal5_binance import constants as c
from terminal5_binance.auth import api_key_headers, encode, sign
from terminal5_binance.convert import (
    algo_id_of,
    from_ms,
    futures_balances,
    is_algo_id,
    position_from_native,
    spot_balances,
    to_ms,
    trade_from_native,
)
from terminal5_binance.markets import (
    check_lot,
    check_price,
    dec,
    format_price,
    format_quantity,
    parse_exchange_info,
    rate_limits_of,
)
from terminal5_binance.ratelimit import RateLimits
from terminal5_binance.symbols import SymbolIndex, split_native

log = logger.bind(exchange=c.EXCHANGE)

#: a day: Binance rarely changes filters, and a stale filter only costs a clear -1013/-4164 answer
DEFAULT_MARKETS_TTL_S = 24 * 3600
CACHE_DIR_ENV = "TERMINAL5_BINANCE_CACHE_DIR"


def default_cache_dir() -> Path | None:
    """``$TERMINAL5_BINANCE_CACHE_DIR`` (``off`` disables the disk cache), else beside the gateway's other
    files (``$TERMINAL5_DATA_DIR/binance``), else the XDG cache dir."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "none") else Path(configured)
    if os.environ.get("TERMINAL5_DATA_DIR"):
        return Path(os.environ["TERMINAL5_DATA_DIR"]) / "binance"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "terminal5" / "binance"


def _product(market_type: MarketType) -> str:
    return "spot" if market_type is MarketType.SPOT else "futures"


def _belongs(native_symbol: Any, market_type: MarketType) -> bool:
    """SWAP and FUTURE share the /fapi endpoints: dated contracts are the ``BTCUSDT_250627`` symbols."""
    if market_type is MarketType.SPOT:
        return True
    return ("_" in str(native_symbol)) is (market_type is MarketType.FUTURE)


def _open_native_status(status: Any) -> bool:
    return c.STATUSES.get(str(status)) is OrderStatus.OPEN


class BinanceClient:
    """Implements ``ExchangeClient`` for Binance spot and USDⓈ-M futures."""

    def __init__(
        self,
        transport: Transport,
        *,
        cache_dir: Path | str | None = None,
        use_disk_cache: bool = True,
        markets_ttl_s: float = DEFAULT_MARKETS_TTL_S,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.transport = transport
        self.cache_dir = Path(cache_dir) if cache_dir is not None else (default_cache_dir() if use_disk_cache else None)
        self.markets_ttl_s = markets_ttl_s
        self._wall_clock = wall_clock
        #: server time minus local time, per API base URL (spot and futures run separate clocks)
        self.offsets: dict[str, int] = {}
        #: per API: when its exchangeInfo was fetched, its markets and its rate limits
        self._info: dict[tuple[str, bool], tuple[float, list[Market], list[Mapping[str, Any]]]] = {}
        self._indexes: dict[tuple[str, bool], SymbolIndex] = {}
        self._markets_lock = asyncio.Lock()
        self.margin_types: dict[tuple[str, str, str], str] = {}
        self.limits = RateLimits(transport.now_ms, sleep=sleep, defaults=c.DEFAULT_RATE_LIMITS)

    # --- plumbing -----------------------------------------------------------------------------------

    def now_ms(self, ctx: CallContext) -> int:
        """Local clock corrected by the last known server offset of this API."""
        return self.transport.now_ms() + self.offsets.get(ctx.base_url.rstrip("/"), 0)

    def _recv_window(self, ctx: CallContext) -> int:
        value = ctx.options.get("recv_window", c.DEFAULT_RECV_WINDOW)
        return max(1, min(int(value), c.MAX_RECV_WINDOW))

    def _build(
        self,
        ctx: CallContext,
        method: str,
        path: str,
        params: Mapping[str, str],
        *,
        signed: bool,
        endpoint: str,
        cost: int,
    ) -> HttpRequest:
        base = ctx.base_url.rstrip("/")
        if signed:
            if ctx.credentials is None:
                raise AuthenticationError(f"{endpoint} needs API keys", exchange=c.EXCHANGE)
            parts = sign(ctx.credentials, self.now_ms(ctx), params, recv_window=self._recv_window(ctx))
            query, headers = parts.query, dict(parts.headers)
        else:
            query, headers = encode(params), api_key_headers(ctx.credentials)
        return HttpRequest(
            method=method,
            url=f"{base}{path}?{query}" if query else f"{base}{path}",
            headers=headers,
            endpoint=endpoint,
            cost=cost,
            redact=frozenset({"signature", c.API_KEY_HEADER}),
        )

    async def _send(
        self,
        ctx: CallContext,
        method: str,
        path: str,
        params: Mapping[str, str],
        *,
        signed: bool,
        endpoint: str,
        cost: int | None = None,
        order: bool = False,
    ) -> HttpResponse:
        product = _product(ctx.market_type)
        cost = c.weight(ctx.market_type, endpoint) if cost is None else cost
        weight = self.limits.weight(product, urlsplit(ctx.base_url).netloc)
        orders = self.limits.orders(product, ctx.credentials.fingerprint) if order and ctx.credentials else None
        if orders is not None:
            await orders.acquire(1, reason=f"{method} {endpoint}")
        # the host's weight last: a Retry-After block set while this request waited for its account's order
        # count still holds it (the block is checked by the weight limiter only)
        await weight.acquire(cost, reason=f"{method} {endpoint}")
        request = self._build(ctx, method, path, params, signed=signed, endpoint=endpoint, cost=cost)
        try:
            response = await self.transport.send(ctx, request)
        except RateLimitExceeded as exc:
            if exc.retry_after:  # IP limits (418/429 with Retry-After): hold every request of this host
                weight.block(exc.retry_after)
            raise
        weight.observe(response.headers, c.USED_WEIGHT_PREFIX)
        if orders is not None:
            orders.observe(response.headers, c.ORDER_COUNT_PREFIX)
        return response

    async def _signed(
        self,
        ctx: CallContext,
        method: str,
        path: str,
        params: Mapping[str, str],
        *,
        endpoint: str,
        cost: int | None = None,
        order: bool = False,
    ) -> Any:
        """A signed call; on -1021 (timestamp outside recvWindow) resync the clock and retry once.

        The retry is safe for orders: Binance rejects a bad timestamp before the matching engine sees it.
        """
        try:
            response = await self._send(
                ctx, method, path, params, signed=True, endpoint=endpoint, cost=cost, order=order
            )
        except ExchangeError as exc:
            if exc.code != c.INVALID_TIMESTAMP:
                raise
            log.warning("{}: -1021 timestamp rejected, resyncing the clock and retrying once", endpoint)
            await self.sync_time(ctx)
            response = await self._send(
                ctx, method, path, params, signed=True, endpoint=endpoint, cost=cost, order=order
            )
        return response.data

    async def _public(self, ctx: CallContext, path: str, params: Mapping[str, str], *, endpoint: str) -> HttpResponse:
        return await self._send(ctx, "GET", path, params, signed=False, endpoint=endpoint)

    # --- time ------------------------------------------------------------------------------------------

    def _set_offset(self, ctx: CallContext, server_ms: int, sent_ms: int, received_ms: int) -> None:
        # the server stamped its time somewhere during the round trip: assume the middle
        offset = int(server_ms) - (sent_ms + received_ms) // 2
        self.offsets[ctx.base_url.rstrip("/")] = offset

    async def sync_time(self, ctx: CallContext) -> datetime:
        api = c.api_for(ctx.market_type)
        response = await self._public(ctx, api.time, {}, endpoint="time")
        received = self.transport.now_ms()
        # the HTTP round trip only: a wait for the rate limiter before it (a Retry-After block) is not
        # network time, and half of it would land in the offset
        sent = received - int(response.latency_ms)
        server = int(response.data["serverTime"])
        self._set_offset(ctx, server, sent, received)
        when = from_ms(server)
        assert when is not None
        return when

    async def server_time(self, ctx: CallContext) -> datetime:
        return await self.sync_time(ctx)

    # --- markets -----------------------------------------------------------------------------------------

    def _cache_file(self, base_url: str, futures: bool) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(base_url.rstrip("/").encode()).hexdigest()[:12]
        return self.cache_dir / f"exchangeInfo-{'futures' if futures else 'spot'}-{digest}.json"

    def _read_disk(self, path: Path | None) -> tuple[float, Mapping[str, Any]] | None:
        if path is None or not path.exists():
            return None
        try:
            stored = jsonutil.loads(path.read_text("utf-8"))
            return float(stored["fetched_at"]), stored["data"]
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("ignoring unreadable market cache {}", path)
            return None

    def _write_disk(self, path: Path | None, fetched_at: float, data: Mapping[str, Any]) -> None:
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            # fetched_at as an int of seconds: jsonutil refuses floats, and a second is precise enough
            tmp.write_text(jsonutil.dumps({"fetched_at": int(fetched_at), "data": data}), "utf-8")
            os.replace(tmp, path)  # atomic: a crash never leaves half a file for the next start
        except OSError as exc:
            log.warning("cannot write market cache {}: {}", path, exc)

    def _fresh(self, fetched_at: float) -> bool:
        return self._wall_clock() - fetched_at < self.markets_ttl_s

    async def _markets(self, ctx: CallContext, *, refresh: bool = False) -> list[Market]:
        """The markets of ``ctx``'s ``exchangeInfo`` (spot, or futures for SWAP and FUTURE), fetched or read
        from the disk cache. Only the parsed markets and the rate limits stay in memory, not the document
        (~10 MB for Binance spot's ~2,000 symbols); the symbol index and the markets returned share them."""
        futures = ctx.market_type is not MarketType.SPOT
        key = (ctx.base_url.rstrip("/"), futures)
        async with self._markets_lock:
            cached = self._info.get(key)
            if cached is None or refresh or not self._fresh(cached[0]):
                data: Mapping[str, Any] | None = None
                if cached is None and not refresh:
                    stored = await asyncio.to_thread(self._read_disk, self._cache_file(*key))
                    if stored is not None and self._fresh(stored[0]):
                        fetched_at, data = stored
                if data is None:
                    api = c.api_for(ctx.market_type)
                    response = await self._public(ctx, api.exchange_info, {}, endpoint="exchange_info")
                    data = response.data
                    if isinstance(data, Mapping) and data.get("serverTime"):
                        received = self.transport.now_ms()  # the HTTP round trip only, as in sync_time
                        self._set_offset(ctx, int(data["serverTime"]), received - int(response.latency_ms), received)
                    fetched_at = self._wall_clock()
                    await asyncio.to_thread(self._write_disk, self._cache_file(*key), fetched_at, data)
                markets = parse_exchange_info(data, futures=futures)
                cached = (fetched_at, markets, list(rate_limits_of(data)))
                self._info[key] = cached
                self._indexes[key] = SymbolIndex(markets)
            self.limits.publish(_product(ctx.market_type), cached[2])
        return cached[1]

    async def load_markets(self, ctx: CallContext) -> Sequence[Market]:
        """The markets of ``ctx.market_type`` (SWAP and FUTURE share ``/fapi/v1/exchangeInfo``)."""
        markets = await self._markets(ctx, refresh=bool(ctx.options.get("refresh_markets")))
        return [m for m in markets if m.type is ctx.market_type]

    def _symbol_of(self, ctx: CallContext) -> Callable[[str], str]:
        futures = ctx.market_type is not MarketType.SPOT
        index = self._indexes.get((ctx.base_url.rstrip("/"), futures))

        def symbol_of(native: str) -> str:
            market = index.by_native(native, futures=futures) if index is not None else None
            if market is not None:
                return market.symbol
            return split_native(native, ctx.market_type) or native

        return symbol_of

    # --- orders ----------------------------------------------------------------------------------------

    async def _ensure_margin_type(self, ctx: CallContext, symbol: str, margin_type: str) -> None:
        """Set ISOLATED/CROSSED for ``symbol`` only when it differs from what this key last set.

        Binance answers -4046 "No need to change margin type." when it is already right: that counts as done.
        """
        assert ctx.credentials is not None
        key = (ctx.credentials.fingerprint, ctx.base_url.rstrip("/"), symbol)
        if self.margin_types.get(key) == margin_type:
            return
        try:
            await self._signed(
                ctx,
                "POST",
                c.FUTURES_API.margin_type,
                {"symbol": symbol, "marginType": margin_type},
                endpoint="margin_type",
            )
        except ExchangeError as exc:
            if exc.code != c.NO_NEED_TO_CHANGE_MARGIN_TYPE:
                raise
        self.margin_types[key] = margin_type

    async def place_order(self, ctx: CallContext, call: NativeCall) -> NativePayload:
        if call.meta.get("margin_type") and ctx.market_type is not MarketType.SPOT:
            await self._ensure_margin_type(ctx, call.meta["symbol"], call.meta["margin_type"])
        data = await self._signed(
            ctx, call.method, call.path, call.params, endpoint=call.endpoint, cost=call.cost, order=True
        )
        if isinstance(data, Mapping) and "status" not in data and "algoId" not in data and "orderId" in data:
            data = await self._read_back(ctx, data)
        return data

    async def _read_back(self, ctx: CallContext, ack: Mapping[str, Any]) -> NativePayload:
        """An ``ACK`` answer (``newOrderRespType=ACK``) says the order exists but not its state: read it back
        by its exchange id. If that fails, the ACK itself is the answer: its id is kept, the status stays
        unknown (never guessed) and reconciliation reads the order later."""
        api = c.api_for(ctx.market_type)
        params = {"symbol": str(ack.get("symbol", "")), "orderId": str(ack["orderId"])}
        try:
            found = await self._signed(ctx, "GET", api.order, params, endpoint="order.fetch")
        except ExchangeError as exc:
            log.warning("order {} acknowledged; reading it back failed ({}): status unknown for now",
                        ack["orderId"], exc.kind)
            return ack
        return found if isinstance(found, Mapping) and found.get("status") else ack

    def _order_params(self, ref: OrderRef) -> dict[str, str]:
        params = {"symbol": ref.market.native_symbol}
        if ref.exchange_id:
            params["orderId"] = str(ref.exchange_id)
        elif ref.native_client_id is not None:
            params["origClientOrderId"] = str(ref.native_client_id)
        else:
            raise OrderNotFound("an order reference needs an exchange id or a client id", exchange=c.EXCHANGE)
        return params

    @staticmethod
    def _algo_params(ref: OrderRef, *, by_client: bool) -> dict[str, str]:
        if by_client:
            return {"clientAlgoId": str(ref.native_client_id)}
        return {"algoId": algo_id_of(str(ref.exchange_id))}

    async def cancel_order(self, ctx: CallContext, ref: OrderRef) -> NativePayload:
        api = c.api_for(ctx.market_type)
        futures = ctx.market_type is not MarketType.SPOT
        if is_algo_id(ref.exchange_id):
            return await self._cancel_algo(ctx, ref, by_client=False)
        try:
            return await self._signed(ctx, "DELETE", api.order, self._order_params(ref), endpoint="order.cancel")
        except OrderNotFound:
            # a conditional futures order known only by its client id lives on the algo endpoint
            if futures and not ref.exchange_id and ref.native_client_id is not None:
                return await self._cancel_algo(ctx, ref, by_client=True)
            raise

    async def _cancel_algo(self, ctx: CallContext, ref: OrderRef, *, by_client: bool) -> NativePayload:
        params = self._algo_params(ref, by_client=by_client)
        await self._signed(ctx, "DELETE", c.FUTURES_API.algo_order, params, endpoint="algo.cancel")
        # the cancel answer is only {algoId, clientAlgoId, code, msg}: read the order back for its full state
        order = await self._fetch_algo(ctx, params)
        if order is None:
            raise OrderNotFound("algo order vanished after cancel", exchange=c.EXCHANGE, details=params)
        return order

    async def _fetch_algo(self, ctx: CallContext, params: Mapping[str, str]) -> NativePayload | None:
        try:
            return await self._signed(ctx, "GET", c.FUTURES_API.algo_order, params, endpoint="algo.fetch")
        except OrderNotFound:
            return None

    async def edit_order(
        self, ctx: CallContext, ref: OrderRef, *, quantity: Decimal | None = None, price: Decimal | None = None
    ) -> NativePayload:
        """Modify an open futures LIMIT order in place (``PUT /fapi/v1/order``: same order id; Binance
        cancels it when the new quantity is not above what is already filled). Spot has no in-place
        price change, and untriggered conditional (algo) orders cannot be modified: cancel and place."""
        if ctx.market_type is MarketType.SPOT or is_algo_id(ref.exchange_id):
            what = "spot orders" if ctx.market_type is MarketType.SPOT else "conditional (algo) orders"
            raise UnsupportedParameterError(
                f"Binance cannot modify {what} in place: cancel and place a new one", exchange=c.EXCHANGE
            )
        current = await self.fetch_order(ctx, ref)
        if current is None:
            raise OrderNotFound("no such order to modify", exchange=c.EXCHANGE)
        if current.get("type") != "LIMIT":
            raise UnsupportedParameterError(
                f"Binance modifies LIMIT orders only, not {current.get('type')}", exchange=c.EXCHANGE
            )
        new_quantity = quantity if quantity is not None else Decimal(str(current["origQty"]))
        new_price = price if price is not None else Decimal(str(current["price"]))
        check_lot(ref.market, new_quantity, is_market=False)
        check_price(ref.market, new_price)
        params = {
            **self._order_params(OrderRef(market=ref.market, exchange_id=str(current["orderId"]))),
            "side": str(current["side"]),
            "quantity": format_quantity(ref.market, new_quantity),
            "price": format_price(ref.market, new_price),
        }
        return await self._signed(ctx, "PUT", c.FUTURES_API.order, params, endpoint="order.modify", order=True)

    async def fetch_order(self, ctx: CallContext, ref: OrderRef) -> NativePayload | None:
        """The order, or ``None`` when Binance does not know it (never placed, or archived)."""
        api = c.api_for(ctx.market_type)
        futures = ctx.market_type is not MarketType.SPOT
        if is_algo_id(ref.exchange_id):
            return await self._fetch_algo(ctx, self._algo_params(ref, by_client=False))
        try:
            return await self._signed(ctx, "GET", api.order, self._order_params(ref), endpoint="order.fetch")
        except OrderNotFound:
            if futures and not ref.exchange_id and ref.native_client_id is not None:
                return await self._fetch_algo(ctx, self._algo_params(ref, by_client=True))
            return None

    async def fetch_open_orders(self, ctx: CallContext, market: Market | None) -> Sequence[NativePayload]:
        api = c.api_for(ctx.market_type)
        params = {"symbol": market.native_symbol} if market is not None else {}
        endpoint = "orders.open.symbol" if market is not None else "orders.open.all"
        orders = list(await self._signed(ctx, "GET", api.open_orders, params, endpoint=endpoint))
        if ctx.market_type is not MarketType.SPOT:
            algos = await self._signed(ctx, "GET", api.open_algo_orders, params, endpoint="algo.open")
            orders.extend(algos or ())
        return [o for o in orders if _belongs(o.get("symbol"), ctx.market_type)]

    async def fetch_closed_orders(
        self, ctx: CallContext, market: Market | None, since: datetime | None
    ) -> Sequence[NativePayload]:
        if market is None:
            raise BadSymbol("Binance lists past orders per symbol: give a market", exchange=c.EXCHANGE)
        api = c.api_for(ctx.market_type)
        params = {"symbol": market.native_symbol}
        if since is not None:
            params["startTime"] = str(to_ms(since))
        orders = [
            o
            for o in await self._signed(ctx, "GET", api.all_orders, params, endpoint="orders.all")
            if not _open_native_status(o.get("status"))
        ]
        if ctx.market_type is not MarketType.SPOT:
            algos = await self._signed(ctx, "GET", api.all_algo_orders, params, endpoint="algo.all")
            orders.extend(o for o in algos or () if not _open_native_status(o.get("algoStatus")))
        return orders

    async def fetch_my_trades(self, ctx: CallContext, market: Market, since: datetime | None) -> Sequence[Trade]:
        api = c.api_for(ctx.market_type)
        params = {"symbol": market.native_symbol}
        if since is not None:
            params["startTime"] = str(to_ms(since))
        items = await self._signed(ctx, "GET", api.my_trades, params, endpoint="trades")
        return [trade_from_native(item, market.symbol) for item in items]

    async def fetch_balances(self, ctx: CallContext) -> Sequence[Balance]:
        api = c.api_for(ctx.market_type)
        if ctx.market_type is MarketType.SPOT:
            data = await self._signed(ctx, "GET", api.balances, {"omitZeroBalances": "true"}, endpoint="account")
            return spot_balances(data)
        return futures_balances(await self._signed(ctx, "GET", api.balances, {}, endpoint="account"))

    async def fetch_positions(self, ctx: CallContext) -> Sequence[Position]:
        if ctx.market_type is MarketType.SPOT:
            return []
        items = await self._signed(ctx, "GET", c.FUTURES_API.positions, {}, endpoint="positions")
        symbol_of = self._symbol_of(ctx)
        return [
            position_from_native(item, symbol_of)
            for item in items
            if (dec(item.get("positionAmt")) or 0) != 0 and _belongs(item.get("symbol"), ctx.market_type)
        ]

    async def fetch_account_config(self, ctx: CallContext) -> Mapping[str, str]:
        """Futures account settings a trader must know before the first order: the position mode
        (account-wide: hedge or one-way) and the margin mode of the open positions (per symbol)."""
        if ctx.market_type is MarketType.SPOT:
            return {}
        data = await self._signed(ctx, "GET", c.FUTURES_API.position_mode, {}, endpoint="position_mode")
        hedge = data.get("dualSidePosition") in (True, "true")
        modes = {p.margin_mode.value for p in await self.fetch_positions(ctx) if p.margin_mode is not None}
        margin = modes.pop() if len(modes) == 1 else ("mixed" if modes else "per symbol (no open position)")
        return {"position_mode": "hedge" if hedge else "one_way", "margin_mode": margin}

    async def close(self) -> None:
        """Nothing to release: the HTTP session belongs to the core's transport."""
