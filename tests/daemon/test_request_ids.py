"""Every native call's audit record names its request (open-orders, balances, cancels, kill, reconcile), and
every line of the text log, a traceback's continuation lines included, carries the request id."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from loguru import logger

from terminal5.logs import configure, request_scope

from .conftest import World, order_body


async def audit_since(world: World, after: int) -> list[tuple[str, str | None]]:
    gw = world.daemon.gw
    await gw.flush()

    def rows() -> list[tuple[str, str | None]]:
        m = gw.storage.m.AuditRecord
        return [(r.endpoint, r.request_id) for r in m.select().where(m.id > after).order_by(m.id)]

    return await gw.storage.run(rows)


async def last_audit_id(world: World) -> int:
    gw = world.daemon.gw
    await gw.flush()

    def last() -> int:
        m = gw.storage.m.AuditRecord
        row = m.select().order_by(m.id.desc()).first()
        return row.id if row else 0

    return await gw.storage.run(last)


async def test_every_native_call_of_every_route_names_its_request(world: World) -> None:
    b = world.brokers["one"]
    auth = world.auth("user1")
    calls: list[tuple[str, str, str, Any]] = [
        ("rid-place-1", "POST", "/v1/orders", order_body(b, "rid-1")),
        ("rid-place-2", "POST", "/v1/orders", order_body(b, "rid-2")),
        ("rid-open", "GET", f"/v1/brokers/{b}/open-orders", None),
        ("rid-balances", "GET", f"/v1/brokers/{b}/balances", None),
        ("rid-fetch", "GET", f"/v1/brokers/{b}/orders/rid-1?refresh=true", None),
        ("rid-cancel", "DELETE", f"/v1/brokers/{b}/orders/rid-1", None),
        ("rid-reconcile", "POST", f"/v1/brokers/{b}/reconcile", None),
        ("rid-kill", "POST", f"/v1/brokers/{b}/kill", {"reason": "test"}),
    ]
    seen: dict[str, list[tuple[str, str | None]]] = {}
    for rid, method, path, body in calls:
        before = await last_audit_id(world)
        response = await world.client.request(method, path, json=body, headers={**auth, "X-Request-ID": rid})
        assert response.status < 300, (rid, response.status, await response.text())
        seen[rid] = await audit_since(world, before)
        assert seen[rid], f"{rid}: no native call recorded"
        assert {r for _, r in seen[rid]} == {rid}, (rid, seen[rid])
    assert any(e.startswith("order.cancel") or "cancel" in e for e, _ in seen["rid-kill"])  # the kill's cancels

    before = await last_audit_id(world)
    await world.daemon.reconciler.reconcile_broker(world.brokers["two"])  # the loop's way: no front door
    background = await audit_since(world, before)
    assert background and all(r and r.startswith("reconcile-") for _, r in background), background


def test_traceback_continuation_lines_carry_the_request_id(tmp_path: Path) -> None:
    configure(log_dir=tmp_path, level="INFO", console=False)
    try:
        with request_scope("req-tb-42"):
            try:
                raise ValueError("first line\nsecond line of the message")
            except ValueError:
                logger.exception("something failed\nwhile doing a thing")
        logger.complete()
    finally:
        logger.remove()
        logger.add(sys.stderr)
    lines = (tmp_path / "terminal5.log").read_text("utf-8").splitlines()
    assert len(lines) >= 6 and any("Traceback" in line for line in lines)
    assert all("[req-tb-42]" in line for line in lines), "\n".join(lines)


def test_new_request_ids_are_unique_hex_and_tell_no_count() -> None:
    from terminal5.daemon.http import REQUEST_ID_RE, new_request_id

    ids = [new_request_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and int(i, 16) >= 0 and REQUEST_ID_RE.match(i) for i in ids)
    assert ids != sorted(ids)  # not a visible counter
