"""The transport floor: a bare aiokafka echo, no work.

Consumes one topic in a consumer group and produces each message's bytes, with
its key, to another, with the worker's fetch wait and acks. ``bench/stream.py``
drives it exactly as it drives the worker, on the same broker in the same run,
so the worker's latency and throughput can be given as ratios to it.

With ``--marked``, only the records that carry the ``velo-echo`` header are
returned (``bench/afternoon.py`` marks the completing update of each market
moment with a jump in it, what a re-prediction answers); every record is
still read.

Usage: python bench/echo.py BOOTSTRAP IN_TOPIC OUT_TOPIC FETCH_WAIT_MS [--marked]
"""

from __future__ import annotations

import asyncio
import sys
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


async def wait_assigned(consumer: AIOKafkaConsumer) -> None:
    """Until the group has assigned partitions and each has a position, so a
    message sent after this returns is read (``auto_offset_reset="latest"``)."""
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=50)
    for tp in consumer.assignment():
        await consumer.position(tp)


async def start_ready(consumer: AIOKafkaConsumer, producer: AIOKafkaProducer) -> None:
    """Start both, wait for the assignment, then say "ready" (what
    ``bench/stream.py`` waits for before it drives an echo)."""
    await consumer.start()
    await producer.start()
    await wait_assigned(consumer)
    print("ready", flush=True)


#: the header that marks a record for ``--marked``
ECHO_HEADER = "velo-echo"


async def echo(bootstrap: str, source: str, target: str, fetch_wait_ms: int, marked: bool = False) -> None:
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id=f"echo-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="latest", fetch_max_wait_ms=fetch_wait_ms)  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks="all")
    await start_ready(consumer, producer)
    try:
        while True:
            for recs in (await consumer.getmany(timeout_ms=100)).values():
                # like the worker: wait for the broker's acknowledgement before the next fetch
                futures = [await producer.send(target, r.value, key=r.key) for r in recs
                           if not marked or any(k == ECHO_HEADER for k, _ in r.headers or ())]  # fmt: skip
                await asyncio.gather(*futures)
    finally:
        await producer.stop()
        await consumer.stop()


if __name__ == "__main__":
    bootstrap, source, target, wait = sys.argv[1:5]
    asyncio.run(echo(bootstrap, source, target, int(wait), marked="--marked" in sys.argv[5:]))
