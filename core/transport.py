"""The core HTTP transport: one per exchange type (one aiohttp session), shared by every account.

It knows nothing about accounts: the signed request and the ``CallContext`` come with each call. It sends,
times, records a scrubbed audit entry, and turns the response into a taxonomy error through the
exchange's ``map_error`` hook.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

import aiohttp
import attrs
import yarl
from loguru import logger

from terminal5 import jsonutil
from terminal5.contract import CallContext, HttpRequest, HttpResponse, RateLimitRule
from terminal5.errors import ExchangeError, ExchangeNotAvailable, NetworkError, RateLimitExceeded, RequestTimeout
from terminal5.logs import Lazy, current_request_id
from terminal5.ratebudget import BudgetExceeded, BudgetStore

REDACTED = "***"
#: headers never recorded whatever the plugin says
ALWAYS_REDACTED_HEADERS = frozenset({"authorization", "cookie"})
#: response headers worth keeping in the audit trail (rate-limit state)
RATE_HEADER_MARKERS = ("ratelimit", "rate-limit", "used-weight", "order-count", "retry-after")


class CallRecord:
    """One native call as the audit trail keeps it: no secret, no signature.

    The transport builds it with ``CallRecord.unscrubbed``: the fields observers read on the event loop
    (exchange, endpoint, status, latency, rate headers, error) are set at once, while the scrubbed URL, headers
    and bodies are worked out on their first read (the audit writer reads them on the database thread), so
    re-parsing and re-encoding the signed query stays off the order's path. Until then the record holds the
    signed request and the call's secrets in memory only; every value it ever yields is scrubbed, and its
    ``repr`` shows only scrubbed values.
    """

    __slots__ = (
        "_request_body",
        "_request_headers",
        "_response_body",
        "_unscrubbed",
        "_url",
        "broker_id",
        "endpoint",
        "error",
        "exchange",
        "latency_ms",
        "method",
        "order_key",
        "rate_headers",
        "request_id",
        "status",
    )

    def __init__(
        self,
        *,
        exchange: str,
        endpoint: str,
        method: str,
        url: str,
        request_headers: Mapping[str, str],
        request_body: str | None,
        status: int | None,
        response_body: str | None,
        rate_headers: Mapping[str, str],
        latency_ms: float,
        error: str | None = None,
        broker_id: int | None = None,
        request_id: str | None = None,
        order_key: str | None = None,
    ) -> None:
        self.exchange = exchange
        self.endpoint = endpoint
        self.method = method
        self.status = status
        self.rate_headers = rate_headers
        self.latency_ms = latency_ms
        self.error = error
        self.broker_id = broker_id
        self.request_id = request_id
        self.order_key = order_key
        self._url = url
        self._request_headers = request_headers
        self._request_body = request_body
        self._response_body = response_body
        self._unscrubbed: tuple[HttpRequest, str | None, tuple[str, ...]] | None = None

    @classmethod
    def unscrubbed(
        cls,
        request: HttpRequest,
        response_text: str | None,
        secrets: tuple[str, ...],
        **fields: Any,
    ) -> CallRecord:
        """A record whose URL, headers and bodies are scrubbed from ``request`` on first read."""
        record = cls(url="", request_headers={}, request_body=None, response_body=None, **fields)
        record._unscrubbed = (request, response_text, secrets)
        return record

    def _scrub(self) -> None:
        pending = self._unscrubbed
        if pending is None:
            return
        request, response_text, secrets = pending
        # idempotent: two threads reading at once compute the same values; the raw call is dropped last
        self._url, self._request_headers, self._request_body = scrub_request(request, secrets)
        self._response_body = scrub_text(response_text, secrets)
        self._unscrubbed = None

    @property
    def url(self) -> str:
        self._scrub()
        return self._url

    @property
    def request_headers(self) -> Mapping[str, str]:
        self._scrub()
        return self._request_headers

    @property
    def request_body(self) -> str | None:
        self._scrub()
        return self._request_body

    @property
    def response_body(self) -> str | None:
        self._scrub()
        return self._response_body

    def _fields(self) -> tuple[Any, ...]:
        return (self.exchange, self.endpoint, self.method, self.url, dict(self.request_headers), self.request_body,
                self.status, self.response_body, dict(self.rate_headers), self.latency_ms, self.error,
                self.broker_id, self.request_id, self.order_key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CallRecord) and self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"CallRecord(exchange={self.exchange!r}, endpoint={self.endpoint!r}, method={self.method!r}, "
                f"url={self.url!r}, status={self.status!r}, latency_ms={self.latency_ms!r}, error={self.error!r})")


def scrub_text(text: str | None, secrets: tuple[str, ...]) -> str | None:
    if text is None:
        return None
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def _scrub_query(query: str, redact: frozenset[str]) -> str:
    """The query as sent with redacted values replaced, as text (the signed bytes kept); keys decoded to compare."""
    if not query or not redact:
        return query
    pairs = query.split("&")
    for i, pair in enumerate(pairs):
        key = pair.partition("=")[0]
        if key in redact or (("%" in key or "+" in key) and unquote_plus(key) in redact):
            pairs[i] = f"{key}={REDACTED}"
    return "&".join(pairs)


def _scrub_body(body: str | None, redact: frozenset[str]) -> str | None:
    if not body or not redact:
        return body
    if body.lstrip().startswith("{"):
        try:
            data = jsonutil.loads(body)
        except ValueError:
            return body
        if isinstance(data, dict):
            return jsonutil.dumps({k: (REDACTED if k in redact else v) for k, v in data.items()})
        return body
    return _scrub_query(body, redact)


def scrub_request(request: HttpRequest, secrets: tuple[str, ...]) -> tuple[str, dict[str, str], str | None]:
    """(url, headers, body) with redacted parameters and every credential string removed."""
    redact = request.redact
    parts = urlsplit(request.url)
    url = urlunsplit(parts._replace(query=_scrub_query(parts.query, redact)))
    headers = {
        k: (REDACTED if k.lower() in ALWAYS_REDACTED_HEADERS or k in redact else v) for k, v in request.headers.items()
    }
    body = _scrub_body(request.body, redact)
    url = scrub_text(url, secrets) or url
    headers = {k: scrub_text(v, secrets) or "" for k, v in headers.items()}
    return url, headers, scrub_text(body, secrets)


_RATE_HEADER = re.compile("|".join(re.escape(m) for m in RATE_HEADER_MARKERS), re.IGNORECASE)


def rate_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if _RATE_HEADER.search(k)}


def parse_body(text: str) -> Any:
    if not text:
        return None
    try:
        return jsonutil.loads(text)
    except ValueError:
        return None


CallObserver = Callable[[CallContext, CallRecord], None]
ErrorMapper = Callable[[str, HttpResponse, CallContext], ExchangeError | None]


class HttpTransport:
    """Implements ``terminal5.contract.Transport``."""

    def __init__(
        self,
        exchange: str,
        map_error: ErrorMapper,
        *,
        timeout: float = 10.0,
        clock_ms: Callable[[], int] | None = None,
        observers: list[CallObserver] | None = None,
        connector_limit: int = 100,
        rate_limits: tuple[RateLimitRule, ...] = (),
        budgets: BudgetStore | None = None,
        max_budget_wait: float = 30.0,
        testnet_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.exchange = exchange
        self._testnet_headers = dict(testnet_headers or {})  # ExchangeUrls.testnet_headers
        self._map_error = map_error
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self.observers: list[CallObserver] = list(observers or [])
        self._connector_limit = connector_limit
        self._session: aiohttp.ClientSession | None = None
        self._rules = rate_limits
        self._budgets = budgets or (BudgetStore() if rate_limits else None)
        self._max_budget_wait = max_budget_wait
        self._applicable: dict[tuple[str, Any], tuple[RateLimitRule, ...]] = {}

    def now_ms(self) -> int:
        return self._clock_ms()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=self._connector_limit),
                # One session for every account of this exchange: cookies would leak across accounts.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def _spend_budgets(self, ctx: CallContext, request: HttpRequest) -> None:
        """Wait for every applicable published limit; refuse (nothing sent) rather than exceed one."""
        if self._budgets is None:
            return
        rules = self._applicable.get((request.endpoint, ctx.market_type))
        if rules is None:  # the rules are fixed per transport: filter them once per endpoint and market type
            rules = tuple(r for r in self._rules if r.applies(request.endpoint, ctx.market_type))
            self._applicable[(request.endpoint, ctx.market_type)] = rules
        reason = None
        for rule in rules:
            if reason is None:
                reason = f"{request.method} {request.endpoint or urlsplit(request.url).path}"
            if rule.scope == "account":
                if ctx.credentials is None:
                    continue
                key = f"{self.exchange}:{rule.name}:account:{ctx.credentials.fingerprint}"
            else:
                key = f"{self.exchange}:{rule.name}:ip"
            limit, decay = rule.for_context(ctx)
            budget = self._budgets.budget(key, limit=limit, window=rule.window, decay=decay)
            try:
                await budget.acquire(
                    request.cost if rule.weighted else 1,
                    max_wait=self._max_budget_wait,
                    reason=reason,
                )
            except (TimeoutError, BudgetExceeded) as exc:
                shape = f"{limit} draining {decay:g}/s" if decay else f"{limit} per {rule.window:g}s"
                raise RateLimitExceeded(
                    f"client-side budget {rule.name} exhausted ({shape}): {exc}",
                    exchange=self.exchange,
                    retry_after=limit / decay if decay else rule.window,
                    details={"sent": False},
                ) from None

    async def send(self, ctx: CallContext, request: HttpRequest) -> HttpResponse:
        if ctx.testnet and self._testnet_headers:
            request = attrs.evolve(request, headers={**self._testnet_headers, **request.headers})
        await self._spend_budgets(ctx, request)
        started = time.perf_counter()
        status: int | None = None
        text: str | None = None
        headers: dict[str, str] = {}
        error: ExchangeError | None = None
        try:
            async with self.session.request(
                request.method,
                # encoded=True: send the URL byte for byte as signed (aiohttp would re-quote it otherwise)
                yarl.URL(request.url, encoded=True),
                headers=dict(request.headers),
                data=request.body.encode() if request.body is not None else None,
            ) as resp:
                status = resp.status
                headers = dict(resp.headers)
                text = await resp.text()
        except TimeoutError:
            error = RequestTimeout(f"no answer within {self._timeout.total}s", exchange=self.exchange)
        except aiohttp.ClientConnectorError as exc:
            error = NetworkError(f"cannot connect: {exc.os_error}", exchange=self.exchange, details={"sent": False})
        except aiohttp.ClientError as exc:
            error = NetworkError(f"{type(exc).__name__}: {exc}", exchange=self.exchange)
        latency = (time.perf_counter() - started) * 1000
        response = None
        if status is not None:
            response = HttpResponse(
                status=status, headers=headers, text=text or "", latency_ms=latency, data=parse_body(text or "")
            )
            error = self._map_error(self.exchange, response, ctx)
            if error is None and status >= 500:
                error = ExchangeNotAvailable(f"HTTP {status}", exchange=self.exchange, code=status)
            elif error is None and status >= 400:
                error = ExchangeError(f"HTTP {status}: {(text or '')[:200]}", exchange=self.exchange, code=status)
        self._record(ctx, request, response, latency, error)
        if error is not None:
            raise error
        assert response is not None
        return response

    def _record(
        self,
        ctx: CallContext,
        request: HttpRequest,
        response: HttpResponse | None,
        latency: float,
        error: ExchangeError | None,
    ) -> None:
        secrets = ctx.credentials.secrets() if ctx.credentials else ()
        # the call's own request id, else the one of the request in progress (market loads, lookups…)
        request_id = ctx.request_id or current_request_id()
        # scrubbing the URL, headers and bodies waits for the first reader (the audit writer's thread)
        record = CallRecord.unscrubbed(
            request,
            response.text if response else None,
            secrets,
            exchange=self.exchange,
            endpoint=request.endpoint,
            method=request.method,
            status=response.status if response else None,
            rate_headers=rate_headers(response.headers) if response else {},
            latency_ms=round(latency, 3),
            error=(error.kind + ": " + (scrub_text(error.message, secrets) or "")) if error else None,
            broker_id=ctx.broker_id,
            request_id=request_id,
            order_key=ctx.order_key,
        )
        bound: dict[str, Any] = {"exchange": self.exchange, "broker_id": ctx.broker_id}
        if request_id is not None:  # else keep the request_id of the surrounding context
            bound["request_id"] = request_id
        # keywords go to the line's extra like a bind, without a bound logger per call: at INFO the line costs
        # loguru's level check only; the URL (scrubbing parses the signed query) is read only if formatted
        where = request.endpoint or Lazy(lambda: record.url)
        logger.debug("{} {} -> {} in {:.1f} ms", request.method, where, record.status, latency, **bound)
        for observer in self.observers:
            try:
                observer(ctx, record)
            except Exception:
                logger.bind(**bound).exception("call observer failed")


async def gather_bounded(coros: list[Any], limit: int) -> list[Any]:
    """Run coroutines with at most ``limit`` in flight (used by bulk lookups)."""
    semaphore = asyncio.Semaphore(limit)

    async def run(coro: Any) -> Any:
        async with semaphore:
            return await coro

    return await asyncio.gather(*(run(c) for c in coros))
