"""Every contract survives a trip through the real embedded broker."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas import CONTRACTS
from schemas.examples import EXAMPLES, race_card
from streams.roundtrip import card_roundtrip
from velo.config import Settings


async def _roundtrip_all(settings: Settings) -> dict[str, bytes]:
    topic = f"contracts-{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 2, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    await producer.start()
    for name, msg in EXAMPLES.items():
        await producer.send_and_wait(topic, msg.encode(), key=name.encode())
    await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.bootstrap_servers, group_id=topic, auto_offset_reset="earliest"
    )
    await consumer.start()
    got: dict[str, bytes] = {}
    try:
        async with asyncio.timeout(20):
            while len(got) < len(EXAMPLES):
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for rec in records:
                        got[rec.key.decode()] = rec.value
    finally:
        await consumer.stop()
    return got


def test_every_contract_round_trips_through_the_broker(settings: Settings) -> None:
    got = asyncio.run(_roundtrip_all(settings))
    assert set(got) == set(CONTRACTS)
    for name, raw in got.items():
        assert CONTRACTS[name].decode(raw) == EXAMPLES[name]


def test_card_roundtrip_on_the_race_cards_topic(settings: Settings) -> None:
    card = race_card()
    got, ms, partition = asyncio.run(card_roundtrip(settings, card))
    assert got == card
    assert 0 <= partition < settings.partitions
    assert ms > 0
