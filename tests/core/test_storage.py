"""Dual storage on SQLite and on the real PostgreSQL: exact money, raw payloads, migrations, claims,
secrets at rest, the audit trail, and the seed's example queries."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import stat
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import terminal5_template.plugin as loopback
from sample_orders import limit_buy, order_row

from terminal5 import jsonutil
from terminal5.errors import Terminal5Error
from terminal5.secrets import SecretBox, generate_key, load_or_create_key
from terminal5.storage.client_ids import ClientIdStore
from terminal5.storage.database import Storage
from terminal5.storage.migrations import MIGRATIONS, migrate
from terminal5.storage.raw_indexes import ensure_raw_indexes
from terminal5.testing.loopback_server import LoopbackExchange

RAW = {"orderId": 1, "price": Decimal("43000.123456789012345678"), "qty": "0.00000001", "t": Decimal("1688666559.8974")}


async def test_money_and_raw_round_trip_exactly(db_url: str) -> None:
    storage = await Storage.open(db_url)
    m = storage.m

    def write_read() -> Any:
        row = m.OrderRow.create(
            **order_row(
                quantity=Decimal("0.000000000000000001"),
                price=Decimal("12345678901234567890.5"),
                client_order_id="c1",
                raw_response=RAW,
            )
        )
        return m.OrderRow.get_by_id(row.id)

    row = await storage.run(write_read)
    assert row.quantity == Decimal("0.000000000000000001") and isinstance(row.quantity, Decimal)
    assert row.price == Decimal("12345678901234567890.5")
    assert row.raw_response == RAW and isinstance(row.raw_response["t"], Decimal)
    assert row.created_at.tzinfo is not None
    await storage.close()


async def test_migrations_are_versioned_and_idempotent(db_url: str) -> None:
    storage = await Storage.open(db_url)
    assert await storage.run(migrate, storage) == len(MIGRATIONS)
    versions = await storage.run(lambda: [v.version for v in storage.m.SchemaVersion.select()])
    assert versions == list(range(1, len(MIGRATIONS) + 1))
    await storage.close()


async def test_client_id_claims_never_share_a_native_id(db_url: str) -> None:
    storage = await Storage.open(db_url)
    store = ClientIdStore(storage)

    # a hash with only 16 values forces collisions and probing
    def candidate(cid: str):  # type: ignore[no-untyped-def]
        return lambda attempt: (hash(cid) % 16 + attempt) % 1000

    ids = [f"order-{i}" for i in range(200)]
    natives = await asyncio.gather(*(storage.run(store.claim, "ex", cid, candidate(cid)) for cid in ids))
    assert len(set(natives)) == len(ids)
    again = [await storage.run(store.claim, "ex", cid, candidate(cid)) for cid in ids]
    assert again == natives  # idempotent
    fresh = ClientIdStore(storage)  # no cache: the database answers
    assert [await storage.run(fresh.client_id_of, "ex", n) for n in natives] == ids
    assert await storage.run(fresh.client_id_of, "ex", "999999") is None
    await storage.close()


def _claim_many(url: str, prefix: str, count: int, queue: Any) -> None:
    async def main() -> list[str]:
        storage = await Storage.open(url)
        store = ClientIdStore(storage)
        out = []
        for i in range(count):
            cid = f"{prefix}-{i}"
            out.append(await storage.run(store.claim, "ex", cid, lambda a, i=i: (i % 50) + a))
        await storage.close()
        return out

    queue.put(asyncio.run(main()))


@pytest.mark.slow
async def test_two_processes_claiming_at_once(db_url: str) -> None:
    await (await Storage.open(db_url)).close()  # migrate first
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_claim_many, args=(db_url, p, 300, queue)) for p in ("a", "b")]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    natives = results[0] + results[1]
    assert len(natives) == 600 and len(set(natives)) == 600


async def test_broker_secrets_are_encrypted_at_rest(db_url: str, tmp_path: Path, t5_gateway: Any) -> None:
    gateway = await t5_gateway(loopback, database_url=db_url)
    await gateway.add_broker(
        user_id=1,
        exchange="loopback",
        label="a",
        api_key="PUBLICKEY-ABCDEFGH-1234",
        api_secret="TOPSECRET-XYZ-987",
        api_password="PASS-PHRASE-555",
    )

    def dump() -> str:
        rows = gateway.storage.db.execute_sql("SELECT * FROM brokers").fetchall()
        return repr(rows)

    text = await gateway.storage.run(dump)
    for secret in ("TOPSECRET-XYZ-987", "PASS-PHRASE-555", "PUBLICKEY-ABCDEFGH-1234"):
        assert secret not in text
    info = (await gateway.list_brokers())[0]
    assert "TOPSECRET" not in repr(info) and info.key_hint == "…1234"
    creds = await gateway._credentials_of(info.id)
    assert creds.api_secret == "TOPSECRET-XYZ-987"


async def test_audit_trail_keeps_calls_without_secrets(db_url: str, t5_gateway: Any) -> None:
    async with LoopbackExchange({"KEY-AUDIT-000111": "SECRET-AUDIT-222333"}) as exchange:
        gateway = await t5_gateway(loopback, database_url=db_url)
        broker = await gateway.add_broker(
            user_id=1,
            exchange="loopback",
            label="a",
            api_key="KEY-AUDIT-000111",
            api_secret="SECRET-AUDIT-222333",
            base_url=exchange.url,
        )
        await gateway.place_order(limit_buy(broker.id, client_order_id="aud-1"))
        await gateway.flush()

        def calls() -> list[Any]:
            return list(
                gateway.storage.m.AuditRecord.select().where(gateway.storage.m.AuditRecord.client_order_id == "aud-1")
            )

        rows = await gateway.storage.run(calls)
        assert len(rows) == 1
        call = rows[0]
        assert call.endpoint == "order.place" and call.status == 200 and call.latency_ms > 0
        assert '"clientId":"aud-1"' in call.request_body and '"orderId"' in call.response_body
        blob = jsonutil.dumps([call.url, call.request_headers, call.request_body, call.response_body])
        assert "KEY-AUDIT-000111" not in blob and "SECRET-AUDIT-222333" not in blob
        assert call.request_headers["X-LB-SIGN"] == "***"


def test_master_key_file_is_private(tmp_path: Path) -> None:
    key_file = tmp_path / "sub" / "master.key"
    key = load_or_create_key(None, key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_or_create_key(None, key_file) == key
    os.chmod(key_file, 0o644)
    with pytest.raises(Terminal5Error, match="chmod 600"):
        load_or_create_key(None, key_file)


def test_wrong_master_key_is_a_clear_error() -> None:
    token = SecretBox(generate_key()).encrypt("secret")
    with pytest.raises(Terminal5Error, match="wrong master key"):
        SecretBox(generate_key()).decrypt(token)
    with pytest.raises(Terminal5Error, match="not a valid key"):
        SecretBox("short")


SEED_QUERIES = {
    "by raw clientOid": "SELECT client_order_id FROM orders WHERE raw_response->>'clientOid' = 'ARISTO_1_1706000000_abc'",
    "by Kraken userref": "SELECT client_order_id FROM orders WHERE (raw_response->'userref')::int = 1234567",
    "audit one order": (
        "SELECT id, symbol, side, status, raw_response->>'status' AS native_status, raw_response "
        "FROM orders WHERE client_order_id = 'kr-1'"
    ),
    "statistics per exchange": (
        "SELECT exchange, COUNT(*) AS total_orders, AVG(filled / quantity) AS avg_fill_rate FROM orders "
        "WHERE created_at >= NOW() - INTERVAL '7 days' GROUP BY exchange ORDER BY exchange"
    ),
}


@pytest.mark.postgres
async def test_seed_example_queries_on_postgresql(pg_url: str) -> None:
    storage = await Storage.open(pg_url)
    m = storage.m

    def seed() -> None:
        common = {
            "user_id": 1,
            "broker_id": 1,
            "source": "manual",
            "symbol": "BTC/USDT",
            "market_type": "spot",
            "side": "buy",
            "type": "limit",
            "quantity": Decimal("2"),
            "status": "open",
        }
        m.OrderRow.create(
            **common,
            exchange="bitget",
            client_order_id="ARISTO_1_1706000000_abc",
            filled=Decimal("1"),
            raw_response={"clientOid": "ARISTO_1_1706000000_abc", "status": "partial-fill"},
        )
        m.OrderRow.create(
            **common,
            exchange="kraken",
            client_order_id="kr-1",
            filled=Decimal("2"),
            raw_response={"userref": 1234567, "status": "closed"},
        )

    await storage.run(seed)
    # the Bitget plugin declares clientOid (ExchangeSpec.raw_index_fields); the gateway does this at start-up
    await storage.run(ensure_raw_indexes, storage, ["clientOid"])

    def run(sql: str) -> list[Any]:
        return storage.db.execute_sql(sql).fetchall()

    assert await storage.run(run, SEED_QUERIES["by raw clientOid"]) == [("ARISTO_1_1706000000_abc",)]
    assert await storage.run(run, SEED_QUERIES["by Kraken userref"]) == [("kr-1",)]
    audit = await storage.run(run, SEED_QUERIES["audit one order"])
    assert audit[0][4] == "closed" and audit[0][5]["userref"] == 1234567
    stats = await storage.run(run, SEED_QUERIES["statistics per exchange"])
    assert [(e, n, Decimal(r).quantize(Decimal("0.01"))) for e, n, r in stats] == [
        ("bitget", 1, Decimal("0.50")),
        ("kraken", 1, Decimal("1.00")),
    ]
    plan = await storage.run(run, "SELECT indexname FROM pg_indexes WHERE tablename = 'orders'")
    names = {p[0] for p in plan}
    assert {"idx_raw_response_gin", "idx_raw_clientoid", "idx_raw_native_status"} <= names
    column = await storage.run(
        run,
        "SELECT data_type FROM information_schema.columns WHERE table_name='orders' AND column_name='raw_response' "
        "AND table_schema = current_schema()",
    )
    assert column == [("jsonb",)]
    await storage.close()
