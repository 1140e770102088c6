"""The worker's own work on the bare transport: its service on an aiokafka batch consumer, no Faust.

Consumes race cards in a consumer group with ``getmany`` (whole fetched
batches, up to ``VELO_CARD_BATCH_MAX``), scores each batch with the worker's
:class:`velo.serving.service.WorkerService` on the event loop (same Redis,
same registry, champion and shadow challenger, log written), produces the
predictions, waits for the broker's acknowledgements, then commits. No
dead-letter handling, no outage waiting, no rebalance care: an instrument,
not a worker.

``bench/stream.py`` drives it like the worker and the echo, in the same run.
It measures the service's work alone: what the worker's own machinery (its
service thread, dead letters, outage handling, health, commit rules) adds is
the difference between the worker and this instrument.

Usage: python bench/service_echo.py IN_TOPIC OUT_TOPIC  (settings from VELO_* variables)
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.echo import start_ready
from streams.app import settle_heap
from streams.inputs import inbound
from velo.config import Settings
from velo.features.redis_store import RedisStore
from velo.logs.prediction_log import PredictionLogSink
from velo.registry import Registry
from velo.registry.subscriber import ModelHolder
from velo.serving.service import WorkerService


async def run(source: str, target: str) -> None:
    s = Settings()
    holder = ModelHolder(Registry(s.registry_dir), "velo")
    holder.catch_up()
    service = WorkerService(RedisStore(redis.Redis.from_url(s.redis_url, socket_timeout=5.0)), holder, "velo",
                            policy=s.repredict_policy)  # fmt: skip
    sink = PredictionLogSink(s.log_dir)
    settle_heap()
    consumer = AIOKafkaConsumer(source, bootstrap_servers=s.bootstrap_servers, group_id=f"svc-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="latest", fetch_max_wait_ms=s.consumer_fetch_max_wait_ms,
                                enable_auto_commit=False)  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=s.bootstrap_servers, linger_ms=0, acks="all")
    await start_ready(consumer, producer)
    try:
        while True:
            fetched = await consumer.getmany(timeout_ms=100, max_records=s.card_batch_max)
            batch = [inbound(r) for records in fetched.values() for r in records]
            if not batch:
                continue
            scored = service.score_cards(batch)
            sent = [await producer.send(target, wire, key=p.race_id.encode())
                    for p, wire in zip(scored.predictions, scored.encoded, strict=True)]  # fmt: skip
            await asyncio.gather(*sent)
            sink.write_batch(service.shadow_and_log(scored))
            await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1], sys.argv[2]))
