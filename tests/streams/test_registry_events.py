"""Registry events through the real broker: published in order, retried, caught up."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from streams.clients import BrokerUnreachable
from streams.registry_events import publish_outbox, read_events
from velo.config import Settings
from velo.registry import Registry
from velo.registry.subscriber import ModelHolder


@pytest.fixture()
def topic_settings(settings: Settings) -> Settings:
    from streams.admin import ensure_topics

    s = settings.model_copy(update={"topic_registry_events": f"registry-{uuid.uuid4().hex[:6]}"})
    s.__dict__.pop("topics", None)
    asyncio.run(ensure_topics(s))
    return s


def test_every_change_is_broadcast_once_in_order(tmp_path: Path, model_dirs, topic_settings: Settings) -> None:
    reg = Registry(tmp_path)
    for d in model_dirs:
        reg.register(d, "m")
    reg.promote("m", "1")
    assert asyncio.run(publish_outbox(topic_settings, reg)) == 3
    assert asyncio.run(publish_outbox(topic_settings, reg)) == 0, "nothing is sent twice"
    reg.promote("m", "2")  # archives v1 and crowns v2: two more events
    assert asyncio.run(publish_outbox(topic_settings, reg)) == 2
    events = asyncio.run(read_events(topic_settings))
    assert [e.action for e in events] == ["register", "register", "promote", "archive", "promote"]
    assert [e.event_id for e in events] == [e.event_id for _, e in reg.outbox()]


def test_broker_down_keeps_events_queued_then_catches_up(tmp_path: Path, model_dirs, topic_settings) -> None:
    reg = Registry(tmp_path)
    reg.register(model_dirs[0], "m")
    dead = topic_settings.model_copy(update={"bootstrap_servers": "127.0.0.1:1"})
    # no broker at all: no retries (the CLI says so in one line), the events wait
    with pytest.raises(BrokerUnreachable, match=r"cannot reach the Kafka broker at 127\.0\.0\.1:1"):
        asyncio.run(publish_outbox(dead, reg, attempts=2, backoff=0.01))
    assert reg.published_seq() == 0 and len(reg.outbox()) == 1, "the change stands; its event waits"
    reg.promote("m", "1")
    assert asyncio.run(publish_outbox(topic_settings, reg)) == 2
    holder = ModelHolder(reg, "m")
    for event in asyncio.run(read_events(topic_settings)):
        holder.on_event(event)
    assert holder.champion.record.version == "1"
