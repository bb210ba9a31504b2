"""The tables, built per database so several gateways (tests, tools) can live in one process.

``orders`` keeps each order twice: typed unified columns (what the gateway reasons on) plus
``raw_response``, the native payload as received (what the exchange really said, for audits and for
fields the unified model does not carry). ``native_calls`` is the audit trail of every native call
(scrubbed). Migrations (``terminal5.storage.migrations``) create and evolve them.
"""

from __future__ import annotations

from types import SimpleNamespace

import peewee

from terminal5.storage.fields import JsonField, MoneyField, UtcDateTimeField, now


class NeverReusedId(peewee.AutoField):
    """An id that is never handed out twice, even after the row with the highest id is deleted.

    PostgreSQL's SERIAL sequence never goes back; SQLite's plain INTEGER PRIMARY KEY takes max(id) + 1,
    so a removed broker's id went to the next broker (and with it the old owner's orders). AUTOINCREMENT
    makes SQLite remember the highest id ever used.
    """

    def ddl(self, ctx: peewee.Context) -> peewee.NodeList:
        node = super().ddl(ctx)
        if isinstance(self.model._meta.database, peewee.SqliteDatabase):
            return peewee.NodeList((node, peewee.SQL("AUTOINCREMENT")))
        return node


def build_models(db: peewee.Database) -> SimpleNamespace:
    class Base(peewee.Model):
        class Meta:
            database = db

    class SchemaVersion(Base):
        version = peewee.IntegerField(primary_key=True)
        applied_at = UtcDateTimeField(default=now)

        class Meta:
            table_name = "schema_version"

    class Broker(Base):
        id = NeverReusedId()
        user_id = peewee.IntegerField(index=True)
        exchange = peewee.CharField(max_length=50)
        label = peewee.CharField(max_length=100)
        testnet = peewee.BooleanField(default=False)
        base_url = peewee.CharField(max_length=500, null=True)
        api_key_enc = peewee.TextField()
        api_secret_enc = peewee.TextField()
        api_password_enc = peewee.TextField(null=True)
        key_hint = peewee.CharField(max_length=16)  # last characters of the key, for humans
        options = JsonField(default=dict)
        enabled = peewee.BooleanField(default=True)
        disabled_reason = peewee.TextField(null=True)
        disabled_by = peewee.CharField(max_length=10, null=True)  # "admin" | "user": who may lift the kill
        created_at = UtcDateTimeField(default=now)

        class Meta:
            table_name = "brokers"
            indexes = ((("user_id", "label"), True),)

    class OrderRow(Base):
        user_id = peewee.IntegerField()
        broker_id = peewee.IntegerField()
        exchange = peewee.CharField(max_length=50)
        source = peewee.CharField(max_length=20)
        symbol = peewee.CharField(max_length=50)
        market_type = peewee.CharField(max_length=10)
        side = peewee.CharField(max_length=10)
        type = peewee.CharField(max_length=20)
        quantity = MoneyField()
        price = MoneyField(null=True)
        stop_price = MoneyField(null=True)
        filled = MoneyField(null=True)
        remaining = MoneyField(null=True)
        average = MoneyField(null=True)
        fee = MoneyField(null=True)
        fee_currency = peewee.CharField(max_length=20, null=True)
        status = peewee.CharField(max_length=20, index=True)
        native_status = peewee.CharField(max_length=50, null=True)
        client_order_id = peewee.CharField(max_length=128)
        native_client_id = peewee.CharField(max_length=128, null=True)
        exchange_order_id = peewee.CharField(max_length=128, null=True)
        time_in_force = peewee.CharField(max_length=5, null=True)
        reduce_only = peewee.BooleanField(default=False)
        position_side = peewee.CharField(max_length=5, null=True)
        parent_client_order_id = peewee.CharField(max_length=128, null=True)
        ignored_params = JsonField(default=list)
        request = JsonField(null=True)  # the unified request (null for external orders)
        request_hash = peewee.CharField(max_length=64, null=True)
        trades = JsonField(default=list)
        raw_response = JsonField(null=True)  # the native payload, as received
        error = JsonField(null=True)
        outcome_unknown = peewee.BooleanField(default=False)
        request_id = peewee.CharField(max_length=64, null=True)
        created_at = UtcDateTimeField(default=now)
        updated_at = UtcDateTimeField(default=now)

        class Meta:
            table_name = "orders"  # ``trades`` before migration v3: a ``Trade`` is a fill
            indexes = (
                (("broker_id", "client_order_id"), True),
                (("exchange", "exchange_order_id"), False),
                (("broker_id", "status"), False),
                (("user_id", "created_at"), False),
            )

    class AuditRecord(Base):
        """One native call as sent and answered (scrubbed by the transport): the audit trail."""

        exchange = peewee.CharField(max_length=50)
        broker_id = peewee.IntegerField(null=True, index=True)
        client_order_id = peewee.CharField(max_length=128, null=True, index=True)
        request_id = peewee.CharField(max_length=64, null=True, index=True)
        endpoint = peewee.CharField(max_length=100)
        method = peewee.CharField(max_length=10)
        url = peewee.TextField()
        request_headers = JsonField(default=dict)
        request_body = peewee.TextField(null=True)
        status = peewee.IntegerField(null=True)
        response_body = peewee.TextField(null=True)
        rate_headers = JsonField(default=dict)
        latency_ms = peewee.DoubleField()  # a duration, not money
        error = peewee.TextField(null=True)
        created_at = UtcDateTimeField(default=now)

        class Meta:
            table_name = "native_calls"

    class ClientId(Base):
        exchange = peewee.CharField(max_length=50)
        native_id = peewee.CharField(max_length=128)
        client_order_id = peewee.CharField(max_length=128)
        created_at = UtcDateTimeField(default=now)

        class Meta:
            table_name = "client_ids"
            indexes = ((("exchange", "native_id"), True), (("exchange", "client_order_id"), True))

    class Heartbeat(Base):
        name = peewee.CharField(max_length=50, primary_key=True)
        beat_at = UtcDateTimeField()

        class Meta:
            table_name = "heartbeats"

    class ApiToken(Base):
        id = NeverReusedId()
        token_hash = peewee.CharField(max_length=64, unique=True)
        user_id = peewee.IntegerField(null=True)
        admin = peewee.BooleanField(default=False)
        label = peewee.CharField(max_length=100, default="")
        revoked = peewee.BooleanField(default=False)
        created_at = UtcDateTimeField(default=now)

        class Meta:
            table_name = "api_tokens"

    tables = [SchemaVersion, Broker, OrderRow, AuditRecord, ClientId, Heartbeat, ApiToken]
    return SimpleNamespace(
        SchemaVersion=SchemaVersion,
        Broker=Broker,
        OrderRow=OrderRow,
        AuditRecord=AuditRecord,
        ClientId=ClientId,
        Heartbeat=Heartbeat,
        ApiToken=ApiToken,
        tables=tables,
    )
