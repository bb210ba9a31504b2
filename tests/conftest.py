"""Shared fixtures: the real PostgreSQL and Redis of CI, isolated per test."""

from __future__ import annotations

import atexit
import importlib.util
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal5.testing.pytest_plugin import skip_or_fail

# The core's tests place orders on the loopback exchange through the plugin template (the one example
# exchange). Where the template is not installed (tox env `core`: no plugin installed, none discovered),
# its package is made importable through a directory holding only a link to it: the template's folder
# itself may hold a build's terminal5_template.egg-info, whose entry point must stay undiscovered.
# sys.path (not an import hook) so that spawned processes and CLI subprocesses import it too.
TEMPLATE = Path(__file__).resolve().parents[1] / "plugins" / "template"
if importlib.util.find_spec("terminal5_template") is None:
    _shim = Path(tempfile.mkdtemp(prefix="t5-template-"))
    atexit.register(shutil.rmtree, _shim, True)
    (_shim / "terminal5_template").symlink_to(TEMPLATE / "terminal5_template", target_is_directory=True)
    sys.path.insert(0, str(_shim))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_shim), os.environ.get("PYTHONPATH")]))

PG_URL = os.environ.get("TERMINAL5_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TERMINAL5_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _pg_admin():  # type: ignore[no-untyped-def]
    try:
        import psycopg2
    except ImportError:
        skip_or_fail("psycopg2 is not installed")
    try:
        from urllib.parse import urlsplit

        parts = urlsplit(PG_URL)
        conn = psycopg2.connect(
            dbname=parts.path.lstrip("/"), user=parts.username, host=parts.hostname, port=parts.port, connect_timeout=3
        )
    except Exception as exc:
        skip_or_fail(f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}")
    conn.autocommit = True
    return conn


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL on a fresh schema, dropped afterwards."""
    conn = _pg_admin()
    schema = f"t5test_{secrets.token_hex(4)}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?search_path={schema}"
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/t5.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The CI Redis; the test's keys are namespaced by the code under test and flushed by it if needed."""
    try:
        import redis
    except ImportError:
        skip_or_fail("redis client not installed")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:
        skip_or_fail(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
    yield REDIS_URL
    client.close()
