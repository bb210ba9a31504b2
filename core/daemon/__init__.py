"""The Terminal 5 daemon: front doors (HTTP, Redis Streams), tenancy, heartbeat, watchdog, alerts,
metrics and reconciliation, on top of ``terminal5.gateway.Gateway``.

Modules:

* ``service``   — ``Daemon``: builds the gateway, runs the background loops, shuts down gracefully;
* ``api``       — ``Api``: the operations both front doors expose, with tenancy checks;
* ``http``      — the aiohttp application (``/v1``, ``/health``, ``/metrics``, ``/v1/openapi.json``);
* ``streams``   — the Redis Streams front door (consumer group, XAUTOCLAIM);
* ``tokens``    — API tokens (stored hashed) and the ``Principal`` of a request;
* ``heartbeat`` — heartbeat publisher and the health table; ``watchdog`` — restarts a stale daemon;
* ``reconcile`` — the periodic reconciliation loop and the stored-order format validator;
* ``metrics``   — Prometheus collectors on a per-app registry; ``discord`` — the Discord alert sink;
* ``ratebudget``— rate-limit budgets shared through Redis (in-process fallback);
* ``extra``     — loading plugin objects by import path (``TERMINAL5_PLUGINS_EXTRA``);
* ``simulator`` — serving the loopback exchange for the README walkthrough.
"""
