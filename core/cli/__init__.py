"""The ``terminal5`` command.

Every verb has ``--help``, prints for humans by default and JSON with ``--json``. Verbs other than
``run``, ``watchdog`` and ``simulator`` work directly on the database named by the environment (the
daemon need not run). Secrets (exchange keys) are read from a prompt or from stdin, never from argv.

Exit status: 0 success, 1 an error (printed as ``error: <Type>: message``, or as JSON), 2 usage.

One module per concern: ``output`` (human / JSON printing), ``context`` (settings, logs, a gateway),
``brokers`` (exchanges, brokers, tokens), ``orders`` (orders, reconcile, kill switch), ``operations``
(run, health, watchdog, migrate, keygen, simulator), ``parser`` and ``main``.
"""

from terminal5.cli.main import error_text, main
from terminal5.cli.parser import build_parser

__all__ = ["build_parser", "error_text", "main"]
