"""The official signing vectors (reference §2), spot and futures, plus non-ASCII and the wire invariant."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import yarl
from hypothesis import given
from hypothesis import strategies as st

from terminal5.contract import Credentials
from terminal5_binance.auth import SAFE_CHARS, encode, sign, signature

SPOT = Credentials(
    api_key="vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
    api_secret="NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
)
FUTURES = Credentials(
    api_key="dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83",
    api_secret="2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9",
)
SPOT_PARAMS = {"symbol": "LTCBTC", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1", "price": "0.1"}


def test_spot_query_string_vector() -> None:
    parts = sign(SPOT, 1499827319559, SPOT_PARAMS, recv_window=5000)
    payload = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    sig = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    assert parts.query == f"{payload}&signature={sig}"
    assert parts.body is None
    assert parts.headers == {"X-MBX-APIKEY": SPOT.api_key}


def test_spot_mixed_query_and_body_vector() -> None:
    query = {"symbol": "LTCBTC", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    body = {"quantity": "1", "price": "0.1"}
    parts = sign(SPOT, 1499827319559, query, recv_window=5000, body_params=body)
    assert parts.query == "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
    assert parts.body == (
        "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
        "&signature=0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
    )
    assert parts.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_spot_non_ascii_vector() -> None:
    params = dict(SPOT_PARAMS, symbol="\uff11\uff12\uff13\uff14\uff15\uff16")  # full-width digits
    parts = sign(SPOT, 1499827319559, params, recv_window=5000)
    assert parts.query.startswith("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY")
    assert parts.query.endswith("&signature=e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3")


def test_futures_vector() -> None:
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "9000", "timeInForce": "GTC"}
    parts = sign(FUTURES, 1591702613943, params, recv_window=5000)
    assert parts.query.endswith("&signature=3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9")
    assert signature(
        FUTURES.api_secret,
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943",
    ) == "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"


def test_no_recv_window_and_empty_params() -> None:
    parts = sign(SPOT, 5, {}, recv_window=None)
    assert parts.query.startswith("timestamp=5&signature=")


def test_secret_never_on_the_wire() -> None:
    parts = sign(SPOT, 1, SPOT_PARAMS)
    assert SPOT.api_secret not in parts.query
    assert SPOT.api_secret not in repr(SPOT)


@given(st.dictionaries(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8),
                       st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12), max_size=4))
def test_signed_string_survives_aiohttp_url_normalisation(params: dict[str, str]) -> None:
    """aiohttp (yarl) re-normalises URLs; the encoded query must come out byte-identical, or the
    signature Binance recomputes over the raw query would not match."""
    query = encode(params)
    url = yarl.URL(f"https://api.binance.com/api/v3/order?{query}")
    assert url.raw_query_string == query


def test_safe_chars_are_the_ones_yarl_decodes() -> None:
    for ch in SAFE_CHARS:
        assert str(yarl.URL("http://x/?a=" + quote(ch, safe=""))).endswith("a=" + ch)


@pytest.mark.parametrize("value", ["BTCUSDT", "0.00100000", "LIMIT", "t5-abc_1.~", "a b", "x&y=z", "100%", "1+1",
                                   "é€", "line\n", "", "(!$'*,/:?@)", "#", "[]"])
def test_encoding_skips_quote_only_where_quote_changes_nothing(value: str) -> None:
    assert encode({"k": value}) == "k=" + quote(value, safe=SAFE_CHARS, encoding="utf-8")
