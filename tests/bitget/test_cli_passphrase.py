"""``terminal5 broker add --exchange bitget`` asks for the API passphrase (the spec says Bitget keys have
one), refuses to go on without it, and stores it encrypted with the key and the secret."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from terminal5.cli import main
from terminal5.secrets import generate_key


def run_cli(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TERMINAL5_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TERMINAL5_MASTER_KEY", generate_key())
    monkeypatch.setenv("TERMINAL5_PLUGINS_ALLOW", "bitget")
    monkeypatch.setenv("TERMINAL5_BITGET_CACHE_DIR", "off")
    for name in ("TERMINAL5_REDIS_URL", "TERMINAL5_DATABASE_URL", "TERMINAL5_PLUGINS_EXTRA"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_broker_add_reads_and_requires_the_passphrase(env: Path) -> None:
    add = ("broker", "add", "--user", "1", "--exchange", "bitget", "--label", "main")
    code, _, err = run_cli(*add, stdin="bg-key-0001\nbg-secret\n")
    assert code == 2 and "passphrase" in err.lower()
    code, out, err = run_cli(*add, stdin="bg-key-0001\nbg-secret\nbg-passphrase\n")
    assert code == 0, err
    assert "bg-secret" not in out and "bg-passphrase" not in out

    async def stored() -> tuple[str | None, str]:
        from terminal5.daemon.extra import build_hooks
        from terminal5.gateway import Gateway
        from terminal5.settings import Settings

        settings = Settings.from_env()
        gateway = await Gateway.open(settings=settings, hooks=build_hooks(settings))
        try:
            creds = await gateway._credentials_of(1)
            raw = await gateway.storage.run(lambda: gateway.storage.m.Broker.get_by_id(1).api_password_enc)
            return creds.api_password, raw
        finally:
            await gateway.close()

    password, encrypted = asyncio.run(stored())
    assert password == "bg-passphrase" and "bg-passphrase" not in (encrypted or "")
