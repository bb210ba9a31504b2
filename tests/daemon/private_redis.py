"""A private ``redis-server`` on a free loopback port, for tests that flush or restart Redis.

The shared Redis is never touched: outages happen on this server only, and the fixture always stops it
(bounded in time), whatever the test did.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal5.testing.pytest_plugin import skip_or_fail
from terminal5.testing.redis_server import PrivateRedisServer, RedisServerUnavailable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis(PrivateRedisServer):
    """The testing kit's private server; one that cannot start skips the test (fails it in CI)."""

    def start(self) -> None:
        try:
            super().start()
        except RedisServerUnavailable as exc:
            skip_or_fail(str(exc))


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = PrivateRedis(workdir, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
