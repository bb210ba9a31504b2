"""/health says degraded, and names the broker and the reason, while a broker FAILED its start-up check."""

from __future__ import annotations

from .conftest import World


async def test_health_is_degraded_and_names_the_failed_broker(world: World) -> None:
    gw = world.daemon.gw
    bad = await gw.add_broker(user_id=1, exchange="loopback", label="badkeys", api_key="key-user-one",
                              api_secret="wrong-secret", base_url=world.exchange.url)
    await world.daemon.check_brokers()
    resp = await world.client.get("/health")
    health = await resp.json()
    assert resp.status == 200 and health["status"] == "degraded", health  # serving, but not ok
    [failed] = health["failed_brokers"]
    assert failed["broker_id"] == bad.id and failed["label"] == "badkeys"
    assert failed["reason"].startswith("AuthenticationError")
    assert any(f"broker {bad.id} (loopback/badkeys) FAILED: AuthenticationError" in p for p in health["problems"])
    assert "wrong-secret" not in str(health)


async def test_health_is_ok_when_every_broker_is(world: World) -> None:
    await world.daemon.check_brokers()
    health = await (await world.client.get("/health")).json()
    assert health["status"] == "ok" and health["problems"] == [] and health["failed_brokers"] == []
