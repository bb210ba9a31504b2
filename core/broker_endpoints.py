"""Where a broker's calls go, per market type, and which market types the broker trades.

A broker's ``base_url`` override is either one URL for every market type of its exchange (a simulator
serving them all) or one URL per market type: ``{"spot": "https://spot-host"}``, also written
``"spot=https://spot-host,swap=https://futures-host"``. With per-market-type overrides the broker trades
exactly those market types: a spot broker pointed at a spot-only host never has its futures endpoints
called (reconciliation, open orders, positions), and a futures order through it is refused before
anything is sent. Without an override, the broker trades every market type its exchange has an
endpoint for (production or testnet).

Stored in the ``brokers.base_url`` column: the URL itself, or the per-market-type table as a JSON object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from terminal5.contract import ExchangeSpec
from terminal5.errors import Terminal5Error, UnsupportedParameterError
from terminal5.models import MarketType

MAX_STORED = 500  # the column's size


def _bad(message: str) -> Terminal5Error:
    return Terminal5Error(message, field="base_url")


def _check_url(url: Any, where: str) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) < 8:
        raise _bad(f"{where}: {url!r} is not an http(s) URL")
    return url.rstrip("/")


def parse(value: str | Mapping[str, str] | None, spec: ExchangeSpec) -> str | None:
    """A user's override → what the ``base_url`` column stores; ``Terminal5Error`` naming ``base_url``."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        first = value.split("=", 1)[0]
        if "=" not in value or "://" in first:
            return _check_url(value, "base_url")
        pairs = [part.split("=", 1) for part in value.split(",") if part.strip()]
        if any(len(p) != 2 for p in pairs):
            raise _bad(f"{value!r}: write one URL, or market_type=URL pairs separated by commas")
        value = {k.strip(): v.strip() for k, v in pairs}
    if not isinstance(value, Mapping) or not value:
        raise _bad("give one URL, or a URL per market type")
    table: dict[str, str] = {}
    known = sorted(m.value for m in spec.market_types)
    for key, url in value.items():
        if key not in known:
            raise _bad(f"{key!r} is not a market type of {spec.name} ({', '.join(known)})")
        table[key] = _check_url(url, f"base_url[{key}]")
    stored = json.dumps(dict(sorted(table.items())), separators=(",", ":"))
    if len(stored) > MAX_STORED:
        raise _bad(f"longer than {MAX_STORED} characters")
    return stored


def split(stored: str | None) -> tuple[str | None, dict[str, str]]:
    """The column → (one URL for every market type, per-market-type URLs)."""
    if not stored:
        return None, {}
    if stored.startswith("{"):
        return None, dict(json.loads(stored))
    return stored, {}


def endpoint(
    spec: ExchangeSpec, base_url: str | None, base_urls: Mapping[str, str], testnet: bool, market_type: MarketType
) -> str | None:
    """The URL for this market type; None when the broker does not trade it."""
    if base_urls:
        url = base_urls.get(market_type.value)
        return url.rstrip("/") if url else None
    if base_url:
        return base_url.rstrip("/")
    return spec.urls.for_(market_type, testnet=testnet)


def traded(spec: ExchangeSpec, base_url: str | None, base_urls: Mapping[str, str], testnet: bool) -> list[MarketType]:
    """The market types the broker trades, in a stable order."""
    return [m for m in sorted(spec.market_types) if endpoint(spec, base_url, base_urls, testnet, m) is not None]


def not_traded(
    spec: ExchangeSpec, broker_id: int, base_urls: Mapping[str, str], testnet: bool, market_type: MarketType
) -> UnsupportedParameterError:
    if base_urls:
        why = (
            f"broker {broker_id} trades {', '.join(sorted(base_urls))} only (its base_url names no {market_type.value})"
        )
    else:
        env = "testnet" if testnet else "production"
        why = f"{spec.name} has no {env} endpoint for {market_type.value}"
    return UnsupportedParameterError(why, exchange=spec.name, field="symbol")
