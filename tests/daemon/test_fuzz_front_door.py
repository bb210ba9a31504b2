"""Front-door fuzzing: 2,000 generated order bodies over HTTP, against one daemon and the loopback exchange.

Hypothesis generates the bodies (every field of the unified order, each either a plausible value, a number
written in any notation, or any JSON value; keys missing or unknown). Each is posted as user 1. Whatever
the body, the answer is never a 5xx and is typed; a body the gateway refuses never reaches the exchange; an accepted one
is an order the library's own validator accepts (a valid order the exchange itself refuses, e.g. for funds,
is answered with that typed error).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terminal5 import jsonutil
from terminal5.errors import InvalidOrderRequest
from terminal5.wire import structure_request

from .conftest import World, order_body

BODIES = 2_000

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
NUMBER_TEXT = st.from_regex(r"-?[0-9]{0,24}(\.[0-9]{0,20})?([eE][+-]?[0-9]{1,4})?", fullmatch=True)


def field(*plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(*plausible, JSON_VALUES)


FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "symbol": field(st.sampled_from(["BTC/USDT", "ETH/USDT", "BTC/USDT:USDT", "NOPE/USDT", "btc/usdt"])),
    "side": field(st.sampled_from(["buy", "sell", "BUY", "hold"])),
    "type": field(st.sampled_from(["limit", "market", "limit_maker", "stop_loss", "take_profit", "iceberg"])),
    "quantity": field(NUMBER_TEXT, st.sampled_from(["0.001", "0.01", "1", " 0.001 "])),
    "price": field(NUMBER_TEXT, st.sampled_from(["43000.10", "43000", "0"])),
    "stop_price": field(NUMBER_TEXT),
    "time_in_force": field(st.sampled_from(["GTC", "IOC", "FOK", "GTD", "gtc"])),
    "client_order_id": field(st.text(alphabet="abcdefghij-_0123456789", min_size=1, max_size=40)),
    "reduce_only": field(st.booleans()),
    "position_side": field(st.sampled_from(["long", "short", "both"])),
    "extra_params": field(st.dictionaries(st.sampled_from(["a", "b"]), st.text(max_size=5), max_size=2)),
    "user_id": field(st.sampled_from([1, 2])),
}


@st.composite
def one_field_off(draw: st.DrawFn, broker: int) -> dict[str, Any]:
    """A valid limit buy with one field replaced by a drawn value, or removed (half of the bodies)."""
    body = order_body(broker, draw(st.text(alphabet="abcdefghij0123456789", min_size=8, max_size=20)))
    name = draw(st.sampled_from(sorted(FIELDS)))
    if draw(st.booleans()) and name in body:
        del body[name]
    else:
        body[name] = draw(FIELDS[name])
    return body


def generated_bodies(broker: int) -> list[dict[str, Any]]:
    """``BODIES`` bodies, drawn by hypothesis (collected first: the requests are async)."""
    bodies: list[dict[str, Any]] = []
    anything = st.fixed_dictionaries(
        {"broker_id": st.one_of(st.just(broker), JSON_VALUES)},
        optional={**FIELDS, "unknown_key": JSON_VALUES},
    )

    @settings(max_examples=BODIES, database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(one_field_off(broker), anything))
    def collect(data: dict[str, Any]) -> None:
        bodies.append(data)

    collect()
    return bodies


def valid_for_the_library(body: dict[str, Any]) -> bool:
    try:
        structure_request({**body, "user_id": 1})
    except InvalidOrderRequest:
        return False
    return True


async def test_generated_bodies_never_5xx_and_refused_ones_never_reach_the_exchange(world: World) -> None:
    broker = world.brokers["one"]
    bodies = generated_bodies(broker)
    assert len(bodies) >= BODIES
    failures: list[str] = []
    statuses: dict[int, int] = {}
    accepted = 0
    headers = {**world.auth("user1"), "Content-Type": "application/json"}
    for body in bodies:
        before = world.exchange.requests
        text = json.dumps(body, allow_nan=False)
        resp = await world.client.post("/v1/orders", data=text.encode(), headers=headers)
        statuses[resp.status] = statuses.get(resp.status, 0) + 1
        answer = jsonutil.loads(await resp.text())
        if resp.status >= 500:
            failures.append(f"{resp.status} for {text[:300]}: {str(answer)[:200]}")
        elif resp.status >= 400:
            if not (isinstance(answer, dict) and isinstance(answer.get("error"), str)):
                failures.append(f"untyped {resp.status} for {text[:300]}")
            # the exchange's own refusals (funds, a duplicate id) come from a valid order that was sent; a body
            # the gateway itself refuses (bad field, foreign broker, unknown symbol…) must never be sent
            sent = world.exchange.requests != before
            if sent and (answer.get("error") == "InvalidOrderRequest" or not valid_for_the_library(body)):
                failures.append(f"refused ({answer.get('error')}) but reached the exchange: {text[:300]}")
        else:
            accepted += 1
            if not valid_for_the_library(body):
                failures.append(f"accepted although the library refuses it: {text[:300]}")
    print(f"fuzz: {len(bodies)} bodies, answers {dict(sorted(statuses.items()))}, accepted {accepted}")
    assert not failures, "\n".join(failures[:20])
    # teeth both ways: most bodies are refused, and enough valid ones went through to the exchange
    assert statuses.get(400, 0) > BODIES // 3 and accepted > 50, (statuses, accepted)
