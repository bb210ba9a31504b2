"""Kraken declares the raw key its order answers carry the client id in (the int32 userref)."""

from terminal5_kraken.plugin import exchange_spec


def test_kraken_declares_its_client_id_key_for_indexing() -> None:
    assert exchange_spec().raw_index_fields == ("userref",)
