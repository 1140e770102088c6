"""The fault-injection API: kill a child with SIGKILL, bring it back on the same port."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from aiokafka import AIOKafkaConsumer

from streams.admin import ensure_topics
from streams.embedded import start_embedded_stack, topic_overrides
from tests.velo.stack.procs import alive, state, wait_reaped
from velo.config import Settings
from velo.stack import EmbeddedStack
from velo.stack.ports import port_is_free


@pytest.fixture()
def stack() -> Iterator[EmbeddedStack]:
    """A private stack per test: these tests kill its children."""
    st = start_embedded_stack(Settings(), 0, 0)
    try:
        yield st
    finally:
        st.stop()


def _pid(stack: EmbeddedStack, name: str) -> int:
    proc = getattr(stack, name).process
    assert proc is not None and proc.pid is not None
    return proc.pid


async def _broker_topics(bootstrap: str) -> set[str]:
    """Topic names from a Kafka metadata request, as any client sees them."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await consumer.start()
    try:
        return set(await consumer.topics())
    finally:
        await consumer.stop()


def test_kill_redis_reaps_it_and_restart_redis_keeps_port_and_data(stack: EmbeddedStack) -> None:
    port, old = stack.redis.port, _pid(stack, "redis")
    redis.Redis.from_url(stack.redis.url).set("k", "v")
    stack.kill_redis()
    assert state(old) is None, "killed redis left a zombie"
    assert port_is_free(port)
    stack.restart_redis()
    assert stack.redis.port == port and _pid(stack, "redis") != old
    client = redis.Redis.from_url(stack.redis.url)
    assert client.ping() and client.get("k") == b"v"


def test_restart_broker_answers_metadata_on_the_same_port(stack: EmbeddedStack) -> None:
    settings = stack.settings(**topic_overrides(Settings()))
    port, old = stack.broker.port, _pid(stack, "broker")
    assert set(settings.topics) <= asyncio.run(_broker_topics(settings.bootstrap_servers))
    stack.kill_broker()
    assert state(old) is None, "killed broker left a zombie"
    stack.restart_broker()
    assert stack.broker.port == port and _pid(stack, "broker") != old
    # memory-only storage: the topics are gone until the caller re-creates them
    assert not set(settings.topics) & asyncio.run(_broker_topics(settings.bootstrap_servers))
    assert sorted(asyncio.run(ensure_topics(settings))) == sorted(settings.topics)
    assert set(settings.topics) <= asyncio.run(_broker_topics(settings.bootstrap_servers))


def test_a_child_restarted_from_a_short_lived_thread_outlives_the_thread(stack: EmbeddedStack) -> None:
    """The kernel's parent-death signal follows the forking thread, not the process."""
    worker = threading.Thread(target=stack.restart_redis)
    worker.start()
    worker.join()
    time.sleep(0.5)
    assert alive(_pid(stack, "redis")), "redis died with the thread that restarted it"
    assert redis.Redis.from_url(stack.redis.url).ping()


def test_dead_children_reaps_and_names_an_outside_kill(stack: EmbeddedStack) -> None:
    pid = _pid(stack, "redis")
    os.kill(pid, signal.SIGKILL)
    assert wait_reaped(pid, 0.2) is False, "not reaped until someone asks"
    deadline = time.monotonic() + 5
    dead = []
    while not dead and time.monotonic() < deadline:
        dead = stack.dead_children()
        time.sleep(0.02)
    assert [(d.name, d.pid, d.returncode) for d in dead] == [("redis", pid, -signal.SIGKILL)]
    assert state(pid) is None
    assert stack.dead_children() == [], "one death is reported once"


def test_deliberate_kills_are_not_reported_as_deaths(stack: EmbeddedStack) -> None:
    stack.kill_redis()
    stack.kill_broker()
    assert stack.dead_children() == []
