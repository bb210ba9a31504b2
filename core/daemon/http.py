"""The HTTP front door (aiohttp), versioned under ``/v1``.

* ``Authorization: Bearer <token>`` on every ``/v1`` route except ``/v1/openapi.json`` and
  ``/v1/exchanges``; ``/health`` and ``/metrics`` are open (the server binds to 127.0.0.1 by default).
* Bodies are read strictly (``body.py``: JSON only, 64 KiB, 16 levels, no duplicate keys); a route takes
  only the query parameters ``routes.ROUTES`` declares for it, each once; ids are 1..2^31-1.
* Every request carries a request id (``X-Request-ID`` or a new one), bound to every log line of the
  request, from here through the plugin to the database, and echoed in the answer.
* Errors answer ``{"error": <taxonomy name>, "message", "field"?, "exchange"?, "code"?, "request_id"}``
  with the class's HTTP status; 429 carries ``Retry-After``; anything unexpected is a 500
  ``InternalError`` without a stack trace (the trace is in the log, under the request id).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import secrets
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web
from loguru import logger

from terminal5 import jsonutil
from terminal5.daemon import body as json_body
from terminal5.daemon.api import check_id, check_reason, parse_bool, parse_int
from terminal5.daemon.openapi import build_document
from terminal5.daemon.routes import ROUTES, Route
from terminal5.daemon.tokens import Principal
from terminal5.errors import (
    AuthenticationError,
    DatabaseUnavailable,
    InvalidOrderRequest,
    RateLimitExceeded,
    Terminal5Error,
)
from terminal5.logs import request_scope

if TYPE_CHECKING:
    from terminal5.daemon.service import Daemon

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DAEMON: web.AppKey[Any] = web.AppKey("terminal5_daemon", object)
REQUEST_ID: web.RequestKey[str] = web.RequestKey("terminal5_request_id", str)
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("terminal5_principal", Principal)
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
MAX_BODY = 64 * 1024  # an order is well under 2 KiB
_ID_KEY = secrets.token_bytes(32)
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """A new request id: 32 hex characters, as a uuid4's, unguessable (a keyed hash of a counter, so an id
    tells nothing of how many requests this process has seen) and without a system call per request."""
    return hashlib.blake2b(next(_ID_COUNTER).to_bytes(8, "little"), key=_ID_KEY, digest_size=16).hexdigest()


def json_response(data: Any, status: int = 200, request_id: str | None = None) -> web.Response:
    headers = {"X-Request-ID": request_id} if request_id else None
    return web.Response(text=jsonutil.dumps(data), status=status, content_type="application/json", headers=headers)


def error_response(exc: Terminal5Error, request_id: str) -> web.Response:
    body = {k: (Decimal(str(v)) if isinstance(v, float) else v) for k, v in exc.to_dict().items()}
    body["request_id"] = request_id
    response = json_response(body, exc.http_status, request_id)
    if isinstance(exc, RateLimitExceeded):
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after or 1)))
    elif isinstance(exc, DatabaseUnavailable):
        response.headers["Retry-After"] = "1"  # the gateway reconnects by itself
    return response


def _route_of(request: web.Request) -> Route | None:
    info = request.match_info.route
    return getattr(info.handler, "__terminal5_route__", None)


@web.middleware
async def front_door(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, authentication, error mapping and request metrics, in one place."""
    daemon: Daemon = request.app[DAEMON]
    given = request.headers.get("X-Request-ID", "")
    request_id = given if REQUEST_ID_RE.match(given) else new_request_id()
    request[REQUEST_ID] = request_id
    route = _route_of(request)
    label = route.operation if route else "unmatched"
    status = 500
    with request_scope(request_id):
        try:
            if route is not None and route.auth:
                request[PRINCIPAL] = await authenticate(daemon, request)
            if route is not None:
                check_query(request, route)
            response = await handler(request)
            status = response.status
            response.headers.setdefault("X-Request-ID", request_id)
            return response
        except Terminal5Error as exc:
            if isinstance(exc, DatabaseUnavailable) and PRINCIPAL not in request:
                exc = exc.for_order(sent=False, client_order_id=None)  # failed before anything was handled
            status = exc.http_status
            logger.info("{} {} -> {} {}", request.method, request.path, status, exc)
            daemon.metrics.errors.labels(exc.kind, exc.exchange or "-", "http").inc()
            return error_response(exc, request_id)
        except web.HTTPException as exc:
            status = exc.status
            if exc.status < 400:
                raise
            name = {404: "NotFound", 405: "MethodNotAllowed", 413: "RequestTooLarge"}.get(exc.status, "HttpError")
            data = {"error": name, "message": exc.reason, "request_id": request_id}
            if exc.status == 404:
                data.update(field="path", message=f"no route {request.path[:200]!r}")
            elif exc.status == 413:
                data.update(field="request", message=f"the body is larger than {MAX_BODY} bytes")
            elif exc.status == 405:
                data.update(field="method", message=f"{request.method} is not allowed here")
            response = json_response(data, exc.status, request_id)
            if "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
            return response
        except Exception:
            status = 500
            logger.exception("unhandled error on {} {}", request.method, request.path)
            daemon.metrics.errors.labels("InternalError", "-", "http").inc()
            return json_response(
                {
                    "error": "InternalError",
                    "message": f"internal error, see logs (request_id {request_id})",
                    "request_id": request_id,
                },
                500,
                request_id,
            )
        finally:
            daemon.metrics.request("http", label, status)


