"""Read a topic from the beginning to its current end.

A fresh consumer group each time, so nothing depends on committed offsets.
The end of each partition is the high watermark of the first fetch response
for it: the embedded broker's ListOffsets answers (end_offsets and
offsets_for_times) are not reliable, but its fetch high watermark is.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import Contract, ContractError
from streams.clients import start_client
from streams.security import kafka_options
from velo.config import Settings

C = TypeVar("C", bound=Contract)


async def _assigned(consumer: AIOKafkaConsumer, settings: Settings, topic: str) -> list[TopicPartition]:
    """Start ``consumer`` and assign it every partition of ``topic``
    (LookupError, the consumer stopped, if there is no such topic)."""
    await start_client(consumer, settings.bootstrap_servers)
    try:
        parts = (await consumer.topics(), consumer.partitions_for_topic(topic))[1]
        if not parts:
            raise LookupError(f"topic {topic!r} does not exist on {settings.bootstrap_servers} (`velo topics list`)")
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
    except BaseException:
        await consumer.stop()
        raise
    return tps


async def read_topic(
    settings: Settings,
    topic: str,
    contract: type[C],
    timeout_s: float = 120.0,
    on_error: Callable[[int, int, ContractError], None] | None = None,
) -> list[C]:
    """Every valid message now in ``topic``, in partition-then-offset order.
    Invalid ones are passed to ``on_error`` (partition, offset, error) and skipped."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=f"velo-read-{uuid.uuid4().hex}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=max(settings.consumer_fetch_max_wait_ms, 50),
        max_partition_fetch_bytes=8 * 1024 * 1024,
        **kafka_options(settings),
    )
    out: list[C] = []
    tps = await _assigned(consumer, settings, topic)
    try:
        await consumer.seek_to_beginning(*tps)
        end: dict[TopicPartition, int] = {}
        todo = set(tps)
        deadline = time.monotonic() + timeout_s
        while todo:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} did not reach its end within {timeout_s:.0f}s")
            batch = await consumer.getmany(*todo, timeout_ms=200, max_records=20_000)
            for tp in todo:
                if tp not in end and consumer.highwater(tp) is not None:
                    end[tp] = consumer.highwater(tp)
            for tp, records in batch.items():
                for rec in records:
                    if rec.offset >= end[tp]:
                        break
                    try:
                        out.append(contract.decode(rec.value))
                    except ContractError as exc:
                        if on_error:
                            on_error(tp.partition, rec.offset, exc)
            for tp in list(todo):
                if tp in end and await consumer.position(tp) >= end[tp]:
                    todo.discard(tp)
    finally:
        await consumer.stop()
    return out


async def follow_topic(
    settings: Settings, topic: str, from_beginning: bool = False
) -> AsyncIterator[tuple[int, int, bytes | None, bytes]]:
    """Every message of ``topic`` as it arrives: (partition, offset, key,
    value), from the start or from now; no consumer group, so nothing is
    committed and no worker's group is disturbed. Runs until cancelled."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        fetch_max_wait_ms=max(settings.consumer_fetch_max_wait_ms, 50),
        max_partition_fetch_bytes=8 * 1024 * 1024,
        **kafka_options(settings),
    )
    tps = await _assigned(consumer, settings, topic)
    try:
        await (consumer.seek_to_beginning(*tps) if from_beginning else consumer.seek_to_end(*tps))
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=1000)
            for tp in sorted(batch, key=lambda t: t.partition):
                for rec in batch[tp]:
                    yield tp.partition, rec.offset, rec.key, rec.value
    finally:
        await consumer.stop()
