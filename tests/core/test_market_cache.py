"""The markets disk cache reads back what it wrote, even when a plugin keeps lists in ``Market.info``
(Binance's ``filters``, ``orderTypes``): found by running the README walkthrough against the Binance
simulator, where every CLI call warned "market cache unreadable" and refetched ~2,000 symbols."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

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


def _markets(n: int) -> list[Market]:
    return [Market(exchange="x", symbol=f"C{i}/USDT", native_symbol=f"C{i}USDT", type=MarketType.SPOT, base=f"C{i}",
                   quote="USDT", tick_size=Decimal("0.01"), info={"filters": [{"i": i}]}) for i in range(n)]


async def test_a_warm_book_structures_only_the_markets_asked_for(tmp_path: Path) -> None:
    """Issue 12's warm restart: building ~2,000 Binance markets from the cache took ~80 ms before the first
    order; a book from the disk keeps them as stored and structures each on first use."""
    markets = _markets(5)
    key = ("x", "http://127.0.0.1:1", MarketType.SPOT)
    MarketCache(cache_dir=tmp_path)._write_disk(key, MarketBook(markets))
    cached = MarketCache(cache_dir=tmp_path)._read_disk(key)
    assert cached is not None
    book = cached[1]
    assert book.by_symbol == {}  # nothing structured yet
    assert all(isinstance(entry, msgspec.Raw) for entry in book._stored_by_symbol.values())  # nor even decoded
    assert book.get("C3/USDT") == markets[3] and list(book.by_symbol) == ["C3/USDT"]
    assert book.native("C3USDT") is book.get("C3/USDT")  # one object per market, whichever way it is found
    assert book.get("C9/USDT") is None and book.native("nope") is None
    assert book.markets == markets  # all of them, in the stored order, the one already built reused
    assert book.markets[3] is book.get("C3/USDT")


async def test_an_unreadable_cached_market_drops_the_cache_and_is_a_typed_error(tmp_path: Path) -> None:
    import pytest

    from terminal5.errors import PluginError

    cache = MarketCache(cache_dir=tmp_path)
    path = _cache_with_second_market_edited(cache, lambda market: market.update(tick_size="not a number"))
    loads = []

    async def loader() -> list[Market]:
        loads.append(1)
        return _markets(2)

    book = await cache.book("x", "http://127.0.0.1:1", MarketType.SPOT, loader)
    assert book.get("C0/USDT") is not None and loads == []  # the readable one is used from the cache
    with pytest.raises(PluginError, match="C1/USDT"):
        book.get("C1/USDT")
    assert not path.exists()  # dropped: the next call loads the markets again
    again = await cache.book("x", "http://127.0.0.1:1", MarketType.SPOT, loader)
    assert loads == [1] and again.get("C1/USDT") == _markets(2)[1]
    await cache.flush()


async def test_a_cached_market_without_its_names_makes_the_whole_cache_refetched(tmp_path: Path) -> None:
    _cache_with_second_market_edited(MarketCache(cache_dir=tmp_path), lambda market: market.pop("native_symbol"))
    assert MarketCache(cache_dir=tmp_path)._read_disk(KEY) is None  # refetched, never a crash


KEY = ("x", "http://127.0.0.1:1", MarketType.SPOT)


def _cache_with_second_market_edited(cache: MarketCache, edit: Callable[[dict[str, Any]], Any]) -> Path:
    """The disk cache of two markets (``KEY``), the second one's stored JSON edited; its path."""
    from terminal5 import jsonutil

    cache._write_disk(KEY, MarketBook(_markets(2)))
    path = cache._path(KEY)
    assert path is not None
    data = jsonutil.loads(path.read_text())
    edit(data["markets"][1])
    path.write_text(jsonutil.dumps(data))
    return path


def test_the_file_written_one_market_at_a_time_is_the_document_jsonutil_writes(tmp_path: Path) -> None:
    from terminal5 import heap, jsonutil
    from terminal5.wire import unstructure

    markets = [Market(exchange="x", symbol=f"B{i}/USDT", native_symbol=f"B{i}USDT", type=MarketType.SPOT, base=f"B{i}",
                      quote="USDT", tick_size=Decimal("0.01"), info={"filters": [{"tickSize": "0.01"}], "n": i})
               for i in range(3)]
    cache = MarketCache(cache_dir=tmp_path)
    key = ("x", "http://127.0.0.1:1", MarketType.SPOT)
    for book in (MarketBook(markets), MarketBook()):
        cache._write_disk(key, book)
        path = cache._path(key)
        assert path is not None
        text = path.read_text()
        written = jsonutil.loads(text)
        assert text == jsonutil.dumps({"fetched_at": written["fetched_at"], "markets": [unstructure(m) for m in book.markets]})
    heap.release()  # returns freed heap to the OS where glibc has malloc_trim; a no-op (never an error) elsewhere
