"""API tokens as stored: a random 32-byte url-safe token shown once, kept as its SHA-256 hex digest.

A token is bound to one ``user_id``, or is an admin token (``user_id`` null, ``admin`` true) that sees
every user. Synchronous; run on the DB thread. The front doors turn a token into a ``Principal``
(``terminal5.daemon.tokens``).
"""

from __future__ import annotations

import hashlib
import secrets
from types import SimpleNamespace
from typing import Any

import attrs

from terminal5.errors import Terminal5Error
from terminal5.storage.database import Storage
from terminal5.storage.fresh_reads import MISS
from terminal5.storage.prepared import PreparedTable

TOKEN_PREFIX = "t5_"  # noqa: S105 - a visible prefix, not a secret


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@attrs.frozen(kw_only=True)
class TokenInfo:
    id: int
    user_id: int | None
    admin: bool
    label: str
    revoked: bool
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class TokenRepo:
    """Synchronous methods, to run on the storage thread (``storage.run``)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.m = storage.m
        #: checked on every daemon request: a statement built once, never a cached row (a revocation
        #: from any process holds for the very next request)
        self.table = PreparedTable(self.m.ApiToken)
        self.fresh = storage.fresh

    def create(self, *, user_id: int | None, admin: bool = False, label: str = "") -> tuple[TokenInfo, str]:
        if admin == (user_id is not None):
            raise Terminal5Error("a token is either bound to one user (--user N) or admin (--admin)", field="user_id")
        if user_id is not None and user_id <= 0:
            raise Terminal5Error("user_id must be a positive integer", field="user_id")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = self.m.ApiToken.create(token_hash=hash_token(token), user_id=user_id, admin=admin, label=label)
        return self._info(row), token

    def active(self, token: str) -> TokenInfo | None:
        """The token's record, if it exists and is not revoked."""
        if not token:
            return None
        return self._active(self.table.select_one(("token_hash",), (hash_token(token),)))

    def active_here(self, token: str) -> Any:
        """``active`` read on the calling thread (``terminal5.storage.fresh_reads``), as fresh as on the DB
        thread; ``MISS`` when it cannot be read here (then call ``active`` on the DB thread)."""
        if not token:
            return None
        row = self.fresh.select_one(self.table, ("token_hash",), (hash_token(token),))
        return MISS if row is MISS else self._active(row)

    def _active(self, row: dict[str, Any] | None) -> TokenInfo | None:
        """A token row as read (either way): its record, unless absent or revoked."""
        if row is None or row["revoked"]:
            return None
        return self._info(SimpleNamespace(**row))

    def list(self, user_id: int | None = None) -> list[TokenInfo]:
        query = self.m.ApiToken.select().order_by(self.m.ApiToken.id)
        if user_id is not None:
            query = query.where(self.m.ApiToken.user_id == user_id)
        return [self._info(r) for r in query]

    def revoke(self, token_id: int) -> TokenInfo:
        row = self.m.ApiToken.get_or_none(self.m.ApiToken.id == token_id)
        if row is None:
            raise Terminal5Error(f"no token {token_id}", field="token_id")
        row.revoked = True
        row.save()
        return self._info(row)

    @staticmethod
    def _info(row: Any) -> TokenInfo:
        return TokenInfo(
            id=row.id,
            user_id=row.user_id,
            admin=bool(row.admin),
            label=row.label or "",
            revoked=bool(row.revoked),
            created_at=row.created_at.isoformat() if row.created_at else "",
        )
