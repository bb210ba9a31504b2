"""Client order ids: Bitget's ``clientOid`` rule (``constants.CLIENT_ID_PATTERN``, [unsure] in the
reference: kept to ``[A-Za-z0-9_-]{1,40}``). The unified id allows up to 64 characters and ``.:/`` too.

A compliant id is used as-is. Anything else maps to a deterministic compliant id: a readable prefix of the
sanitised id plus a hash, so the same unified id always gives the same native id (a lookup by clientOid
after a timeout finds the order) and the core stores the reverse mapping when it claims it.
"""

from __future__ import annotations

import hashlib
import re

from terminal5_bitget.constants import CLIENT_ID_MAX_LENGTH, CLIENT_ID_PATTERN

_COMPLIANT = re.compile(CLIENT_ID_PATTERN)
_DISALLOWED = re.compile(r"[^A-Za-z0-9_-]")
HASH_LENGTH = 20  # 80 bits of hex; the core probes on a collision anyway
PREFIX_LENGTH = CLIENT_ID_MAX_LENGTH - HASH_LENGTH - 1


def is_compliant(native_id: str) -> bool:
    return _COMPLIANT.match(native_id) is not None


def _hashed(seed: str, readable: str) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest()[:HASH_LENGTH]
    prefix = _DISALLOWED.sub("-", readable)[:PREFIX_LENGTH]
    return f"{prefix}-{digest}" if prefix else digest


def map_client_id(client_order_id: str, attempt: int = 0) -> str:
    """The native id for ``client_order_id``; ``attempt`` > 0 gives the next candidate after a collision."""
    if attempt == 0 and is_compliant(client_order_id):
        return client_order_id
    return _hashed(f"{client_order_id}\x00{attempt}", client_order_id)


def modified_client_id(native_id: str, new_size: str, new_price: str) -> str:
    """The ``newClientOid`` a mix modify-order needs (required, and it must differ from the current one).

    Deterministic in the order and the change: retrying the same edit sends the same id, so Bitget's
    duplicate check (40786) stops a second cancel-replace instead of applying it twice.
    """
    return _hashed(f"{native_id}\x00{new_size}\x00{new_price}", native_id)
