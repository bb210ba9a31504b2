"""Binance declares the raw key its order answers carry the client id in: indexed on PostgreSQL."""

from terminal5_binance.plugin import SPEC


def test_binance_declares_its_client_id_key_for_indexing() -> None:
    assert SPEC.raw_index_fields == ("clientOrderId",)
