"""Brokers (one exchange account each), with secrets encrypted at rest."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import attrs
import peewee

from terminal5 import broker_endpoints
from terminal5.contract import Credentials
from terminal5.errors import BrokerBusy, BrokerNotFound, Terminal5Error
from terminal5.secrets import SecretBox
from terminal5.storage.fresh_reads import MISS
from terminal5.storage.prepared import PreparedTable

if TYPE_CHECKING:
    from terminal5.storage.database import Storage

#: statuses of an order that may still be live on the exchange
LIVE_STATUSES = ("open", "pending_submit", "UNKNOWN")


@attrs.frozen(kw_only=True)
class BrokerInfo:
    """A broker as shown to people and APIs: never a secret, only the key's last characters."""

    id: int
    user_id: int
    exchange: str
    label: str
    testnet: bool
    base_url: str | None
    key_hint: str
    options: Mapping[str, Any]
    enabled: bool
    disabled_reason: str | None = None
    disabled_by: str | None = None  # "admin" | "user": who set the kill switch (an admin's only an admin lifts)
    #: per-market-type URL overrides (``terminal5.broker_endpoints``); ``base_url`` is then None
    base_urls: Mapping[str, str] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _info(row: Any) -> BrokerInfo:
    base_url, base_urls = broker_endpoints.split(row.base_url)
    return BrokerInfo(
        id=row.id,
        user_id=row.user_id,
        exchange=row.exchange,
        label=row.label,
        testnet=bool(row.testnet),
        base_url=base_url,
        base_urls=base_urls,
        key_hint=row.key_hint,
        options=dict(row.options or {}),
        enabled=bool(row.enabled),
        disabled_reason=row.disabled_reason,
        disabled_by=row.disabled_by,
    )


def _owned(row: dict[str, Any] | None, broker_id: int, user_id: int | None) -> BrokerInfo:
    """A broker row as read (on either thread), only if it belongs to ``user_id`` (None = admin): absent
    and foreign look alike."""
    if row is None or (user_id is not None and row["user_id"] != user_id):
        raise BrokerNotFound(f"broker {broker_id} not found", field="broker_id")
    return _info(SimpleNamespace(**row))


class BrokerRepo:
    def __init__(self, storage: Storage, box: SecretBox) -> None:
        self.storage = storage
        self.m = storage.m
        self.box = box
        #: read on every order (tenancy, kill switch): a statement built once, never a cached row, so a
        #: kill switch set by any process (CLI, another daemon) holds for the very next order
        self.table = PreparedTable(self.m.Broker)
        self.fresh = storage.fresh

    def add(
        self,
        *,
        user_id: int,
        exchange: str,
        label: str,
        api_key: str,
        api_secret: str,
        api_password: str | None = None,
        testnet: bool = False,
        base_url: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> BrokerInfo:
        """``base_url``: as stored (``terminal5.broker_endpoints.parse``)."""
        try:
            row = self.m.Broker.create(
                user_id=user_id,
                exchange=exchange,
                label=label,
                testnet=testnet,
                base_url=base_url,
                api_key_enc=self.box.encrypt(api_key),
                api_secret_enc=self.box.encrypt(api_secret),
                api_password_enc=self.box.encrypt(api_password) if api_password else None,
                key_hint="…" + api_key[-4:] if len(api_key) > 8 else "…",
                options=dict(options or {}),
            )
        except peewee.IntegrityError:
            raise Terminal5Error(f"user {user_id} already has a broker labelled {label!r}", field="label") from None
        return _info(row)

    def get(self, broker_id: int, user_id: int | None = None) -> BrokerInfo:
        """The broker, only if it belongs to ``user_id`` (None = admin). Absent and foreign look alike."""
        return _owned(self.table.select_one(("id",), (broker_id,)), broker_id, user_id)

    def get_here(self, broker_id: int, user_id: int | None = None) -> Any:
        """``get`` read on the calling thread (``terminal5.storage.fresh_reads``), as fresh as on the DB
        thread; ``MISS`` when it cannot be read here (then call ``get`` on the DB thread)."""
        row = self.fresh.select_one(self.table, ("id",), (broker_id,))
        return MISS if row is MISS else _owned(row, broker_id, user_id)

    def credentials(self, broker_id: int) -> Credentials:
        row = self.m.Broker.get_by_id(broker_id)
        return Credentials(
            api_key=self.box.decrypt(row.api_key_enc),
            api_secret=self.box.decrypt(row.api_secret_enc),
            api_password=self.box.decrypt(row.api_password_enc) if row.api_password_enc else None,
        )

    def list(self, user_id: int | None = None) -> list[BrokerInfo]:
        query = self.m.Broker.select().order_by(self.m.Broker.id)
        if user_id is not None:
            query = query.where(self.m.Broker.user_id == user_id)
        return [_info(r) for r in query]

    def live_orders(self, broker_id: int) -> int:
        """Stored orders of the broker that may still be live on the exchange."""
        R = self.m.OrderRow
        return R.select().where((R.broker_id == broker_id) & R.status.in_(LIVE_STATUSES)).count()

    def remove(self, broker_id: int, user_id: int | None = None, *, force: bool = False) -> None:
        """Delete the broker (its orders stay, under an id no other broker will ever get). With orders
        still open, pending or unknown the removal is refused unless ``force``: they would be orphaned."""
        self.get(broker_id, user_id)
        with self.storage.db.atomic():
            live = self.live_orders(broker_id)
            if live and not force:
                raise BrokerBusy(
                    f"broker {broker_id} has {live} order(s) still open, pending or unknown: cancel them "
                    "(terminal5 kill --broker ID) or remove with --force to orphan them",
                    field="broker_id",
                    details={"live_orders": live},
                )
            self.m.Broker.delete().where(self.m.Broker.id == broker_id).execute()

    def set_enabled(
        self, broker_id: int, enabled: bool, reason: str | None = None, *, by: str | None = None
    ) -> BrokerInfo:
        """Turn the kill switch off (``enabled``) or on. ``by`` is who sets it ("admin" or "user"; a
        caller that does not say is the system, with an admin's authority). A kill never loses
        authority: a user killing a broker an admin killed leaves it an admin's kill."""
        if enabled:
            changes: dict[str, Any] = {"enabled": True, "disabled_reason": None, "disabled_by": None}
        else:
            row = self.m.Broker.get_or_none(self.m.Broker.id == broker_id)
            held = row is not None and not row.enabled and row.disabled_by in (None, "admin")
            authority = "admin" if by in (None, "admin") or held else "user"
            changes = {"enabled": False, "disabled_reason": reason, "disabled_by": authority}
        self.m.Broker.update(**changes).where(self.m.Broker.id == broker_id).execute()
        return self.get(broker_id)
