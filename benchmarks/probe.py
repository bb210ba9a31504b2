"""Start-up and memory, each measured in a fresh interpreter (nothing imported or cached before):

* ``t5-start EXCHANGE URL DATA_DIR``: import, open a gateway (SQLite), add a broker, place the first order;
  run twice on one data dir, the second run is the warm restart (markets cached on disk);
* ``ccxt-start EXCHANGE URL``: import ccxt, build the exchange, load markets, place the first order;
* ``t5-memory EXCHANGE URL DATA_DIR N`` / ``ccxt-memory EXCHANGE URL N``: N brokers (N ccxt instances, each
  loading its markets as separate instances do), one order on each; the process's RSS after.

Prints one JSON line. Every order goes to the loopback simulator ``URL``."""

from __future__ import annotations

import time

T0 = time.perf_counter()  # before any import of the code measured

import asyncio  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def t5(exchange: str, url: str, data_dir: str, brokers: int) -> dict[str, float]:
    import os

    os.environ["TERMINAL5_DATA_DIR"] = data_dir
    import clients
    from common import accounts, check_loopback_url
    from cryptography.fernet import Fernet

    from terminal5.gateway import Gateway

    check_loopback_url(url)
    clients.configure_logs(Path(data_dir) / "logs")
    imported = time.perf_counter()
    key_file = Path(data_dir) / "bench.key"
    if not key_file.exists():
        key_file.write_text(Fernet.generate_key().decode())
    gw = await Gateway.open(database_url=f"sqlite:///{Path(data_dir) / 'probe.db'}", hooks=clients._hooks(exchange),
                            master_key=key_file.read_text(), data_dir=data_dir)
    try:
        ids = []
        for k, acc in enumerate(accounts(exchange, "probe", brokers)):
            existing = [b for b in await gw.list_brokers(user_id=1) if b.label == f"probe-{k}"]
            broker = existing[0] if existing else await gw.add_broker(
                user_id=1, exchange=exchange, label=f"probe-{k}", api_key=acc["api_key"],
                api_secret=acc["api_secret"], api_password=acc.get("api_password"), base_url=url,
                options=clients._broker_options(exchange) or None)
            ids.append(broker.id)
        ready = time.perf_counter()
        first = None
        for i, broker_id in enumerate(ids):
            await gw.place_order({"user_id": 1, "broker_id": broker_id, **clients._unified(exchange, i, "p")})
            first = first or time.perf_counter()
        assert first is not None
        return {"import_s": imported - T0, "to_first_order_s": first - T0, "first_order_after_open_s": first - ready,
                "open_to_first_order_s": first - imported,
                "rss_mb": rss_mb()}
    finally:
        await gw.close()


async def ccxt_probe(exchange: str, url: str, instances: int) -> dict[str, float]:
    import clients
    from common import accounts, loopback_session

    imported_at = None
    session = loopback_session()
    made = []
    first = None
    try:
        import ccxt.async_support as ccxt_async

        imported_at = time.perf_counter()
        config = {"enableRateLimit": False, "session": session}
        if exchange == "binance":
            config["options"] = {"fetchMarkets": ["spot"], "fetchCurrencies": False, "fetchMargins": False}
        elif exchange == "bitget":
            config["options"] = {"fetchMarkets": {"types": ["spot"]}, "uta": False}
        o = clients.ORDERS[exchange]
        for i, acc in enumerate(accounts(exchange, "probe", instances)):
            ex = clients._ccxt_instance(ccxt_async, exchange, config, acc, url)
            made.append(ex)
            await ex.load_markets()
            params = {} if exchange == "kraken" else {"clientOrderId": clients._cid("p", i)}
            if exchange == "bitget":
                params["force"] = "gtc"
            await ex.create_order(o["symbol"], "limit", "buy", float(o["quantity"]), float(o["price"]), params)
            first = first or time.perf_counter()
    finally:
        for ex in made:
            await ex.close()
        await session.close()
    assert first is not None and imported_at is not None
    return {"import_s": imported_at - T0, "to_first_order_s": first - T0, "rss_mb": rss_mb()}


def main() -> None:
    mode, exchange, url, *rest = sys.argv[1:]
    if mode == "t5-start":
        result = asyncio.run(t5(exchange, url, rest[0], 1))
    elif mode == "t5-memory":
        result = asyncio.run(t5(exchange, url, rest[0], int(rest[1])))
    elif mode == "ccxt-start":
        result = asyncio.run(ccxt_probe(exchange, url, 1))
    elif mode == "ccxt-memory":
        result = asyncio.run(ccxt_probe(exchange, url, int(rest[0])))
    elif mode == "baseline":
        import aiohttp  # noqa: F401

        result = {"rss_mb": rss_mb()}
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps({k: round(v, 4) for k, v in result.items()}), flush=True)


if __name__ == "__main__":
    main()
