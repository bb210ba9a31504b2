"""Terminal 5 exchange plugin for Bitget V2 spot and V2 mix (perpetual futures).

The pluggy hooks are in :mod:`terminal5_bitget.plugin` (entry point ``bitget`` in group ``terminal5``);
the native REST client is :class:`terminal5_bitget.client.BitgetClient`; a loopback simulator of the V2
endpoints the plugin uses is :mod:`terminal5_bitget.simulator`.
"""

EXCHANGE = "bitget"

__all__ = ["EXCHANGE"]
