"""The clients the benchmark compares, each as ``await open_X(exchange, url)`` returning a ``Client``
whose ``place(i)`` places order number ``i`` (a fresh client id each time) and raises unless the exchange
accepted it.

* ``t5_native``: Terminal 5's native client through the core (hooks, transport, signing), no database:
  what the gateway runs between "persist intent" and "persist result";
* ``t5_gateway``: ``Gateway.place_order`` on SQLite, every guarantee on (intent before the send, result and
  audit stored), logging configured as the daemon does;
* ``ccxt``: CCXT async, its throttle off, every URL pointed at the simulator, a loopback-only session;
* ``floor``: a minimal hand-written signed aiohttp request, the least any client can do (``floor_daemon.py``
  serves it over HTTP: the least any daemon can do).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
from common import ORDERS, accounts, check_loopback_url, loopback_session

PLUGINS = {"binance": "terminal5_binance.plugin", "kraken": "terminal5_kraken.plugin",
           "bitget": "terminal5_bitget.plugin"}


@attrs.define
class Client:
    name: str
    exchange: str
    place: Callable[[int], Awaitable[Any]]
    close: Callable[[], Awaitable[None]]


def configure_logs(log_dir: Path) -> None:
    """Logging as the daemon configures it (INFO, the queued file sink, no console): every in-process
    client runs under it, as it would in the product."""
    from terminal5 import logs

    logs.configure(log_dir=log_dir, level="INFO", console=False)


def _broker_options(exchange: str) -> dict[str, Any]:
    # Kraken: the benchmark's accounts are of the "pro" tier (its counter decays fastest)
    return {"tier": "pro"} if exchange == "kraken" else {}


def _cid(prefix: str, i: int) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}{i}"


def _hooks(exchange: str) -> Any:
    import importlib

    from terminal5.plugins import load_hooks

    return load_hooks(plugins=[importlib.import_module(PLUGINS[exchange])], load_entry_points=False)


def _unified(exchange: str, i: int, prefix: str) -> dict[str, Any]:
    o = ORDERS[exchange]
    return {"symbol": o["symbol"], "side": "buy", "type": "limit", "quantity": o["quantity"], "price": o["price"],
            "client_order_id": _cid(prefix, i)}


# --- Terminal 5, native path ------------------------------------------------------------------------------
async def open_t5_native(exchange: str, url: str) -> Client:
    from terminal5.contract import CallContext, Credentials, NativeContext
    from terminal5.markets import MarketBook
    from terminal5.models import MarketType, OrderStatus
    from terminal5.params import check_levels
    from terminal5.transport import HttpTransport
    from terminal5.wire import structure_request

    check_loopback_url(url)
    hooks = _hooks(exchange)
    spec = hooks.registry.get(exchange)
    transport = HttpTransport(exchange, hooks.map_error, rate_limits=spec.rate_limits,
                              testnet_headers=spec.urls.testnet_headers)
    client = spec.client_factory(transport)
    creds = [Credentials(api_key=a["api_key"], api_secret=a["api_secret"], api_password=a.get("api_password"))
             for a in accounts(exchange, "t5_native")]
    options = _broker_options(exchange)
    public = CallContext(exchange=exchange, base_url=url, market_type=MarketType.SPOT)
    book = MarketBook(await client.load_markets(public))

    async def place(i: int) -> Any:
        request = structure_request({"user_id": 1, "broker_id": 1, **_unified(exchange, i, "n")})
        check_levels(spec, request)
        market = book.get(request.symbol)
        assert market is not None and request.client_order_id is not None
        native_id = hooks.map_client_id(exchange, request.client_order_id, 0)
        call = hooks.to_native(exchange, request, market, native_id, options)
        k = i % len(creds)
        ctx = CallContext(exchange=exchange, base_url=url, market_type=market.type, credentials=creds[k],
                          broker_id=k + 1, user_id=1, request_id=uuid.uuid4().hex, options=options,
                          order_key=request.client_order_id)
        payload = await client.place_order(ctx, call)
        order = hooks.from_native(exchange, payload, NativeContext(
            exchange=exchange, market_type=market.type, request=request, market=market, markets=book.native))
        status = hooks.normalize_status(exchange, order.native_status or "") or OrderStatus.UNKNOWN
        if status not in (OrderStatus.OPEN, OrderStatus.CLOSED):
            raise RuntimeError(f"order not accepted: {status}")
        return attrs.evolve(order, status=status)

    async def close() -> None:
        await client.close()
        await transport.close()

    return Client("t5_native", exchange, place, close)


# --- Terminal 5, gateway path -----------------------------------------------------------------------------
async def open_t5_gateway(exchange: str, url: str, data_dir: Path) -> Client:
    from cryptography.fernet import Fernet

    from terminal5.gateway import Gateway
    from terminal5.models import OrderStatus

    check_loopback_url(url)
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    gw = await Gateway.open(database_url=f"sqlite:///{data_dir / 'terminal5.db'}", hooks=_hooks(exchange),
                            master_key=Fernet.generate_key().decode(), data_dir=data_dir)
    brokers = await add_brokers(gw, exchange, url, "t5_gateway")

    async def place(i: int) -> Any:
        order = await gw.place_order({"user_id": 1, "broker_id": brokers[i % len(brokers)],
                                      **_unified(exchange, i, "g")})
        if order.status not in (OrderStatus.OPEN, OrderStatus.CLOSED):
            raise RuntimeError(f"order not accepted: {order.status}")
        return order

    async def close() -> None:
        await gw.flush()
        await gw.close()

    return Client("t5_gateway", exchange, place, close)


async def add_brokers(gw: Any, exchange: str, url: str, client: str) -> list[int]:
    """One broker per account of ``client``, all of user 1; their ids."""
    ids = []
    for k, acc in enumerate(accounts(exchange, client)):
        broker = await gw.add_broker(user_id=1, exchange=exchange, label=f"bench-{k}", api_key=acc["api_key"],
                                     api_secret=acc["api_secret"], api_password=acc.get("api_password"),
                                     base_url=url, options=_broker_options(exchange) or None)
        ids.append(broker.id)
    return ids


# --- CCXT ---------------------------------------------------------------------------------------------------
_HOST = re.compile(r"^https?://[^/]+")


def point_at(urls: Any, target: str) -> Any:
    """Every URL of a ccxt ``urls['api']`` tree with its scheme and host replaced by ``target``."""
    if isinstance(urls, dict):
        return {k: point_at(v, target) for k, v in urls.items()}
    if isinstance(urls, str) and _HOST.match(urls):
        return _HOST.sub(target, urls.replace("{hostname}", "x"))
    return urls


async def open_ccxt(exchange: str, url: str) -> Client:
    import ccxt.async_support as ccxt_async

    check_loopback_url(url)
    session = loopback_session()
    config: dict[str, Any] = {"enableRateLimit": False, "session": session}
    if exchange == "binance":
        config["options"] = {"fetchMarkets": ["spot"], "fetchCurrencies": False, "fetchMargins": False}
    elif exchange == "bitget":
        config["options"] = {"fetchMarkets": {"types": ["spot"]}, "uta": False}
    instances = [_ccxt_instance(ccxt_async, exchange, config, acc, url) for acc in accounts(exchange, "ccxt")]
    await instances[0].load_markets()
    for other in instances[1:]:  # one markets load, shared: as a careful user of many instances would
        other.set_markets(instances[0].markets, instances[0].currencies)
    o = ORDERS[exchange]
    locks = [asyncio.Lock() for _ in instances]

    async def place(i: int) -> Any:
        ex = instances[i % len(instances)]
        params: dict[str, Any] = {} if exchange == "kraken" else {"clientOrderId": _cid("c", i)}
        if exchange == "bitget":
            params["force"] = "gtc"  # the simulator requires `force`, as Bitget documents
        args = (o["symbol"], "limit", "buy", float(o["quantity"]), float(o["price"]), params)
        if exchange != "kraken":
            order = await ex.create_order(*args)
        else:
            async with locks[i % len(instances)]:
                order = await ex.create_order(*args)
        if not order.get("id"):
            raise RuntimeError(f"ccxt order without an id: {order}")
        return order

    async def close() -> None:
        for ex in instances:
            await ex.close()
        await session.close()

    return Client("ccxt", exchange, place, close)


def _ccxt_instance(ccxt_async: Any, exchange: str, config: dict[str, Any], acc: dict[str, Any], url: str) -> Any:
    """One ccxt exchange object (ccxt holds one account's keys per instance), every URL at the simulator."""
    config = {**config, "apiKey": acc["api_key"], "secret": acc["api_secret"]}
    if acc.get("api_password"):
        config["password"] = acc["api_password"]
    ex = getattr(ccxt_async, exchange)(config)
    if exchange == "bitget":
        # ccxt reads margin currencies with the spot markets; the simulator does not serve them and they
        # are not on the order path: answered empty here, in memory
        async def no_margin(params: Any = None) -> Any:
            return {"code": "00000", "msg": "success", "data": []}

        ex.publicMarginGetV2MarginCurrencies = no_margin
    ex.urls["api"] = point_at(ex.urls["api"], url)
    ex.has["fetchCurrencies"] = False  # private currency endpoints: not served, and not on the order path
    _check_every_url(ex.urls["api"])
    if exchange == "kraken":
        ex.nonce = KrakenNonce()  # milliseconds (ccxt's default) repeat under load; Terminal 5 uses µs too
    return ex


class KrakenNonce:
    """Microseconds, strictly increasing (Kraken refuses a nonce not above the last one of the key)."""

    def __init__(self) -> None:
        self.last = 0

    def __call__(self) -> int:
        self.last = max(time.time_ns() // 1000, self.last + 1)
        return self.last


def _check_every_url(urls: Any) -> None:
    if isinstance(urls, dict):
        for value in urls.values():
            _check_every_url(value)
    elif isinstance(urls, str) and _HOST.match(urls):
        check_loopback_url(urls)


# --- the floor ----------------------------------------------------------------------------------------------
async def open_floor(exchange: str, url: str, client: str = "floor") -> Client:
    """The floor client; ``client`` names whose simulator accounts it uses (``floor_daemon.py`` reuses it)."""
    check_loopback_url(url)
    every = accounts(exchange, client)
    o = ORDERS[exchange]
    session = loopback_session()
    # Kraken: nonces must arrive in order, so one private call per key at a time, as Terminal 5's Kraken
    # client does (calls in flight together could reach the exchange out of order)
    nonces = [KrakenNonce() for _ in every]
    locks = [asyncio.Lock() for _ in every]

    async def binance(i: int) -> Any:
        key, secret = every[i % len(every)]["api_key"], every[i % len(every)]["api_secret"]
        query = urllib.parse.urlencode({
            "symbol": o["native_symbol"], "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": o["quantity"], "price": o["price"], "newClientOrderId": _cid("f", i),
            "timestamp": time.time_ns() // 1_000_000, "recvWindow": 5000})
        sig = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        async with session.post(f"{url}/api/v3/order?{query}&signature={sig}", headers={"X-MBX-APIKEY": key}) as r:
            body = await r.json(content_type=None)
            if r.status != 200 or "orderId" not in body:
                raise RuntimeError(f"refused: {body}")
            return body

    kraken_secrets = [base64.b64decode(a["api_secret"]) for a in every] if exchange == "kraken" else []

    async def kraken(i: int) -> Any:
        async with locks[i % len(every)]:
            return await kraken_unlocked(i % len(every))

    async def kraken_unlocked(k: int) -> Any:
        key, kraken_secret, n = every[k]["api_key"], kraken_secrets[k], nonces[k]()
        body = urllib.parse.urlencode({"nonce": n, "ordertype": "limit", "type": "buy",
                                       "volume": o["quantity"], "pair": o["native_symbol"], "price": o["price"]})
        path = "/0/private/AddOrder"
        digest = hashlib.sha256(f"{n}{body}".encode()).digest()
        sign = base64.b64encode(hmac.new(kraken_secret, path.encode() + digest, hashlib.sha512).digest()).decode()
        headers = {"API-Key": key, "API-Sign": sign, "Content-Type": "application/x-www-form-urlencoded"}
        async with session.post(url + path, data=body, headers=headers) as r:
            answer = await r.json(content_type=None)
            if answer.get("error") or not answer.get("result", {}).get("txid"):
                raise RuntimeError(f"refused: {answer}")
            return answer

    async def bitget(i: int) -> Any:
        acc = every[i % len(every)]
        key, secret = acc["api_key"], acc["api_secret"]
        path = "/api/v2/spot/trade/place-order"
        body = json.dumps({"symbol": o["native_symbol"], "side": "buy", "orderType": "limit", "force": "gtc",
                           "price": o["price"], "size": o["quantity"], "clientOid": _cid("f", i)})
        stamp = str(time.time_ns() // 1_000_000)
        sign = base64.b64encode(hmac.new(secret.encode(), f"{stamp}POST{path}{body}".encode(),
                                         hashlib.sha256).digest()).decode()
        headers = {"ACCESS-KEY": key, "ACCESS-SIGN": sign, "ACCESS-TIMESTAMP": stamp,
                   "ACCESS-PASSPHRASE": acc["api_password"], "Content-Type": "application/json"}
        async with session.post(url + path, data=body, headers=headers) as r:
            answer = await r.json(content_type=None)
            if answer.get("code") != "00000":
                raise RuntimeError(f"refused: {answer}")
            return answer

    async def close() -> None:
        await session.close()

    return Client(client, exchange, {"binance": binance, "kraken": kraken, "bitget": bitget}[exchange], close)
