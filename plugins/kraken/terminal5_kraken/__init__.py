"""Kraken spot plugin for Terminal 5.

The entry point ``kraken = terminal5_kraken.plugin`` (group ``terminal5``) registers the exchange; the
modules mirror the exchange-plugin layout: ``constants`` (tables as data), ``auth`` (pure signer),
``nonce``, ``markets``, ``userref``, ``convert``, ``errors``, ``ratelimit``, ``client``, ``plugin``.
"""

__version__ = "0.1.0"
EXCHANGE = "kraken"
