"""The markets disk cache reads back what it wrote, even when a plugin keeps lists in ``Market.info``
(Binance's ``filters``, ``orderTypes``): found by running the README walkthrough against the Binance
simulator, where every CLI call warned "market cache unreadable" and refetched ~2,000 symbols."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from terminal5.markets import MarketBook, MarketCache
from terminal5.models import Market, MarketType


async def test_a_market_with_lists_in_info_round_trips_through_the_disk_cache(tmp_path: Path) -> None:
    info = {"symbol": "BTCUSDT", "orderTypes": ["LIMIT", "MARKET"], "permissionSets": [["SPOT"]],
            "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.01"}], "icebergAllowed": True}
    market = Market(exchange="x", symbol="BTC/USDT", native_symbol="BTCUSDT", type=MarketType.SPOT, base="BTC",
                    quote="USDT", tick_size=Decimal("0.01"), info=info)
    key = ("x", "http://127.0.0.1:1", MarketType.SPOT)
    MarketCache(cache_dir=tmp_path)._write_disk(key, MarketBook([market]))
    cached = MarketCache(cache_dir=tmp_path)._read_disk(key)
    assert cached is not None, "the cache was written but could not be read back"
    (again,) = cached[1].markets
    assert again == market and again.info == info


async def test_the_disk_write_is_off_the_path_to_the_first_order(tmp_path: Path) -> None:
    """Writing ~2,000 markets as JSON took ~650 ms on the event loop before the first order could leave (issue
    12's cold start): the book is answered at once, the file is written on a thread, and ``flush`` waits for it."""
    import asyncio
    import threading

    market = Market(exchange="x", symbol="BTC/USDT", native_symbol="BTCUSDT", type=MarketType.SPOT, base="BTC",
                    quote="USDT", tick_size=Decimal("0.01"))
    key = ("x", "http://127.0.0.1:1", MarketType.SPOT)
    cache = MarketCache(cache_dir=tmp_path)
    release, written = threading.Event(), threading.Event()
    original = cache._write_disk

    def held_write(k: tuple[str, str, MarketType], book: MarketBook) -> None:
        release.wait(10)  # bounded: the old code blocked the loop here, then wrote
        original(k, book)
        written.set()

    cache._write_disk = held_write  # type: ignore[method-assign]

    async def load() -> list[Market]:
        return [market]

    book = await cache.book("x", key[1], MarketType.SPOT, load)
    assert book.get("BTC/USDT") == market
    assert not written.is_set(), "the book waited for the disk write"
    release.set()
    await asyncio.wait_for(cache.flush(), 10)
    assert written.is_set()
    cached = MarketCache(cache_dir=tmp_path)._read_disk(key)
    assert cached is not None and cached[1].markets == [market]
