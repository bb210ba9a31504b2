"""The pluggy markers of the ``terminal5`` project (also the entry-point group name)."""

from collections.abc import Callable
from typing import Any, TypeVar

import pluggy

PROJECT = "terminal5"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: the attribute ``overrides`` sets on a hook function: the exchanges it answers for
OVERRIDES_ATTR = "terminal5_overrides"

F = TypeVar("F", bound=Callable[..., Any])


def overrides(*exchanges: str) -> Callable[[F], F]:
    """Mark a per-exchange hook that overrides another plugin's answer for ``exchanges`` only.

    It is ``@hookimpl(tryfirst=True)`` plus the list of exchanges: the core calls it for those exchanges
    (before the plugin that registered them) and never for any other one::

        @overrides("binance")
        def normalize_status(exchange, native_status):
            return OrderStatus.OPEN if native_status == "PENDING_NEW" else None  # None: the owner answers
    """
    if not exchanges or not all(isinstance(e, str) and e for e in exchanges):
        raise TypeError("overrides() takes the names of the exchanges the hook answers for")

    def mark(fn: F) -> F:
        setattr(fn, OVERRIDES_ATTR, frozenset(exchanges))
        return hookimpl(tryfirst=True)(fn)

    return mark
