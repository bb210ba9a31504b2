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
