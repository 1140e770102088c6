"""Broadcast the registry's outbox on the registry-events topic.

The registry writes every change to its outbox under the same lock as the
index, so a change is never lost even if Kafka is down. This publisher sends
what has not been sent, in order, retrying with backoff, and records the last
sequence number sent. Consumers may see an event twice (at-least-once): they
only use events as a cue to re-read the index, so a repeat is harmless.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas import ContractError, RegistryEvent
from streams.clients import BrokerUnreachable, start_client
from streams.security import kafka_options
from streams.topic_reader import read_topic
from velo.config import Settings
from velo.registry.store import Registry

log = logging.getLogger(__name__)


async def publish_outbox(settings: Settings, registry: Registry, attempts: int = 5, backoff: float = 0.5) -> int:
    """Send every unpublished event; returns how many were sent. Raises after
    ``attempts`` failed tries, leaving the rest for the next call, and at
    once (:class:`BrokerUnreachable`) when the broker does not answer at all:
    the events wait in the outbox either way."""
    pending = registry.outbox(after=registry.published_seq())
    if not pending:
        return 0
    last_exc: Exception | None = None
    for attempt in range(attempts):
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers, acks="all", request_timeout_ms=5000, **kafka_options(settings)
        )
        try:
            await start_client(producer, settings.bootstrap_servers)
            sent = 0
            for seq, event in registry.outbox(after=registry.published_seq()):
                await producer.send_and_wait(
                    settings.topic_registry_events, event.encode(), key=event.model_name.encode()
                )
                registry.mark_published(seq)
                sent += 1
            return sent
        except BrokerUnreachable:
            raise
        except (KafkaError, OSError) as exc:
            last_exc = exc
            log.warning("publishing registry events failed (attempt %d/%d): %s", attempt + 1, attempts, exc)
            await asyncio.sleep(backoff * 2**attempt)
        finally:
            await producer.stop()
    raise RuntimeError(f"registry events not published after {attempts} attempts: {last_exc}")


async def read_events(settings: Settings, timeout: float = 10.0) -> list[RegistryEvent]:
    """Every event on the topic, from the beginning (see streams.topic_reader)."""

    def bad(partition: int, offset: int, exc: ContractError) -> None:
        log.error("bad registry event at offset %s: %s", offset, exc)

    return await read_topic(settings, settings.topic_registry_events, RegistryEvent, timeout_s=timeout, on_error=bad)
