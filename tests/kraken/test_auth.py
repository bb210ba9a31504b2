"""The pure signer against Kraken's official example (reference §2)."""

from __future__ import annotations

import pytest

from terminal5.contract import Credentials
from terminal5.errors import AuthenticationError
from terminal5_kraken.auth import REDACT, sign, signature

from .data import OFFICIAL_BODY, OFFICIAL_NONCE, OFFICIAL_PATH, OFFICIAL_SECRET, OFFICIAL_SIGN


def test_official_vector_exact() -> None:
    assert signature(OFFICIAL_SECRET, OFFICIAL_NONCE, OFFICIAL_PATH, OFFICIAL_BODY) == OFFICIAL_SIGN


def test_sign_headers() -> None:
    creds = Credentials(api_key="my-key", api_secret=OFFICIAL_SECRET)
    headers = sign(creds, OFFICIAL_NONCE, OFFICIAL_PATH, OFFICIAL_BODY)
    assert headers == {"API-Key": "my-key", "API-Sign": OFFICIAL_SIGN}
    assert {"API-Key", "API-Sign"} <= REDACT


def test_signature_depends_on_every_input() -> None:
    base = signature(OFFICIAL_SECRET, OFFICIAL_NONCE, OFFICIAL_PATH, OFFICIAL_BODY)
    assert signature(OFFICIAL_SECRET, OFFICIAL_NONCE + 1, OFFICIAL_PATH, OFFICIAL_BODY) != base
    assert signature(OFFICIAL_SECRET, OFFICIAL_NONCE, "/0/private/CancelOrder", OFFICIAL_BODY) != base
    assert signature(OFFICIAL_SECRET, OFFICIAL_NONCE, OFFICIAL_PATH, OFFICIAL_BODY + "&x=1") != base


def test_bad_secret_never_echoed() -> None:
    with pytest.raises(AuthenticationError) as info:
        signature("not base64 !!! secret-value", 1, OFFICIAL_PATH, "")
    assert "secret-value" not in str(info.value)
