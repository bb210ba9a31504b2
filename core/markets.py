"""Market metadata cache: in memory, and on disk so a restart does not refetch every exchange."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import attrs
import msgspec
from loguru import logger

from terminal5 import heap, jsonutil
from terminal5.errors import PluginError
from terminal5.models import Market, MarketType
from terminal5.wire import converter, unstructure


class _CachedFile(msgspec.Struct):
    """The disk cache's document, each market left as its JSON text (decoded on first use)."""

    fetched_at: int
    markets: list[msgspec.Raw]


class _CachedNames(msgspec.Struct):
    """The two fields of a cached market that index it (the rest is skipped, not decoded)."""

    symbol: str
    native_symbol: str


#: a market as the disk cache holds it: decoded (a dict), or its JSON text not decoded yet
Stored = dict[str, Any] | msgspec.Raw


class MarketBook:
    """The markets of one exchange endpoint and market type, by unified and by native symbol.

    A book read back from the disk cache keeps each market as stored and structures it on first use
    (``of_cached``): a warm restart does not build ~2,000 Binance markets to place one order, nor even
    decode them (each stays JSON text until asked for)."""

    def __init__(self, markets: Iterable[Market] = ()) -> None:
        self._all: list[Market] | None = list(markets)
        self.by_symbol = {m.symbol: m for m in self._all}
        self.by_native = {m.native_symbol: m for m in self._all}
        #: markets as stored, not structured yet (a book from the disk cache): by symbol, in the cache's
        #: order, and by native symbol
        self._stored_by_symbol: dict[str, Stored] = {}
        self._stored_by_native: dict[str, tuple[str, Stored]] = {}
        self._on_unreadable: Callable[[], None] | None = None

    @classmethod
    def of_cached(cls, stored: list[dict[str, Any]], on_unreadable: Callable[[], None] | None = None) -> MarketBook:
        """A book over markets as the disk cache stores them, each structured when first asked for.
        ``on_unreadable`` is called when one cannot be (the cache is then dropped and refetched)."""
        return cls._of_stored([(str(m["symbol"]), str(m["native_symbol"]), m) for m in stored], on_unreadable)

    @classmethod
    def _of_stored(cls, stored: list[tuple[str, str, Stored]], on_unreadable: Callable[[], None] | None) -> MarketBook:
        book = cls()
        book._all = None
        book._stored_by_symbol = {symbol: entry for symbol, _, entry in stored}
        book._stored_by_native = {native: (symbol, entry) for symbol, native, entry in stored}
        book._on_unreadable = on_unreadable
        return book

    @property
    def markets(self) -> list[Market]:
        if self._all is None:
            self._all = [self._adopt(symbol, m) for symbol, m in self._stored_by_symbol.items()]
        return self._all

    def get(self, symbol: str) -> Market | None:
        found = self.by_symbol.get(symbol)
        if found is None and symbol in self._stored_by_symbol:
            found = self._adopt(symbol, self._stored_by_symbol[symbol])
        return found

    def native(self, native_symbol: str) -> Market | None:
        found = self.by_native.get(native_symbol)
        if found is None and native_symbol in self._stored_by_native:
            found = self._adopt(*self._stored_by_native[native_symbol])
        return found

    def _adopt(self, symbol: str, stored: Stored) -> Market:
        known = self.by_symbol.get(symbol)
        if known is not None:
            return known
        try:
            data = jsonutil.loads(bytes(stored)) if isinstance(stored, msgspec.Raw) else dict(stored)
            market = _market_from_cache(data)
        except Exception as exc:
            logger.warning("market cache entry {} unreadable ({}); the cache is dropped", symbol, exc)
            if self._on_unreadable is not None:
                self._on_unreadable()
            raise PluginError(
                f"the cached metadata of market {symbol!r} is unreadable; it is refetched: retry"
            ) from exc
        self.by_symbol[market.symbol] = market
        self.by_native[market.native_symbol] = market
        return market


Loader = Callable[[], Awaitable[list[Market]]]


def _market_from_cache(data: dict[str, Any]) -> Market:
    """``info`` is the exchange's raw metadata (lists, nested objects): kept as read, not structured with
    the strict converter (which takes flat objects only, as for ``extra_params``)."""
    info = data.pop("info", None) or {}
    return attrs.evolve(converter.structure(data, Market), info=info)


