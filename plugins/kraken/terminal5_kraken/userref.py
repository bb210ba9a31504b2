"""Unified client id -> Kraken ``userref`` candidates, and the ``cl_ord_id`` form. Pure functions.

A mapper that checks a cache, then writes, then increments without re-checking lets two ids end up with
one userref. Here the plugin only *proposes*: attempt 0 is a deterministic first guess, attempt
``n`` the ``n``-th probe after it, and the core claims each candidate atomically in its store (unique
per exchange) until one is free. Uniqueness is the store's job; determinism and range are ours.

* first guess: the first 4 bytes of SHA-256(client id), big-endian, masked to 31 bits; 0 becomes
  ``2**31 - 1`` (0 means "no userref" on Kraken);
* probe ``n``: ``(first - 1 + n) mod (2**31 - 1) + 1`` — linear probing over 1..2**31-1, so every
  candidate is a positive signed int32 and the sequence visits every value once before repeating.

The hash function is injectable (``hash_fn``) so tests can force collisions.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from terminal5.contract import NativeClientId

HashFn = Callable[[bytes], bytes]

USERREF_MAX = 2**31 - 1  # the largest signed int32
_MASK = 0x7FFFFFFF


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def first_guess(client_order_id: str, hash_fn: HashFn = sha256) -> int:
    value = int.from_bytes(hash_fn(client_order_id.encode())[:4], "big") & _MASK
    return value or USERREF_MAX


def userref_for(client_order_id: str, attempt: int, hash_fn: HashFn = sha256) -> int:
    """The ``attempt``-th candidate userref for this client id, always in 1..2**31-1."""
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    return (first_guess(client_order_id, hash_fn) - 1 + attempt) % USERREF_MAX + 1


# --- cl_ord_id mode --------------------------------------------------------------------------------

#: Kraken's three accepted forms (reference §4 ``cl_ord_id``). Free text is limited here to letters,
#: digits, ``_`` and ``-`` because the reference does not say which ASCII punctuation is accepted.
_LONG_UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
_SHORT_UUID = re.compile(r"^[0-9A-Fa-f]{32}$")
_FREE_TEXT = re.compile(r"^[A-Za-z0-9_-]{1,18}$")
#: the derived form: the claimed userref in decimal. Ids that look like it are always derived, so a
#: cl_ord_id of this shape can only mean "userref N".
DERIVED_PREFIX = "T5U"
_DERIVED = re.compile(rf"^{DERIVED_PREFIX}(\d{{1,10}})$")


def is_compliant_cl_ord_id(value: str) -> bool:
    return bool(_LONG_UUID.match(value) or _SHORT_UUID.match(value) or _FREE_TEXT.match(value))


def cl_ord_id_for(client_order_id: str, userref: int) -> str:
    """The ``cl_ord_id`` sent in ``cl_ord_id`` mode: the unified id itself when Kraken accepts it as is,
    else ``T5U<userref>`` (at most 13 characters), which the claimed userref makes unique."""
    if is_compliant_cl_ord_id(client_order_id) and not _DERIVED.match(client_order_id):
        return client_order_id
    return f"{DERIVED_PREFIX}{userref}"


#: how far ``client_id_of_cl_ord_id`` follows a verbatim id's probe chain (a chain longer than this
#: means more than this many ids collided on one userref: not seen with 31 bits and sane volumes).
MAX_VERIFY_PROBES = 16


def client_id_of_cl_ord_id(
    cl_ord_id: str,
    client_id_of: Callable[[NativeClientId], str | None],
    hash_fn: HashFn = sha256,
) -> str | None:
    """The unified id a ``cl_ord_id`` stands for, or ``None`` when the gateway never issued it.

    Derived form: look the userref up. Verbatim form: the id is ours only if the store holds one of its
    probe candidates for it (the claim walks that chain, so the first free slot ends the search).
    """
    derived = _DERIVED.match(cl_ord_id)
    if derived:
        return client_id_of(int(derived.group(1)))
    for attempt in range(MAX_VERIFY_PROBES):
        owner = client_id_of(userref_for(cl_ord_id, attempt, hash_fn))
        if owner == cl_ord_id:
            return cl_ord_id
        if owner is None:
            return None
    return None

