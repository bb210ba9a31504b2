"""The userref hook: deterministic, in range, never 0, probing on (injected) collisions."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from terminal5.contract import NativeContext
from terminal5.plugins import load_hooks
from terminal5_kraken import userref
from terminal5_kraken.convert import client_ids
from terminal5_kraken.plugin import KrakenPlugin

ids = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/-", min_size=1, max_size=64)


def test_first_guess_is_sha256_31_bits() -> None:
    cid = "ARISTO_1_1706000000_abc123"
    expected = int.from_bytes(hashlib.sha256(cid.encode()).digest()[:4], "big") & 0x7FFFFFFF
    assert userref.userref_for(cid, 0) == expected


@given(ids, st.integers(min_value=0, max_value=10_000))
def test_deterministic_and_in_range(cid: str, attempt: int) -> None:
    value = userref.userref_for(cid, attempt)
    assert value == userref.userref_for(cid, attempt)
    assert 1 <= value <= 2**31 - 1


@given(ids)
def test_probe_sequence_is_distinct(cid: str) -> None:
    values = [userref.userref_for(cid, n) for n in range(50)]
    assert len(set(values)) == 50


def test_zero_hash_maps_away_from_zero() -> None:
    zero = lambda _data: bytes(32)  # noqa: E731 - an injected hash
    assert userref.userref_for("x", 0, zero) == 2**31 - 1
    assert userref.userref_for("x", 1, zero) == 1  # the probe wraps inside 1..2**31-1, skipping 0


def test_top_bit_masked() -> None:
    ones = lambda _data: b"\xff" * 32  # noqa: E731
    assert userref.userref_for("x", 0, ones) == 2**31 - 1
    assert userref.userref_for("x", 1, ones) == 1


def test_injected_collision_probes_to_next_and_both_map_back() -> None:
    """Two ids with one hash: the store (a dict with a unique claim, as the core's) gives the second id
    the next probe, and both map back through from_native's reverse lookup."""
    same = lambda _data: b"\x00\x00\x10\x00" + bytes(28)  # noqa: E731
    plugin = KrakenPlugin(hash_fn=same)
    hooks = load_hooks(plugins=[plugin], load_entry_points=False)
    store: dict[int, str] = {}

    def claim(cid: str) -> int:
        attempt = 0
        while True:
            candidate = hooks.map_client_id("kraken", cid, attempt)
            assert isinstance(candidate, int)
            holder = store.setdefault(candidate, cid)
            if holder == cid:
                return candidate
            attempt += 1

    a, b = claim("order-a"), claim("order-b")
    assert a == 4096 and b == 4097
    context = NativeContext(exchange="kraken", client_id_of=lambda n: store.get(int(n)))
    assert client_ids({"userref": a}, context, same) == ("order-a", str(a))
    assert client_ids({"userref": b}, context, same) == ("order-b", str(b))
    # a userref the gateway never issued comes back without a client id
    assert client_ids({"userref": 77}, context, same) == (None, "77")


def test_hook_answers_only_for_kraken() -> None:
    plugin = KrakenPlugin()
    assert plugin.map_client_id("binance", "x", 0) is None
    assert plugin.normalize_status("binance", "open") is None


def test_cl_ord_id_forms() -> None:
    assert userref.cl_ord_id_for("short_id-1", 5) == "short_id-1"
    uid = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
    assert userref.cl_ord_id_for(uid, 5) == uid
    assert userref.cl_ord_id_for("3f2504e04f8941d39a0c0305e82c3301", 5) == "3f2504e04f8941d39a0c0305e82c3301"
    # too long, or characters the reference does not vouch for -> derived from the claimed userref
    assert userref.cl_ord_id_for("T5_1_18d3c0a1b2c_deadbeef", 123) == "T5U123"
    assert userref.cl_ord_id_for("a.b", 9) == "T5U9"
    # an id that looks derived is always derived, so the derived form stays unambiguous
    assert userref.cl_ord_id_for("T5U42", 7) == "T5U7"
    assert len(userref.cl_ord_id_for("x" * 64, 2**31 - 1)) <= 18


def test_cl_ord_id_reverse() -> None:
    cid = "short_id-1"
    store = {userref.userref_for(cid, 0): cid, 123: "T5_1_18d3c0a1b2c_deadbeef"}
    lookup = store.get
    assert userref.client_id_of_cl_ord_id(cid, lookup) == cid
    assert userref.client_id_of_cl_ord_id("T5U123", lookup) == "T5_1_18d3c0a1b2c_deadbeef"
    assert userref.client_id_of_cl_ord_id("T5U999", lookup) is None
    assert userref.client_id_of_cl_ord_id("someone-else", lookup) is None