class MarketCache:
    def __init__(self, cache_dir: Path | None, ttl_seconds: float = 3600.0) -> None:
        self.cache_dir = cache_dir
        self.ttl = ttl_seconds
        self._books: dict[tuple[str, str, MarketType], tuple[float, MarketBook]] = {}
        self._locks: dict[tuple[str, str, MarketType], asyncio.Lock] = {}
        #: disk writes in flight (kept referenced until done)
        self._writes: set[asyncio.Future[None]] = set()
        self._write_lock = threading.Lock()

    def _path(self, key: tuple[str, str, MarketType]) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(key[1].encode()).hexdigest()[:12]
        return self.cache_dir / f"{key[0]}-{key[2].value}-{digest}.json"

    def _read_disk(self, key: tuple[str, str, MarketType]) -> tuple[float, MarketBook] | None:
        path = self._path(key)
        if path is None or not path.exists():
            return None
        try:
            # each market stays JSON text: only its two names are read now (``MarketBook._adopt`` decodes it)
            data = msgspec.json.decode(path.read_bytes(), type=_CachedFile)
            if time.time() - data.fetched_at > self.ttl:
                return None
            names = [msgspec.json.decode(raw, type=_CachedNames) for raw in data.markets]
            stored = [(n.symbol, n.native_symbol, raw) for n, raw in zip(names, data.markets, strict=True)]
            return data.fetched_at, MarketBook._of_stored(stored, lambda: self._drop(key))
        except Exception as exc:  # a corrupt cache is refetched, never fatal
            logger.warning("market cache {} unreadable ({}); refetching", path, exc)
            return None

    def _drop(self, key: tuple[str, str, MarketType]) -> None:
        """Forget a book (in memory and on disk): the next call loads it again."""
        self._books.pop(key, None)
        path = self._path(key)
        if path is not None:
            path.unlink(missing_ok=True)

    def _write_in_background(self, key: tuple[str, str, MarketType], book: MarketBook) -> None:
        """On a thread, off the path to the first order: encoding ~2,000 markets takes hundreds of ms. The
        book is immutable (frozen markets) and the file is replaced atomically, so nothing can read half."""
        if self.cache_dir is None:
            return

        def write() -> None:
            try:
                with self._write_lock:  # one writer at a time: two writes of one key share its .tmp file
                    self._write_disk(key, book)
            except Exception as exc:  # a cache that cannot be written is refetched next time, never fatal
                logger.warning("market cache for {} not written: {}", key[0], exc)
            heap.release()

        future = asyncio.get_running_loop().run_in_executor(None, write)
        self._writes.add(future)
        future.add_done_callback(self._writes.discard)

    async def flush(self) -> None:
        """Wait for the disk writes in flight."""
        if self._writes:
            await asyncio.gather(*list(self._writes))

    def _write_disk(self, key: tuple[str, str, MarketType], book: MarketBook) -> None:
        path = self._path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        # one market at a time, not the whole document in memory (megabytes for Binance); the same text as
        # jsonutil.dumps({"fetched_at": ..., "markets": [...]}), whose output is compact
        with tmp.open("w") as out:
            out.write(f'{{"fetched_at":{int(time.time())},"markets":[')
            for i, market in enumerate(book.markets):
                out.write("," + jsonutil.dumps(unstructure(market)) if i else jsonutil.dumps(unstructure(market)))
            out.write("]}")
        tmp.replace(path)

    async def book(self, exchange: str, base_url: str, market_type: MarketType, loader: Loader) -> MarketBook:
        key = (exchange, base_url, market_type)
        cached = self._books.get(key)
        if cached and time.time() - cached[0] <= self.ttl:
            return cached[1]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._books.get(key)
            if cached and time.time() - cached[0] <= self.ttl:
                return cached[1]
            from_disk = self._read_disk(key)
            if from_disk is not None:
                self._books[key] = from_disk
                return from_disk[1]
            book = MarketBook(await loader())
            heap.release()  # what parsing the exchange's answer left behind
            self._books[key] = (time.time(), book)
            self._write_in_background(key, book)
            logger.info("{} {}: {} markets loaded", exchange, market_type.value, len(book.markets))
            return book

    def invalidate(self) -> None:
        self._books.clear()
