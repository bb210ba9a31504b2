"""The three parameter levels of an order request, checked against what the exchange plugin declares.

Level 1 (the order itself: symbol, side, type, quantity, price, client id…) unsupported → refused, nothing
sent; Level 2 (refinements: time in force, reduce-only, post-only…) unsupported → ignored and reported in
``ignored_params``; Level 3 (``extra_params``) → passed to the exchange verbatim."""

from __future__ import annotations

from loguru import logger

from terminal5.contract import ExchangeSpec
from terminal5.errors import UnsupportedParameterError
from terminal5.models import LEVEL1_PARAMS, LEVEL2_PARAMS, OrderRequest

#: Level-1 parameters every exchange honours by definition (an order cannot exist without them), so a
#: plugin's ``supported_params`` need not list them (the hookspec and ExchangeSpec docs name this set).
IMPLIED = frozenset({"symbol", "side", "type", "quantity", "price", "client_order_id"})


def check_levels(spec: ExchangeSpec, request: OrderRequest) -> tuple[str, ...]:
    """Raise ``UnsupportedParameterError`` for an unsupported Level-1 parameter in use; return the
    Level-2 parameters in use that the exchange/market cannot map (they go to ``ignored_params``)."""
    market_type = request.market_type
    if market_type not in spec.market_types:
        raise UnsupportedParameterError(
            f"{spec.name} has no {market_type.value} markets (Level 1: nothing was sent)",
            exchange=spec.name,
            field="symbol",
        )
    if request.type.value not in spec.order_types.get(market_type, frozenset()):
        raise UnsupportedParameterError(
            f"{spec.name} {market_type.value} does not support {request.type.value} orders (nothing was sent)",
            exchange=spec.name,
            field="type",
        )
    used = request.used_params()
    for name in used:
        if name in LEVEL1_PARAMS and name not in IMPLIED and not spec.supports(market_type, name):
            raise UnsupportedParameterError(
                f"{spec.name} {market_type.value} does not support {name} (Level 1: the order is refused, "
                "nothing was sent)",
                exchange=spec.name,
                field=name,
            )
    ignored = tuple(n for n in used if n in LEVEL2_PARAMS and not spec.supports(market_type, n))
    if ignored:
        logger.warning(
            "{} {} does not support {} (Level 2): ignored, the order goes out without",
            spec.name,
            market_type.value,
            ", ".join(ignored),
        )
    return ignored