async def authenticate(daemon: Daemon, request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("missing API token: send 'Authorization: Bearer <token>'")
    principal = await daemon.verify_token(token.strip())
    if principal is None:
        raise AuthenticationError("invalid or revoked API token")
    return principal


# --- helpers for handlers ---------------------------------------------------------------------------
def query(request: web.Request, name: str) -> str | None:
    route = _route_of(request)
    assert route is not None and any(p.name == name for p in route.query), f"{name} is not declared in ROUTES"
    return request.query.get(name)


def check_query(request: web.Request, route: Route) -> None:
    """Only the query parameters the route declares, each at most once."""
    declared = {p.name for p in route.query}
    errors = [(k, "unknown query parameter") for k in sorted(set(request.query) - declared)]
    errors += [(k, "given more than once") for k in sorted(declared) if len(request.query.getall(k, [])) > 1]
    if errors:
        raise InvalidOrderRequest(errors)


def path_int(request: web.Request, name: str) -> int:
    value = request.match_info[name]
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        raise InvalidOrderRequest([(name, f"{value[:40]!r} is not a positive integer")])
    return check_id(int(value), name)


async def body(request: web.Request, *, required: bool = True) -> Any:
    raw = await request.read()
    if not raw.strip():
        if required:
            raise InvalidOrderRequest([("request", "a JSON body is required")])
        return {}
    json_body.check_content_type(request.content_type, raw)
    return json_body.parse(raw)


async def kill_reason(request: web.Request) -> str | None:
    """A kill's optional body: nothing, or an object with at most a string ``reason``."""
    data = await body(request, required=False)
    if not isinstance(data, dict):
        raise InvalidOrderRequest([("request", "must be a JSON object")])
    unknown = sorted(set(data) - {"reason"})
    if unknown:
        raise InvalidOrderRequest([(k, "unknown field") for k in unknown])
    return check_reason(data.get("reason"))


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


# --- handlers ----------------------------------------------------------------------------------------
class Handlers:
    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon
        self.api = daemon.api

    async def health(self, request: web.Request) -> web.Response:
        report = await self.d.health()
        return json_response(report, 200 if report["database"]["ok"] else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        await self.d.refresh_gauges()
        response = web.Response(body=self.d.metrics.render())
        response.content_type = "text/plain"
        response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
        return response

    async def openapi(self, request: web.Request) -> web.Response:
        return json_response(build_document())

    async def exchanges(self, request: web.Request) -> web.Response:
        return json_response(self.api.exchanges())

    async def list_brokers(self, request: web.Request) -> web.Response:
        user_id = parse_int(query(request, "user_id"), "user_id", minimum=1)
        return json_response(await self.api.list_brokers(principal(request), user_id))

    async def get_broker(self, request: web.Request) -> web.Response:
        return json_response(await self.api.get_broker(principal(request), path_int(request, "broker_id")))

    async def test_broker(self, request: web.Request) -> web.Response:
        return json_response(await self.api.test_broker(principal(request), path_int(request, "broker_id")))

    async def open_orders(self, request: web.Request) -> web.Response:
        return json_response(
            await self.api.open_orders(principal(request), path_int(request, "broker_id"), query(request, "symbol"))
        )

    async def balances(self, request: web.Request) -> web.Response:
        return json_response(await self.api.balances(principal(request), path_int(request, "broker_id")))

    async def positions(self, request: web.Request) -> web.Response:
        return json_response(await self.api.positions(principal(request), path_int(request, "broker_id")))

    async def reconcile(self, request: web.Request) -> web.Response:
        return json_response(
            await self.api.reconcile(principal(request), path_int(request, "broker_id"), self.d.reconciler)
        )

    async def kill_broker(self, request: web.Request) -> web.Response:
        reason = await kill_reason(request)
        return json_response(await self.api.kill_broker(principal(request), path_int(request, "broker_id"), reason))

    async def enable_broker(self, request: web.Request) -> web.Response:
        return json_response(await self.api.enable_broker(principal(request), path_int(request, "broker_id")))

    async def dead_man_switch(self, request: web.Request) -> web.Response:
        return json_response(
            await self.api.dead_man(principal(request), path_int(request, "broker_id"), await body(request))
        )

    async def kill_user(self, request: web.Request) -> web.Response:
        reason = await kill_reason(request)
        return json_response(await self.api.kill_user(principal(request), path_int(request, "user_id"), reason))

    async def enable_user(self, request: web.Request) -> web.Response:
        return json_response(await self.api.enable_user(principal(request), path_int(request, "user_id")))

    async def place_order(self, request: web.Request) -> web.Response:
        order = await self.api.place_order(principal(request), await body(request), request_id=request[REQUEST_ID])
        return json_response(order, request_id=request[REQUEST_ID])

    async def list_orders(self, request: web.Request) -> web.Response:
        route = _route_of(request)
        assert route is not None
        declared = {p.name for p in route.query}
        unknown = set(request.query) - declared
        if unknown:
            raise InvalidOrderRequest([(k, "unknown filter") for k in sorted(unknown)])
        filters = {name: query(request, name) for name in declared if name in request.query}
        return json_response(await self.api.list_orders(principal(request), filters))

    async def get_order(self, request: web.Request) -> web.Response:
        return json_response(
            await self.api.get_order(
                principal(request),
                path_int(request, "broker_id"),
                request.match_info["key"],
                by=query(request, "by") or "client_order_id",
                refresh=parse_bool(query(request, "refresh"), "refresh"),
                symbol=query(request, "symbol"),
                request_id=request[REQUEST_ID],
            )
        )

    async def cancel_order(self, request: web.Request) -> web.Response:
        return json_response(
            await self.api.cancel_order(
                principal(request),
                path_int(request, "broker_id"),
                request.match_info["key"],
                by=query(request, "by") or "client_order_id",
                symbol=query(request, "symbol"),
                request_id=request[REQUEST_ID],
            )
        )

    async def edit_order(self, request: web.Request) -> web.Response:
        return json_response(
            await self.api.edit_order(
                principal(request),
                path_int(request, "broker_id"),
                request.match_info["key"],
                await body(request),
                by=query(request, "by") or "client_order_id",
                request_id=request[REQUEST_ID],
            )
        )


def build_app(daemon: Daemon) -> web.Application:
    app = web.Application(middlewares=[front_door], client_max_size=MAX_BODY)
    app[DAEMON] = daemon
    handlers = Handlers(daemon)
    for route in ROUTES:
        method = getattr(handlers, route.operation)

        async def handler(request: web.Request, _m: Any = method) -> web.StreamResponse:
            return await _m(request)

        handler.__terminal5_route__ = route  # type: ignore[attr-defined]
        app.router.add_route(route.method, route.path, handler)
    return app
