"""Hook specifications: the plugin author's manual.

How dispatch works
------------------
Many plugins are installed at once (one per exchange, plus alert sinks and overrides). Every
per-exchange hook takes an ``exchange`` argument and is ``firstresult``. The core calls it only on:

* the plugin that registered ``exchange`` (``register_exchanges``): your hooks never see another
  exchange's calls, so they need no ``if exchange != ...`` guard (take ``exchange`` only when your plugin
  registers several exchanges and must tell them apart);
* the plugins that declare an override for ``exchange``: ``@overrides("binance")`` (from
  ``terminal5.hookspecs``) is ``@hookimpl(tryfirst=True)`` limited to the exchanges it names. It runs
  first; returning ``None`` leaves the answer to the exchange's own plugin.

A per-exchange hook of a plugin that registers no exchange and declares no override could never be
called: loading refuses it, naming the plugin. The core turns a final ``None`` into a typed error
(``ExchangeNotFound``/``PluginError``), it never passes ``None`` on. An implementation may take any
subset of a hook's arguments (pluggy passes those it names).

Conversion hooks are **pure**: no I/O, no clock, no global state. Network calls live in the native client
your ``ExchangeSpec.client_factory`` builds; it receives each account's credentials per call in a
``CallContext`` and never stores them.

Lifecycle, in the order the core uses the hooks for one order::

    register_exchanges -> map_client_id -> to_native -> (client sends; map_error on every response)
                       -> from_native -> normalize_status -> (alert, when something needs a human)

A plugin may implement any subset of hooks; a misspelt hook name is rejected when plugins are loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from terminal5.hookspecs.markers import hookspec

if TYPE_CHECKING:
    from terminal5.contract import (
        Alert,
        CallContext,
        ExchangeSpec,
        HttpResponse,
        NativeCall,
        NativeClientId,
        NativeContext,
        NativePayload,
    )
    from terminal5.errors import ExchangeError
    from terminal5.models import Market, Order, OrderRequest, OrderStatus
    from terminal5.testing.fake_exchange import FakeExchange


# --- discovery ----------------------------------------------------------------------------------------


@hookspec
def register_exchanges(register: Callable[[ExchangeSpec], None]) -> None:
    """Declare the exchange(s) this plugin provides.

    Call ``register(spec)`` once per exchange with an ``ExchangeSpec``:

    * ``name``: the lower-case key every other hook receives as ``exchange`` (``"binance"``);
    * ``market_types`` and, per market type, ``supported_params`` (the Level-1 and Level-2 unified
      parameters you honour) and ``order_types``. The core refuses, before anything is sent, an order
      using a Level-1 parameter you do not list (``UnsupportedParameterError``), and reports unlisted
      Level-2 parameters in ``Order.ignored_params``. ``symbol``, ``side``, ``type``, ``quantity``,
      ``price`` and ``client_order_id`` are implied (``terminal5.params.IMPLIED``): every exchange takes
      them, listing them changes nothing;
    * ``client_id``: the native client-id rule (``ClientIdRule(kind="str", max_length=36, pattern=...)``
      or ``kind="int32"``);
    * ``urls``: ``ExchangeUrls`` with production and testnet base URLs per market type (a broker may
      override them), or ``testnet_headers`` for a testnet that is a header on the production host;
    * ``client_factory(transport) -> ExchangeClient``: the client class (or a function annotated with
      it) building the one native client of this exchange type. The methods of
      ``terminal5.contract.ExchangeClient`` are required; the optional capabilities
      (``SupportsEditOrder``, ``SupportsCancelAllAfter``, ``SupportsPositions``,
      ``SupportsAccountConfig``…; their names in ``terminal5.contract.CAPABILITIES``) are found on the
      class: implement the method and the core uses it and ``spec.features`` lists it;
    * ``broker_options``: per-broker options your client reads from ``CallContext.options``.

    A broker's keys reach your client as ``CallContext.credentials``: ``api_key``, ``api_secret`` and
    ``api_password``, which holds the exchange's API passphrase (OKX, Bitget, KuCoin) or a key's 2FA
    password (Kraken's ``otp``); operators give it with ``terminal5 broker add --passphrase``.

    Two plugins registering the same name is an error naming both distributions.

    Example::

        @hookimpl
        def register_exchanges(register):
            register(ExchangeSpec(name="okx", display_name="OKX", ...))

    Returns nothing.
    """


# --- the order path -----------------------------------------------------------------------------------


@hookspec(firstresult=True)
def map_client_id(exchange: str, client_order_id: str, attempt: int) -> NativeClientId | None:
    """Turn a unified client order id into the native client id the exchange will carry.

    ``client_order_id`` is the unified id (any printable string up to 64 characters). Return a ``str``
    that satisfies your ``ClientIdRule`` (return the id itself when it already does) or an ``int`` for
    integer-only exchanges (Kraken's ``userref``).

    The core *claims* the value you return atomically in its store (unique per exchange). When another
    client id already holds it, the core calls you again with ``attempt`` + 1: return the next candidate
    (a deterministic probe, e.g. ``first_guess + attempt``). The mapping is therefore deterministic for a
    given id, collision-free, and reversible by the core (``NativeContext.client_id_of``).

    Must be pure and fast. An override returns ``None`` to leave the id to the exchange's own plugin.
    """


@hookspec(firstresult=True)
def to_native(
    exchange: str,
    request: OrderRequest,
    market: Market,
    native_client_id: NativeClientId,
    options: Mapping[str, Any],
) -> NativeCall | None:
    """Build the native call that places ``request`` on ``market``.

    ``options`` are the broker's plugin options (declared in ``ExchangeSpec.broker_options``), e.g. a
    per-broker client-id mode. Like every pluggy hook, your implementation may accept only the arguments
    it uses.

    ``request`` is validated (types, required fields) and its parameter levels checked against your
    declared ``supported_params``. You still check the exchange's published filters from ``market``
    (tick, step, minimum quantity and notional) and raise ``InvalidOrder`` naming the filter and the
    bound. An amount off the step/tick is refused that way, never rounded (a rounded order is not the
    order that was asked for). Write amounts with ``terminal5.decimals.plain`` (no exponent, no float);
    ``terminal5.testing.conformance.check_decimal_format`` checks what your hook sends.

    Put ``native_client_id`` in the call (and in ``NativeCall.native_client_id``). Do not merge
    ``request.extra_params``: the core applies them verbatim on top of your params (Level 3).
    Level-2 parameters you map as separate orders go in ``NativeCall.attached``.

    Pure. An override returns ``None`` to leave the call to the exchange's own plugin.
    """


@hookspec(firstresult=True)
def map_error(exchange: str, response: HttpResponse, ctx: CallContext) -> ExchangeError | None:
    """Translate a native response into the taxonomy.

    Called by the core transport on **every** response of your exchange. ``response`` carries the HTTP
    status, headers, text and the body parsed with Decimals (``response.data``); ``ctx`` is the call's
    context (which account, which market type), e.g. to tell a futures code from a spot one. Return the
    taxonomy error
    (``InsufficientFunds``, ``RateLimitExceeded(retry_after=...)``, ``DuplicateOrder``…) carrying the
    native ``code`` and ``message``; return ``None`` when the response is a success (an override also
    returns ``None`` to leave the answer to the exchange's own plugin). Decide from status codes and native error codes, never from free text
    unless the exchange offers nothing else (Kraken's error strings are its codes).

    The core raises what you return; 5xx answers you do not map become ``ExchangeNotAvailable``.
    """


@hookspec(firstresult=True)
def from_native(exchange: str, native: NativePayload, context: NativeContext) -> Order | None:
    """Turn one native order payload into a unified ``Order``.

    ``native`` is the JSON object the exchange returned (numbers and numeric strings must become
    Decimals; keep nothing as float). ``context.request`` is the originating request when there is one;
    ``context.market``/``context.markets(native_symbol)`` give the unified symbol back;
    ``context.client_id_of(native_client_id)`` maps the native client id back to the unified one
    (``None`` for ids the gateway never issued: leave ``client_order_id`` empty then).

    Set ``native_status`` to the exchange's status string; the core sets ``status`` itself through
    ``normalize_status`` (so leave ``status=OrderStatus.UNKNOWN``). Set ``raw`` to ``native``.

    Pure. An override returns ``None`` to leave the payload to the exchange's own plugin.
    """


@hookspec(firstresult=True)
def normalize_status(exchange: str, native_status: str) -> OrderStatus | None:
    """Map a native order status onto ``open`` / ``closed`` / ``cancelled``.

    ``native_status`` is the string your ``from_native`` put in ``Order.native_status``, unchanged.

    Keep the table as data (a dict in your ``constants`` module) covering every status the exchange
    documents. Return ``None`` for a status you do not know: the core then stores ``UNKNOWN`` with the
    raw payload and raises one alert per (exchange, status). Never raise.

    An override returns ``None`` as well for the statuses it leaves to the exchange's own plugin.
    """


# --- operations ------------------------------------------------------------------------------------


@hookspec
def alert(alert: Alert) -> None:
    """Receive an alert (unknown native status, restart, reconciliation finding, repeated errors).

    Every implementation is called (this is not ``firstresult``); an alert sink (Discord, Slack,
    e-mail…) is just a plugin implementing this hook. The core has already de-duplicated by
    ``alert.key``. Must not block for long and must not raise; the core logs and swallows errors.
    """


# --- trying an exchange without an account ------------------------------------------------------------


@hookspec
def register_simulators(register: Callable[[str, Callable[..., FakeExchange]], None]) -> None:
    """Offer a native simulator of your exchange, served by ``terminal5 simulate --exchange NAME``.

    Call ``register(name, factory)`` with the exchange name you registered and a factory building your
    simulator (a ``terminal5.testing.fake_exchange.FakeExchange`` subclass, not started). The core calls
    ``factory(accounts=..., port=..., max_seconds=..., faults=..., seed=...)``: ``accounts`` is a list of
    ``Account`` (empty: your simulator makes a demo account), ``faults`` a list of ``FaultRule``.

    The simulator serves your exchange's native REST endpoints on 127.0.0.1 with its real field names,
    error envelopes, codes and HTTP statuses, checks signatures as the exchange documents them, and
    stops by itself after ``max_seconds``. Import your simulator module inside the factory, so loading
    the plugin in the gateway never imports the test server.

    Two plugins registering a simulator for the same name is an error naming both distributions.

    Example::

        @hookimpl
        def register_simulators(register):
            def factory(**options):
                from terminal5_okx.simulator import OkxSimulator
                return OkxSimulator(**options)
            register("okx", factory)

    Returns nothing.
    """
