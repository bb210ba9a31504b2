"""The native Kraken spot REST client (``terminal5.contract.ExchangeClient``).

One instance serves every account: credentials arrive with each call in the ``CallContext`` and are never
stored. Shared state is limited to the market cache (per base URL), nonce high-water marks and rate
counters (per ``Credentials.fingerprint``).

Private calls are form-encoded POSTs (the body that is signed is the body that is sent). Order payloads
are returned raw with the ``txid`` (a dict key on the wire) and the pair key injected, for ``from_native``.

AddOrder's answer carries the order id (``txid``) and its description, never fill information. An order
that rests (limit, post-only, stop and take-profit triggers; GTC or GTD) is completed from what was sent
and the txid: one signed call per order, status ``pending`` (Kraken's documented initial state, "pending
book entry"), ``t5_synthetic: true``, and the first lookup or reconciliation brings fills. An order whose
outcome is decided at once (market, IOC, FOK) is read back with QueryOrders (one REST-counter point), so
its fills are returned with it; if that read fails, the order still exists and the same minimal payload is
returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from loguru import logger

from terminal5.contract import CallContext, Credentials, HttpRequest, NativeCall, NativePayload, OrderRef, Transport
from terminal5.errors import AuthenticationError, ExchangeError, InvalidOrder, OrderNotFound
from terminal5.models import Balance, Market, Position, Trade
from terminal5_kraken import constants as k
from terminal5_kraken.auth import REDACT, sign
from terminal5_kraken.convert import (
    EPOCH,
    check_price,
    check_volume,
    client_id_mode,
    to_datetime,
    to_decimal,
    trade_from_native,
    txids_of,
    unix_seconds,
)
from terminal5_kraken.markets import MarketIndex, parse_asset_pairs, unified_asset
from terminal5_kraken.nonce import NonceStores
from terminal5_kraken.ratelimit import RateLimiter
from terminal5_kraken.userref import cl_ord_id_for

log = logger.bind(exchange=k.EXCHANGE)


def nonce_window(options: Mapping[str, Any] | None) -> int:
    """The broker's ``nonce_window`` option: the window configured on the key in Kraken's UI (0: none)."""
    try:
        return max(0, int((options or {}).get("nonce_window") or 0))
    except (TypeError, ValueError):
        return 0

def decided_at_once(params: Mapping[str, str]) -> bool:
    """True for an order that cannot rest on the book (market, IOC, FOK): its outcome (fills, or cancelled
    unfilled) exists as soon as AddOrder returns, but AddOrder's answer does not carry it."""
    return params.get("ordertype") == "market" or params.get("timeinforce") in ("IOC", "FOK")


def reads_back(options: Mapping[str, Any] | None, params: Mapping[str, str], default: str) -> bool:
    """Whether a placed order is read back with QueryOrders (the broker's ``read_back`` option)."""
    mode = str((options or {}).get("read_back") or default)
    return mode == "always" or decided_at_once(params)


#: ClosedOrders / TradesHistory pages read at most per call (50 per page): bounds the REST counter spent.
MAX_PAGES = 20
#: ``EAPI:Invalid nonce`` refuses a call before Kraken processes it: another process sharing the key got a
#: higher nonce there first (calls in flight reach Kraken in either order). The call is signed again with a
#: fresh nonce, this many times at most and a few ms apart: many invalid nonces lock the key out (~15 min)
NONCE_RETRIES = 2


