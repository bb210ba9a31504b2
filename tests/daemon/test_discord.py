"""The Discord sink against a loopback webhook server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from terminal5.alerts import AlertBus
from terminal5.contract import Alert
from terminal5.daemon.discord import DiscordSink


class Webhook:
    def __init__(self, status: int = 204) -> None:
        self.posts: list[dict] = []
        self.status = status
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.posts.append(json.loads(await request.text()))
        return web.Response(status=self.status)

    async def __aenter__(self) -> Webhook:
        app = web.Application()
        app.router.add_post("/api/webhooks/1/abc", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/api/webhooks/1/abc"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


async def wait_idle(sink: DiscordSink, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not sink.idle() and time.monotonic() < deadline:  # noqa: ASYNC110 - the sink works on a thread
        await asyncio.sleep(0.02)
    assert sink.idle()


def alert(key: str, kind: str = "unknown_status", severity: str = "warning") -> Alert:
    return Alert(kind=kind, key=key, message=f"message {key}", severity=severity, exchange="loopback")


async def test_posts_deduplicated_and_rate_limited() -> None:
    async with Webhook() as hook:
        sink = DiscordSink(hook.url, per_minute=3)
        bus = AlertBus(sink.alert)
        started = time.monotonic()
        for key in ("a", "a", "b", "c", "d", "e"):
            bus.raise_(alert(key))
        assert time.monotonic() - started < 0.5  # the caller never waits on Discord
        await wait_idle(sink)
        sink.close()
    assert len(hook.posts) == 3 and sink.sent == 3 and sink.dropped == 2  # "a" twice: de-duplicated by the bus
    embed = hook.posts[0]["embeds"][0]
    assert embed["title"] == "WARNING · unknown_status · loopback" and embed["description"] == "message a"
    assert hook.posts[0]["allowed_mentions"] == {"parse": []}


async def test_restart_and_reconciliation_kinds_and_failures_do_not_raise() -> None:
    async with Webhook(status=500) as hook:
        sink = DiscordSink(hook.url)
        sink.alert(alert("r1", kind="restart", severity="critical"))
        await wait_idle(sink)
        sink.close()
    assert hook.posts[0]["embeds"][0]["title"].startswith("CRITICAL · restart")
    assert sink.failed == 1 and sink.sent == 0


def test_webhook_url_is_never_shown() -> None:
    sink = DiscordSink("https://discord.com/api/webhooks/123/very-secret-token")
    assert "very-secret" not in repr(sink)
    try:
        DiscordSink("ftp://example.com/x")
    except ValueError:
        pass
    else:
        raise AssertionError("non-https webhook accepted")


async def test_daemon_wires_the_sink_from_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import terminal5_template.plugin as loopback

    from terminal5.daemon.service import Daemon

    from .conftest import make_settings

    async with Webhook() as hook:
        daemon = await Daemon.open(make_settings(tmp_path, discord_webhook=hook.url), plugins=[loopback],
                                   load_entry_points=False)
        try:
            daemon.gw.alerts.raise_(alert("wired", kind="reconciliation", severity="info"))
            sinks = [impl.plugin for impl in daemon.gw.hooks.pm.hook.alert.get_hookimpls()
                     if isinstance(impl.plugin, DiscordSink)]
            assert len(sinks) == 1
            await wait_idle(sinks[0])
        finally:
            await daemon.shutdown()
    assert [p["embeds"][0]["description"] for p in hook.posts] == ["message wired"]
