"""The signer against the reference's prehash strings (§2) and an independent HMAC (openssl).

Bitget publishes prehash strings but no expected signature; the expected values below were computed with
``printf '%s' PREHASH | openssl dgst -sha256 -hmac test-api-secret -binary | base64``.
"""

from __future__ import annotations

import pytest

from terminal5.contract import Credentials
from terminal5.errors import AuthenticationError
from terminal5.models import MarketType
from terminal5_bitget import auth, constants, plugin

CREDS = Credentials(api_key="test-api-key", api_secret="test-api-secret", api_password="test-passphrase")
#: §2's GET example, path as the docs print it
GET_PREHASH = "16273667805456GET/api/mix/v2/market/depth?limit=20&symbol=BTCUSDT"
GET_SIGN = "ydHsEWqGUquNtPCTd0uh+yUd273gG0sh1+QtocPJfhY="
POST_BODY = ('{"productType":"usdt-futures","symbol":"BTCUSDT","size":"8","marginMode":"crossed","marginCoin":"USDT",'
             '"side":"buy","tradeSide":"open","orderType":"limit","price":"2000","force":"gtc"}')
POST_SIGN = "y75n6NChMCAX5oWfU3ZDEKTkBPNC8spY6ZUXh3Ru+dY="


def test_prehash_matches_the_documented_strings() -> None:
    query = auth.encode_query({"limit": "20", "symbol": "BTCUSDT"})
    assert auth.prehash("16273667805456", "get", "/api/mix/v2/market/depth", query) == GET_PREHASH
    post = auth.prehash("16273667805456", "POST", "/api/v2/mix/order/place-order", body=POST_BODY)
    assert post == "16273667805456POST/api/v2/mix/order/place-order" + POST_BODY
    assert auth.prehash("1", "GET", "/api/v2/spot/account/assets") == "1GET/api/v2/spot/account/assets"


def test_signature_is_base64_of_the_raw_digest() -> None:
    assert auth.signature("test-api-secret", GET_PREHASH) == GET_SIGN
    assert auth.signature("test-api-secret", "16273667805456POST/api/v2/mix/order/place-order" + POST_BODY) == POST_SIGN


def test_sign_headers_sign_exactly_what_is_sent() -> None:
    body = auth.encode_body({"symbol": "BTCUSDT", "size": "0.01"})
    assert body == '{"symbol":"BTCUSDT","size":"0.01"}'
    headers = auth.sign(CREDS, 16273667805456, "POST", "/api/v2/spot/trade/place-order", body=body)
    expected = auth.signature("test-api-secret", "16273667805456POST/api/v2/spot/trade/place-order" + body)
    assert headers[constants.SIGN_HEADER] == expected
    assert headers[constants.TIMESTAMP_HEADER] == "16273667805456"
    assert headers[constants.KEY_HEADER] == "test-api-key"
    assert headers[constants.PASSPHRASE_HEADER] == "test-passphrase"
    assert headers["Content-Type"] == "application/json" and constants.DEMO_HEADER not in headers
    get = auth.sign(CREDS, 16273667805456, "GET", "/api/mix/v2/market/depth", query="limit=20&symbol=BTCUSDT")
    assert get[constants.SIGN_HEADER] == GET_SIGN


def test_demo_trading_is_a_header() -> None:
    # the contract's header-marked testnet: the core adds ``paptrading: 1`` to testnet calls, unsigned
    assert plugin.SPEC.urls.testnet_headers == {constants.DEMO_HEADER: "1"}
    assert plugin.SPEC.urls.for_(MarketType.SPOT, testnet=True) == constants.BASE_URL
    assert constants.DEMO_HEADER not in auth.sign(CREDS, 1, "GET", "/api/v2/spot/account/assets")
    assert constants.DEMO_HEADER not in auth.public_headers()


def test_query_encoding_is_stable_and_quoted() -> None:
    assert auth.encode_query({"symbol": "BTCUSDT", "clientOid": "a b/c"}) == "symbol=BTCUSDT&clientOid=a%20b%2Fc"


def test_a_missing_passphrase_is_refused_before_sending() -> None:
    with pytest.raises(AuthenticationError) as info:
        auth.sign(Credentials(api_key="k", api_secret="s"), 1, "GET", "/x")
    assert info.value.field == "api_password" and info.value.code == "40011"
