"""Idempotency compares the normalized request, not its text (issue 10, item 10)."""

from __future__ import annotations

from typing import Any

import pytest

from terminal5.errors import DuplicateOrder
from terminal5.idempotency import normalized_request, same_request
from terminal5.storage.orders import request_fingerprint
from terminal5.wire import structure_request


async def test_trailing_zeros_are_the_same_order(env: Any) -> None:
    first = await env.gateway.place_order(env.order(client_order_id="norm-1", quantity="0.001"))
    again = await env.gateway.place_order(env.order(client_order_id="norm-1", quantity="0.0010"))
    assert again.id == first.id
    assert env.exchange.attempts["norm-1"] == 1


async def test_default_time_in_force_written_out_is_the_same_order(env: Any) -> None:
    first = await env.gateway.place_order(env.order(client_order_id="norm-2"))
    again = await env.gateway.place_order(env.order(client_order_id="norm-2", time_in_force="GTC"))
    assert again.id == first.id
    assert env.exchange.attempts["norm-2"] == 1


async def test_price_as_the_api_answered_it_is_the_same_order(env: Any) -> None:
    first = await env.gateway.place_order(env.order(client_order_id="norm-3", price="43000.10"))
    answered = str(first.price)  # what the API itself returned for the order
    assert answered != "43000.10"
    again = await env.gateway.place_order(env.order(client_order_id="norm-3", price=answered))
    assert again.id == first.id
    assert env.exchange.attempts["norm-3"] == 1


async def test_a_really_different_value_is_still_a_conflict(env: Any) -> None:
    await env.gateway.place_order(env.order(client_order_id="norm-4", quantity="0.001"))
    with pytest.raises(DuplicateOrder):
        await env.gateway.place_order(env.order(client_order_id="norm-4", quantity="0.0011"))
    with pytest.raises(DuplicateOrder):
        await env.gateway.place_order(env.order(client_order_id="norm-4", time_in_force="IOC"))
    assert env.exchange.attempts["norm-4"] == 1


async def test_rows_stored_with_the_old_textual_fingerprint_still_replay(env: Any) -> None:
    """A row written before normalization (hash of the text) is compared through its stored request."""
    first = await env.gateway.place_order(env.order(client_order_id="norm-5", quantity="0.0010"))
    row = await env.gateway.storage.run(env.gateway.orders.find, env.broker.id, "norm-5")
    await env.gateway.storage.run(env.gateway.orders.update, row.id, request_hash="0" * 64)
    again = await env.gateway.place_order(env.order(client_order_id="norm-5", quantity="0.001"))
    assert again.id == first.id and env.exchange.attempts["norm-5"] == 1


def test_normal_form() -> None:
    base = {"symbol": "BTC/USDT", "side": "buy", "type": "limit", "quantity": "0.0010", "price": "43000.10",
            "user_id": 1, "broker_id": 1, "client_order_id": "x"}
    a = structure_request(base)
    b = structure_request({**base, "quantity": "0.001", "price": "43000.1", "time_in_force": "GTC",
                           "reduce_only": False, "source": "manual"})
    assert normalized_request(a) == normalized_request(b)
    assert request_fingerprint(a) == request_fingerprint(b)
    market = structure_request({**base, "type": "market", "price": None})
    assert normalized_request(market)["time_in_force"] is None  # market orders have no written-out default
    stored_as_text = {**base, "quantity": "0.0010"}  # a row's stored request, hashed the old way
    assert same_request(stored_as_text, "0" * 64, b)
    assert not same_request({**base, "quantity": "0.002"}, "0" * 64, b)
    assert same_request(None, request_fingerprint(a), b) and not same_request(None, "0" * 64, b)
