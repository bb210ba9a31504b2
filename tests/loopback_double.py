"""The template's loopback plugin with its native client swapped for a test's subclass.

Every hook is the template's own; only ``ExchangeSpec.client_factory`` changes, so a test can record or
fail calls of the client without a second copy of the exchange.
"""

from __future__ import annotations

from types import SimpleNamespace

import attrs
import terminal5_template.plugin as loopback
from terminal5_template.client import LoopbackClient

from terminal5.hookspecs import hookimpl

HOOKS = ("map_client_id", "to_native", "from_native", "normalize_status", "map_error")


def make_plugin(client_class: type[LoopbackClient] | None = None) -> object:
    """The loopback plugin; with ``client_class``, the same plugin whose client is that class."""
    if client_class is None:
        return loopback
    return SimpleNamespace(
        __name__=f"loopback-with-{client_class.__name__}",
        register_exchanges=hookimpl(lambda register: register(attrs.evolve(loopback.SPEC, client_factory=client_class))),
        **{name: getattr(loopback, name) for name in HOOKS},
    )
