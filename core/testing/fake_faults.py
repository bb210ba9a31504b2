"""Fault knobs and records of a simulated exchange (``terminal5.testing.fake_exchange``): what to break on
which endpoint, and what the exchange accepted or refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

FAULT_KINDS = ("latency", "timeout", "error", "rate_limit", "drop", "not_found", "unknown_status")
#: kinds that act after the route handler ran (the order is accepted) unless ``after_accept`` says otherwise
AFTER_BY_DEFAULT = frozenset({"drop", "timeout"})


@attrs.define
class FaultRule:
    """One fault knob. ``endpoint`` is a route's endpoint name, ``*`` (every route) or ``@<role>``.

    kinds: ``latency`` (wait ``delay`` then serve), ``timeout`` (hold the answer ``delay`` seconds; after
    the order was accepted unless ``after_accept=False``), ``error`` (HTTP ``status`` with the exchange's
    JSON error body or an HTML page, ``body="html"``), ``rate_limit`` (``status`` 429 or 418 with
    ``Retry-After: retry_after``), ``drop`` (close the connection unanswered; after accepting by default),
    ``not_found`` (answer the exchange's "unknown order"), ``unknown_status`` (accept and report the
    native status ``value``).
    ``times``: how many requests it hits (``None``: unlimited); ``probability``: chance per matching request.
    """

    endpoint: str
    kind: str
    times: int | None = 1
    probability: float = 1.0
    after_accept: bool | None = None
    delay: float = 0.0
    status: int = 500
    body: str = "json"
    retry_after: float | None = None
    value: str = ""
    hits: int = 0

    def __attrs_post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {self.kind!r}: one of {', '.join(FAULT_KINDS)}")
        if self.body not in ("json", "html"):
            raise ValueError("fault body: json or html")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("fault probability: between 0 and 1")
        if self.times is not None and self.times < 1:
            raise ValueError("fault times: at least 1, or null for unlimited")

    @property
    def after(self) -> bool:
        return self.kind in AFTER_BY_DEFAULT if self.after_accept is None else self.after_accept

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        known = {a.name for a in attrs.fields(cls)} - {"hits"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        values = dict(data)
        for name in ("delay", "probability", "retry_after"):
            if values.get(name) is not None:
                values[name] = float(values[name])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class Accepted:
    order_id: str
    api_key: str
    endpoint: str
    at_ms: int


@attrs.frozen
class Refused:
    endpoint: str
    api_key: str
    client_id: str | None
    code: str
    reason: str
    duplicate: bool = False
