"""Who is calling: a ``Principal`` made from an API token (stored by ``terminal5.storage.tokens``).

A token is bound to one ``user_id``, or is an admin token (``user_id`` null, ``admin`` true) that sees
every user. The HTTP and Redis front doors turn a token into a ``Principal``.
"""

from __future__ import annotations

import attrs

from terminal5.errors import PermissionDenied
from terminal5.storage.tokens import TOKEN_PREFIX, TokenInfo, TokenRepo, hash_token

__all__ = ["ADMIN", "TOKEN_PREFIX", "Principal", "TokenInfo", "TokenStore", "hash_token"]


@attrs.frozen(kw_only=True)
class Principal:
    """Who is calling: a user (``user_id``) or an admin (``user_id`` None)."""

    token_id: int | None
    user_id: int | None
    admin: bool = False

    def scope(self, requested: int | None = None) -> int | None:
        """The user id to filter by: the token's own for a user (asking for another user is refused),
        ``requested`` (None = everyone) for an admin."""
        if self.admin:
            return requested
        if requested is not None and requested != self.user_id:
            raise PermissionDenied(f"this token belongs to user {self.user_id}, not {requested}", field="user_id")
        return self.user_id

    @classmethod
    def of(cls, token: TokenInfo | None) -> Principal | None:
        """The caller a stored token names (None for no token, or a revoked one)."""
        if token is None or token.revoked:
            return None
        return cls(token_id=token.id, user_id=token.user_id, admin=token.admin)

    @property
    def role(self) -> str:
        """"admin" or "user": the authority a kill switch set by this caller carries."""
        return "admin" if self.admin else "user"

    def may_lift(self, disabled_by: str | None) -> bool:
        """The kill-switch rule: anyone who may see a broker may kill it; a kill set by an admin (or by
        the system, which acts as admin) is lifted only by an admin; a user's own kill by that user."""
        return self.admin or disabled_by == "user"


ADMIN = Principal(token_id=None, user_id=None, admin=True)  # local tools (the CLI) act as admin


class TokenStore(TokenRepo):
    """The stored tokens, verified into a ``Principal``. Synchronous; run on the DB thread."""

    def verify(self, token: str) -> Principal | None:
        return Principal.of(self.active(token))