class KrakenClient:
    """Implements ``ExchangeClient`` for Kraken spot, plus ``edit_order`` (AmendOrder) and ``cancel_all_after``."""

    def __init__(
        self,
        transport: Transport,
        *,
        nonces: NonceStores | None = None,
        limiter: RateLimiter | None = None,
        read_back: str = "immediate",
    ) -> None:
        self.transport = transport
        #: the ``read_back`` mode of brokers that do not set the option
        self.read_back = read_back
        self.nonces = nonces or NonceStores()
        self.limiter = limiter or RateLimiter()
        self._indexes: dict[str, MarketIndex] = {}
        self._key_locks: dict[str, asyncio.Lock] = {}

    # --- wire ---------------------------------------------------------------------------------------

    async def _public(self, ctx: CallContext, path: str, params: Mapping[str, str] | None = None,
                      *, endpoint: str) -> Any:
        query = f"?{urlencode(dict(params))}" if params else ""
        request = HttpRequest(method="GET", url=ctx.base_url.rstrip("/") + path + query, endpoint=endpoint)
        response = await self.transport.send(ctx, request)
        return response.data.get("result") if isinstance(response.data, Mapping) else None

    async def _private(self, ctx: CallContext, path: str, params: Mapping[str, str], *, endpoint: str) -> Any:
        credentials = ctx.credentials
        if credentials is None:
            raise AuthenticationError(f"{path} is private: the broker has no API key", exchange=k.EXCHANGE)
        await self.limiter.before_rest(ctx, path)
        if nonce_window(ctx.options) > 0:
            return await self._signed_send(ctx, credentials, path, params, endpoint)
        # Without a nonce window on the key, Kraken rejects a nonce that *arrives* after a higher one; two
        # calls in flight on separate connections can arrive in either order. So one key's private calls
        # run one at a time in this process (the lock spans nonce, send and answer).
        lock = self._key_locks.setdefault(credentials.fingerprint, asyncio.Lock())
        async with lock:
            return await self._signed_send(ctx, credentials, path, params, endpoint)

    async def _signed_send(self, ctx: CallContext, credentials: Credentials, path: str,
                           params: Mapping[str, str], endpoint: str) -> Any:
        for attempt in range(NONCE_RETRIES + 1):
            try:
                return await self._signed_send_once(ctx, credentials, path, params, endpoint)
            except AuthenticationError as exc:
                if exc.code != k.INVALID_NONCE or attempt == NONCE_RETRIES:
                    raise
                log.warning("{}: invalid nonce (is another process using this key?); signing again", path)
                await asyncio.sleep(0.002 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _signed_send_once(self, ctx: CallContext, credentials: Credentials, path: str,
                                params: Mapping[str, str], endpoint: str) -> Any:
        # The nonce is taken after any wait (rate limit, key lock), right before sending.
        nonce = self.nonces.for_options(ctx.options).next(credentials.fingerprint)
        fields = [("nonce", str(nonce)), *params.items()]
        if credentials.api_password:  # a key with a 2FA password sends it as ``otp``
            fields.append(("otp", credentials.api_password))
        body = urlencode(fields)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            **sign(credentials, nonce, path, body),
        }
        request = HttpRequest(
            method="POST", url=ctx.base_url.rstrip("/") + path, headers=headers, body=body,
            endpoint=endpoint, redact=REDACT, cost=k.REST_COST.get(path, 1),
        )
        response = await self.transport.send(ctx, request)
        return response.data.get("result") if isinstance(response.data, Mapping) else None

    # --- markets ------------------------------------------------------------------------------------

    async def load_markets(self, ctx: CallContext) -> Sequence[Market]:
        result = await self._public(ctx, k.PATH_ASSET_PAIRS, endpoint="markets")
        index = MarketIndex(parse_asset_pairs(result or {}))
        self._indexes[ctx.base_url] = index
        log.debug("{} Kraken pairs loaded from {}", len(index), ctx.base_url)
        return index.markets

    async def _index(self, ctx: CallContext) -> MarketIndex:
        index = self._indexes.get(ctx.base_url)
        if index is None:
            await self.load_markets(ctx)
            index = self._indexes[ctx.base_url]
        return index

    async def _with_ids(self, ctx: CallContext, txid: str, order: Mapping[str, Any]) -> dict[str, Any]:
        """The order object with its ``txid`` and pair key added (both are needed by ``from_native``)."""
        payload = dict(order)
        payload["txid"] = txid
        descr = order.get("descr") or {}
        market = (await self._index(ctx)).native(str(descr.get("pair") or ""))
        if market is not None:
            payload["pair"] = market.native_symbol
        return payload

    # --- orders -------------------------------------------------------------------------------------

    async def place_order(self, ctx: CallContext, call: NativeCall) -> NativePayload:
        pair = call.params.get("pair") or call.meta.get("pair", "")
        await self.limiter.before_add(ctx, pair)
        result = await self._private(ctx, call.path, call.params, endpoint=call.endpoint or "order.place")
        txids = txids_of((result or {}).get("txid"))  # typed: a list of ids, never list("OUF4…") nor str([…])
        if not txids:
            # validate=true: checked by Kraken, nothing placed, no id.
            return self._synthesize(call, None, result or {}, status="validated")
        if len(txids) > 1:  # one AddOrder places one order: keep the first, say so loudly
            log.error("AddOrder answered {} order ids for one order: {}; keeping {}", len(txids), txids, txids[0])
        txid = txids[0]
        self.limiter.placed(txid)
        if not reads_back(ctx.options, call.params, self.read_back):
            return self._synthesize(call, txid, result or {}, status="pending")
        try:
            order = await self._query_one(ctx, txid)
        except ExchangeError as exc:
            # The order exists (we hold its txid): never turn a placed order into an error.
            log.warning("order {} placed; reading it back failed ({}), returning what was sent", txid, exc.kind)
            order = None
        return order or self._synthesize(call, txid, result or {}, status="pending")

    @staticmethod
    def _synthesize(call: NativeCall, txid: str | None, result: Mapping[str, Any], *, status: str) -> dict[str, Any]:
        params = call.params
        descr = dict(result.get("descr") or {})
        descr.update({
            "type": params.get("type"),
            "ordertype": params.get("ordertype"),
            "price": params.get("price", "0"),
            "price2": params.get("price2", "0"),
        })
        payload: dict[str, Any] = {
            "txid": txid,
            "pair": params.get("pair"),
            "status": status,
            "descr": descr,
            "vol": params.get("volume"),
            "vol_exec": "0",
            "oflags": params.get("oflags", ""),
            "userref": int(params["userref"]) if params.get("userref") else None,
            "cl_ord_id": params.get("cl_ord_id"),
            "t5_synthetic": True,
        }
        return payload

    async def _query_one(self, ctx: CallContext, txid: str) -> dict[str, Any] | None:
        try:
            result = await self._private(ctx, k.PATH_QUERY_ORDERS, {"txid": txid, "trades": "true"},
                                         endpoint="order.query")
        except OrderNotFound:
            return None
        order = (result or {}).get(txid)
        return None if order is None else await self._with_ids(ctx, txid, order)

    def _client_filter(self, ctx: CallContext, ref: OrderRef) -> dict[str, str] | None:
        """The OpenOrders/ClosedOrders filter finding ``ref`` by its client id, per the broker's mode."""
        native = ref.native_client_id
        if client_id_mode(ctx.options) == "cl_ord_id":
            if isinstance(native, str) and not native.isdigit():
                return {"cl_ord_id": native}
            if ref.client_order_id and native is not None:
                return {"cl_ord_id": cl_ord_id_for(ref.client_order_id, int(native))}
            return None
        if native is None:
            return None
        return {"userref": str(int(native))}

    async def fetch_order(self, ctx: CallContext, ref: OrderRef) -> NativePayload | None:
        """By txid through QueryOrders; by client id through OpenOrders then ClosedOrders (QueryOrders takes
        only Kraken's ids). ``None`` when Kraken has no such order."""
        if ref.exchange_id:
            return await self._query_one(ctx, ref.exchange_id)
        filters = self._client_filter(ctx, ref)
        if filters is None:
            return None
        for path, key, endpoint in ((k.PATH_OPEN_ORDERS, "open", "orders.open"),
                                    (k.PATH_CLOSED_ORDERS, "closed", "orders.closed")):
            result = await self._private(ctx, path, {**filters, "trades": "true"}, endpoint=endpoint)
            matches = [
                await self._with_ids(ctx, txid, order)
                for txid, order in ((result or {}).get(key) or {}).items()
                # Kraken filters already; checked again because a userref is not unique on Kraken's side
                # (another tool on the same account may use the same number).
                if all(str(order.get(name)) == value for name, value in filters.items())
            ]
            if matches:
                # the newest one: a userref reused by another tool is older than ours at lookup time
                return max(matches, key=lambda o: to_decimal(o.get("opentm")) or Decimal(0))
        return None

    async def cancel_order(self, ctx: CallContext, ref: OrderRef) -> NativePayload:
        if ref.exchange_id:
            params = {"txid": ref.exchange_id}
        else:
            filters = self._client_filter(ctx, ref)
            if filters is None:
                raise OrderNotFound("no exchange id nor client id to cancel by", exchange=k.EXCHANGE)
            # CancelOrder takes a userref in ``txid`` (cancelling every order carrying it: one, since the
            # gateway's userrefs are unique) or ``cl_ord_id``.
            params = {"cl_ord_id": filters["cl_ord_id"]} if "cl_ord_id" in filters else {"txid": filters["userref"]}
        await self.limiter.before_cancel(ctx, ref.market.native_symbol, ref.exchange_id)
        result = await self._private(ctx, k.PATH_CANCEL_ORDER, params, endpoint="order.cancel")
        try:
            order = await self.fetch_order(ctx, ref)
        except ExchangeError as exc:
            log.warning("order cancelled; reading it back failed ({})", exc.kind)
            order = None
        if order is not None:
            return order
        return {
            "txid": ref.exchange_id,
            "pair": ref.market.native_symbol,
            "status": "canceled",
            "count": (result or {}).get("count"),
            "pending": (result or {}).get("pending"),
            "t5_synthetic": True,
        }

    async def edit_order(
        self, ctx: CallContext, ref: OrderRef, *, quantity: Decimal | None = None, price: Decimal | None = None
    ) -> NativePayload | None:
        """AmendOrder (in place: same txid; a quantity decrease keeps queue priority). The current
        replacement of the legacy cancel-replace EditOrder."""
        if quantity is None and price is None:
            raise InvalidOrder("amend needs a new quantity or price", exchange=k.EXCHANGE)
        params: dict[str, str] = {}
        if ref.exchange_id:
            params["txid"] = ref.exchange_id
        else:
            filters = self._client_filter(ctx, ref)
            if filters is None or "cl_ord_id" not in filters:
                # AmendOrder takes txid or cl_ord_id only (no userref).
                raise OrderNotFound("amend needs the exchange id or a cl_ord_id", exchange=k.EXCHANGE)
            params["cl_ord_id"] = filters["cl_ord_id"]
        if quantity is not None:
            params["order_qty"] = check_volume(quantity, ref.market)
        if price is not None:
            params["limit_price"] = check_price(price, ref.market, "price")
        await self.limiter.before_amend(ctx, ref.market.native_symbol, ref.exchange_id)
        await self._private(ctx, k.PATH_AMEND_ORDER, params, endpoint="order.amend")
        return await self.fetch_order(ctx, ref)

    async def cancel_all_after(self, ctx: CallContext, timeout_s: int) -> Mapping[str, Any]:
        """The dead-man switch: cancel every order after ``timeout_s`` seconds unless called again
        (0 disables it). Returns Kraken's ``{currentTime, triggerTime}``."""
        result = await self._private(ctx, k.PATH_CANCEL_ALL_AFTER, {"timeout": str(int(timeout_s))},
                                     endpoint="orders.cancel_all_after")
        return dict(result or {})

    async def _pages(self, ctx: CallContext, path: str, key: str, params: dict[str, str],
                     endpoint: str) -> list[tuple[str, Mapping[str, Any]]]:
        items: list[tuple[str, Mapping[str, Any]]] = []
        offset = 0
        for _ in range(MAX_PAGES):
            result = await self._private(ctx, path, {**params, "ofs": str(offset)}, endpoint=endpoint) or {}
            page = list((result.get(key) or {}).items())
            items.extend(page)
            offset += len(page)
            count = int(result.get("count") or 0)
            if not page or offset >= count:
                break
        else:
            log.warning("{}: stopped after {} pages ({} items)", path, MAX_PAGES, len(items))
        return items

    async def fetch_open_orders(self, ctx: CallContext, market: Market | None) -> Sequence[NativePayload]:
        result = await self._private(ctx, k.PATH_OPEN_ORDERS, {"trades": "true"}, endpoint="orders.open")
        orders = [await self._with_ids(ctx, txid, o) for txid, o in ((result or {}).get("open") or {}).items()]
        return [o for o in orders if market is None or o.get("pair") == market.native_symbol]

    async def fetch_closed_orders(
        self, ctx: CallContext, market: Market | None, since: datetime | None
    ) -> Sequence[NativePayload]:
        params = {"trades": "true"}
        if since is not None:
            params["start"] = str(unix_seconds(since))
        items = await self._pages(ctx, k.PATH_CLOSED_ORDERS, "closed", params, "orders.closed")
        orders = [await self._with_ids(ctx, txid, o) for txid, o in items]
        return [o for o in orders if market is None or o.get("pair") == market.native_symbol]

    async def fetch_my_trades(self, ctx: CallContext, market: Market, since: datetime | None) -> Sequence[Trade]:
        params: dict[str, str] = {}
        if since is not None:
            params["start"] = str(unix_seconds(since))
        items = await self._pages(ctx, k.PATH_TRADES_HISTORY, "trades", params, "trades")
        names = {market.native_symbol, market.info.get("altname")}
        trades = [trade_from_native(tid, t, market) for tid, t in items if t.get("pair") in names]
        return sorted(trades, key=lambda t: t.timestamp or EPOCH)

    async def fetch_balances(self, ctx: CallContext) -> Sequence[Balance]:
        """BalanceEx: available = balance + credit - credit_used - hold_trade; locked = hold_trade."""
        result = await self._private(ctx, k.PATH_BALANCE_EX, {}, endpoint="balances") or {}
        balances = []
        for code, entry in result.items():
            zero = Decimal(0)
            total = to_decimal(entry.get("balance")) or zero
            hold = to_decimal(entry.get("hold_trade")) or zero
            credit = (to_decimal(entry.get("credit")) or zero) - (to_decimal(entry.get("credit_used")) or zero)
            if total == 0 and hold == 0 and credit == 0:
                continue
            balances.append(Balance(asset=unified_asset(code), free=total + credit - hold, locked=hold))
        return balances

    async def fetch_positions(self, ctx: CallContext) -> Sequence[Position]:
        return []  # spot only: Kraken margin positions are out of this plugin's scope

    async def server_time(self, ctx: CallContext) -> datetime:
        result = await self._public(ctx, k.PATH_TIME, endpoint="time") or {}
        moment = to_datetime(result.get("unixtime"))
        if moment is None:
            raise ExchangeError("Time answered without unixtime", exchange=k.EXCHANGE)
        return moment

    async def close(self) -> None:
        self.nonces.close()
