"""Raw-answer indexes come from the plugins' declarations (``ExchangeSpec.raw_index_fields``), never from a
list of exchanges' keys in the core; they are created at start-up, idempotently."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import attrs
import pytest
import terminal5_template.plugin as loopback

from terminal5.gateway import Gateway
from terminal5.hookspecs import hookimpl
from terminal5.plugins import load_hooks
from terminal5.storage.raw_indexes import ensure_raw_indexes

CORE = Path(__file__).resolve().parents[2] / "core"


def declaring(*fields: str) -> SimpleNamespace:
    spec = attrs.evolve(loopback.SPEC, raw_index_fields=fields)
    return SimpleNamespace(__name__="dist-declaring", register_exchanges=hookimpl(lambda register: register(spec)))


def test_a_raw_index_field_must_be_a_plain_key() -> None:
    for bad in ("x'); DROP TABLE orders; --", "client id", "", "a" * 41):
        with pytest.raises(ValueError, match="raw_index_fields"):
            attrs.evolve(loopback.SPEC, raw_index_fields=(bad,))
    assert attrs.evolve(loopback.SPEC, raw_index_fields=["clientOid"]).raw_index_fields == ("clientOid",)


def test_the_core_names_no_exchange_key_to_index() -> None:
    for path in CORE.rglob("*.py"):
        text = path.read_text()
        for key in ("clientOid", "clientOrderId", "userref"):
            assert f"raw_response->>'{key}'" not in text, f"{path} indexes {key}"


@pytest.mark.postgres
async def test_declared_keys_are_indexed_at_start_up_idempotently(pg_url: str, tmp_path: Path) -> None:
    hooks = load_hooks(plugins=[declaring("probeKey", "other_key")], load_entry_points=False)
    gateways = [
        await Gateway.open(database_url=pg_url, hooks=hooks, data_dir=tmp_path / str(n))
        for n in range(2)  # a second start finds them there
    ]
    try:
        sql = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'orders'"
        found = dict(await gateways[0].storage.run(lambda: gateways[0].storage.db.execute_sql(sql).fetchall()))
        assert "raw_response ->> 'probeKey'" in found["idx_raw_probekey"]
        assert "raw_response ->> 'other_key'" in found["idx_raw_other_key"]
        names = await gateways[0].storage.run(ensure_raw_indexes, gateways[0].storage, ["probeKey"])
        assert names == ["idx_raw_probekey"]
    finally:
        for gw in gateways:
            await gw.close()


async def test_sqlite_gets_no_raw_index(tmp_path: Path) -> None:
    hooks = load_hooks(plugins=[declaring("probeKey")], load_entry_points=False)
    gw = await Gateway.open(database_url=f"sqlite:///{tmp_path}/t5.db", hooks=hooks, data_dir=tmp_path)
    try:
        assert await gw.storage.run(ensure_raw_indexes, gw.storage, ["probeKey"]) == []
    finally:
        await gw.close()
