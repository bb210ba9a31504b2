"""The client-id store with Redis in front: shared cache, and losing it loses nothing."""

from __future__ import annotations

import secrets

import redis as redis_lib
from redis.backoff import NoBackoff
from redis.retry import Retry

from terminal5.storage.client_ids import REDIS_TTL_SECONDS, ClientIdStore
from terminal5.storage.database import Storage


async def test_redis_cache_is_filled_with_a_ttl_and_a_flush_loses_nothing(db_url: str, redis_url: str) -> None:
    client = redis_lib.Redis.from_url(redis_url)
    exchange = f"ex{secrets.token_hex(4)}"  # this test's own key space
    storage = await Storage.open(db_url)
    store = ClientIdStore(storage, client)
    natives = [await storage.run(store.claim, exchange, f"c{i}", lambda a, i=i: i * 10 + a) for i in range(50)]
    key = store._native_key(exchange, natives[0])
    assert client.get(key) == b"c0"
    assert REDIS_TTL_SECONDS - 60 < client.ttl(key) <= REDIS_TTL_SECONDS
    # "flush": drop every key of this test, and use a process without local cache
    for k in client.scan_iter(match=f"terminal5:cid:*:{exchange}:*"):
        client.delete(k)
    fresh = ClientIdStore(storage, client)
    assert [await storage.run(fresh.client_id_of, exchange, n) for n in natives] == [f"c{i}" for i in range(50)]
    assert client.get(key) == b"c0"  # re-warmed from the database
    again = await storage.run(fresh.claim, exchange, "c0", lambda a: 999)
    assert again == natives[0]
    await storage.close()
    for k in client.scan_iter(match=f"terminal5:cid:*:{exchange}:*"):
        client.delete(k)


async def test_redis_down_falls_back_to_the_database(db_url: str) -> None:
    dead = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    storage = await Storage.open(db_url)
    store = ClientIdStore(storage, dead)
    natives = [await storage.run(store.claim, "ex", f"abc{i}", lambda a, i=i: 42 + i + a) for i in range(20)]
    assert natives == [str(42 + i) for i in range(20)]
    assert store._redis_down_until > 0  # the breaker opened: later claims did not wait on Redis
    assert await storage.run(ClientIdStore(storage, dead).client_id_of, "ex", "42") == "abc0"
    await storage.close()
