"""Terminal 5 exchange plugin for Binance spot (``/api/v3``) and USDⓈ-M futures (``/fapi``).

The pluggy hooks are in :mod:`terminal5_binance.plugin` (entry point ``binance`` in group ``terminal5``);
the native REST client is :class:`terminal5_binance.client.BinanceClient`.
"""

EXCHANGE = "binance"

__all__ = ["EXCHANGE"]
