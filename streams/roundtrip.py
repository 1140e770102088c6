"""Publish a race card and read it back: the smallest proof the wire works."""

from __future__ import annotations

import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas import RaceCard
from streams.security import kafka_options
from velo.config import Settings


async def card_roundtrip(settings: Settings, card: RaceCard, timeout: float = 10.0) -> tuple[RaceCard, float, int]:
    """Produce ``card`` keyed by race_id, consume it with a fresh group.

    Returns the decoded card, the wall milliseconds from send to receipt, and
    the partition it landed on.
    """
    topic = settings.topic_race_cards
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=f"velo-roundtrip-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="latest",
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        **kafka_options(settings),
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", **kafka_options(settings))
    await consumer.start()
    await producer.start()
    try:
        # Wait for the assignment, so "latest" is fixed before we produce.
        deadline = time.monotonic() + timeout
        while not consumer.assignment() and time.monotonic() < deadline:
            await consumer.getmany(timeout_ms=50)
        for tp in consumer.assignment():
            await consumer.position(tp)
        sent = time.perf_counter()
        meta = await producer.send_and_wait(topic, card.encode(), key=card.race_id.encode())
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=100)
            for records in batches.values():
                for rec in records:
                    got = RaceCard.decode(rec.value)
                    if got.race_id == card.race_id:
                        return got, (time.perf_counter() - sent) * 1000.0, meta.partition
        raise TimeoutError(f"card {card.race_id} did not come back from {topic} within {timeout}s")
    finally:
        await producer.stop()
        await consumer.stop()
