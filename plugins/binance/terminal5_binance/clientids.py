"""Client order ids: Binance accepts ``^[a-zA-Z0-9_-]{1,36}$`` (spot; futures also allows ``.:/``, so the
spot rule is the one both accept). The unified id allows up to 64 characters and ``.:/`` too.

A compliant id is used as-is. Anything else maps to a deterministic compliant id: a readable prefix of the
sanitised id plus a hash, so the same unified id always gives the same native id (lookups after a timeout
find the order) and the core stores the reverse mapping when it claims it.
"""

from __future__ import annotations

import hashlib
import re

from terminal5_binance.constants import CLIENT_ID_MAX_LENGTH, CLIENT_ID_PATTERN

_COMPLIANT = re.compile(CLIENT_ID_PATTERN)
_DISALLOWED = re.compile(r"[^A-Za-z0-9_-]")
#: the unified rule (terminal5.wire.CLIENT_ORDER_ID_RE): 64 characters max
UNIFIED_MAX_LENGTH = 64
HASH_LENGTH = 20  # 80 bits of hex: collisions are astronomically unlikely, the core probes anyway
PREFIX_LENGTH = CLIENT_ID_MAX_LENGTH - HASH_LENGTH - 1


def is_compliant(native_id: str) -> bool:
    return _COMPLIANT.match(native_id) is not None


def map_client_id(client_order_id: str, attempt: int = 0) -> str:
    """The native id for ``client_order_id``; ``attempt`` > 0 gives the next candidate after a collision."""
    if attempt == 0 and is_compliant(client_order_id):
        return client_order_id
    digest = hashlib.sha256(f"{client_order_id}\x00{attempt}".encode()).hexdigest()[:HASH_LENGTH]
    prefix = _DISALLOWED.sub("-", client_order_id)[:PREFIX_LENGTH]
    return f"{prefix}-{digest}" if prefix else digest


def child_client_id(parent_client_order_id: str, role: str) -> str:
    """The unified id of a Level-2 child order (``role`` is ``sl`` or ``tp``), derived from its parent's.

    ``parent-sl`` when it fits the unified 64 characters; otherwise a shortened parent plus a hash of the
    full parent id, so two long parents sharing a prefix never share children.
    """
    candidate = f"{parent_client_order_id}-{role}"
    if len(candidate) <= UNIFIED_MAX_LENGTH:
        return candidate
    digest = hashlib.sha256(parent_client_order_id.encode()).hexdigest()[:10]
    keep = UNIFIED_MAX_LENGTH - len(digest) - len(role) - 2
    return f"{parent_client_order_id[:keep]}-{digest}-{role}"
