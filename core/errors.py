"""The one error taxonomy.

Every failure the gateway reports is one of these classes. Plugins translate native errors into them in
one place (their ``map_error`` hook); the core and the front doors decide retries and HTTP statuses from
the class and its ``retryable`` flag, never from message text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


class Terminal5Error(Exception):
    """Base class. ``code``/``message`` are the exchange's native code and text when there is one."""

    http_status = 500
    #: True when the same request may be sent again without risk of a duplicate.
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        exchange: str | None = None,
        code: str | int | None = None,
        field: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exchange = exchange
        self.code = code
        self.field = field
        self.details = details

    @property
    def kind(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.kind, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        if self.exchange is not None:
            out["exchange"] = self.exchange
        if self.code is not None:
            out["code"] = self.code
        if self.details is not None:
            out["details"] = self.details
        return out

    def __str__(self) -> str:
        parts = [self.message]
        if self.field and not self.message.startswith(f"{self.field}:"):  # never "status: status: …"
            parts.insert(0, f"{self.field}:")
        if self.exchange:
            parts.append(f"[{self.exchange}{' ' + str(self.code) if self.code is not None else ''}]")
        return " ".join(parts)


# --- before anything reaches the exchange ---------------------------------------------------------


class InvalidOrderRequest(Terminal5Error):
    """The unified request is malformed. ``errors`` lists every (field, reason)."""

    http_status = 400

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = list(errors)
        field, reason = self.errors[0]
        message = "; ".join(f"{f}: {r}" for f, r in self.errors)
        super().__init__(message, field=field, details=[{"field": f, "reason": r} for f, r in self.errors])
        self.reason = reason


class UnsupportedParameterError(Terminal5Error):
    """A Level-1 parameter is used that the exchange/market cannot honour; nothing was sent."""

    http_status = 422


class ExchangeNotFound(Terminal5Error):
    """No installed plugin provides this exchange."""

    http_status = 404


class BrokerNotFound(Terminal5Error):
    """The broker does not exist, or does not belong to the caller (never says which)."""

    http_status = 404


class BrokerDisabled(Terminal5Error):
    """The kill switch is on for this broker or user: new orders are refused."""

    http_status = 423


class BrokerBusy(Terminal5Error):
    """The broker still has open orders (removing it would orphan them); nothing was changed."""

    http_status = 409


class DatabaseSchemaMissing(Terminal5Error):
    """The configured PostgreSQL schema (search_path) does not exist."""

    http_status = 503

class DatabaseUnavailable(Terminal5Error):
    """The database cannot be reached (stopped, restarting, locked by another writer): retry later.

    For an order placement, ``order_sent`` says what happened to the order: ``False``, it never left
    (a retry is its first send); ``True``, the exchange has it and its answer is kept until the database
    returns (retry with the same ``client_order_id`` to read it, never a new id); ``None``, unknown (the
    gateway looks it up and reconciliation resolves it). The gateway reconnects by itself."""

    http_status = 503

    def __init__(
        self,
        message: str,
        *,
        order_sent: bool | None = None,
        client_order_id: str | None = None,
        about_order: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.order_sent = order_sent
        self.client_order_id = client_order_id
        #: True once the placement pipeline has said what happened to the order
        self.about_order = about_order
        self.retryable = order_sent is False

    def for_order(self, *, sent: bool | None, client_order_id: str | None, note: str = "") -> DatabaseUnavailable:
        """The same outage, told about one order placement."""
        told = {False: "the order was not sent", True: "the order was sent", None: "the order's outcome is unknown"}
        return DatabaseUnavailable(
            f"{self.message}; {told[sent]}{note}",
            order_sent=sent,
            client_order_id=client_order_id,
            about_order=True,
            exchange=self.exchange,
            code=self.code,
        )

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["order_sent"] = self.order_sent
        if self.client_order_id is not None:
            out["client_order_id"] = self.client_order_id
        return out


class PluginError(Terminal5Error):
    """A plugin broke the contract (two plugins claim one exchange, a hook returned a wrong type…)."""


# --- the exchange's answer --------------------------------------------------------------------------


class ExchangeError(Terminal5Error):
    """The exchange refused or failed the call."""

    http_status = 502


class AuthenticationError(ExchangeError):
    http_status = 401


class PermissionDenied(ExchangeError):
    http_status = 403


class InsufficientFunds(ExchangeError):
    http_status = 422


class InvalidOrder(ExchangeError):
    """The exchange (or its published filters, checked before sending) rejects the order."""

    http_status = 400


class OrderNotFound(ExchangeError):
    http_status = 404


class DuplicateOrder(ExchangeError):
    """The client order id is already used (by the exchange, or by a different stored request)."""

    http_status = 409


class BadSymbol(ExchangeError):
    http_status = 400


class RateLimitExceeded(ExchangeError):
    http_status = 429
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.retry_after is not None:
            # a duration in seconds; as Decimal so every JSON encoder here accepts it
            out["retry_after"] = Decimal(repr(self.retry_after))
        return out


class ExchangeNotAvailable(ExchangeError):
    """5xx, maintenance, overload. For an order the outcome is unknown until looked up."""

    http_status = 503


class NetworkError(ExchangeError):
    """The connection failed. If the request may have left, the outcome is unknown."""

    http_status = 502


class RequestTimeout(NetworkError):
    """No answer in time. The request may have reached the exchange."""

    http_status = 504


#: Errors after which an order may or may not exist on the exchange.
OUTCOME_UNKNOWN = (ExchangeNotAvailable, NetworkError)

#: Every class of the taxonomy, by name (used by the front doors and the conformance kit).
TAXONOMY: dict[str, type[Terminal5Error]] = {
    cls.__name__: cls
    for cls in (
        AuthenticationError,
        PermissionDenied,
        InsufficientFunds,
        InvalidOrder,
        OrderNotFound,
        DuplicateOrder,
        BadSymbol,
        RateLimitExceeded,
        ExchangeNotAvailable,
        NetworkError,
        RequestTimeout,
        UnsupportedParameterError,
        InvalidOrderRequest,
        ExchangeError,
    )
}
