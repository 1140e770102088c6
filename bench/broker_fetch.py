"""How fast the embedded broker serves a fetch, by record-batch size and position in the log.

A limit of the embedded broker (Tansu, memory storage) found in session 13:
reading a log written one record per batch is slow (a few hundred records a
second). ``bench/afternoon.py``'s spread pattern
writes one record per batch (2,100 updates/s spread over every race, so
nothing shares a batch), and the worker then waits on the broker: in the
stalled runs the worker's threads were idle in ``select`` while the broker
used 94% of a core.

For each batch size, this writes ``--records`` records of 200 bytes to one
partition, ``size`` records per produce request, each request awaited (so
each is one record batch). Then a plain aiokafka consumer (5 ms fetch wait,
the worker's) reads ``--read`` records from the start, the middle and near
the end, and the reading rate is reported. Apache Kafka cannot run here (no
Docker engine), so the comparison with it is not measured.

Usage: python bench/broker_fetch.py [--records 6000] [--read 1000] [--sizes 1 5 20]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.common import machine, update_section, write_result
from streams.admin import ensure_topics
from streams.embedded import start_embedded_stack

#: a read that has not finished by then is reported as what it got
READ_TIMEOUT_S = 60.0


async def write(bootstrap: str, topic: str, records: int, size: int) -> float:
    """Write ``records`` records, ``size`` to a produce request; seconds taken."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    t0 = time.perf_counter()
    try:
        for _ in range(0, records, size):
            sent = [await producer.send(topic, b"x" * 200, key=b"k", partition=0) for _ in range(size)]
            await asyncio.gather(*sent)  # acknowledged before the next: one record batch each
    finally:
        await producer.stop()
    return time.perf_counter() - t0


async def read(bootstrap: str, topic: str, start: int, n: int) -> dict:
    """Read ``n`` records from offset ``start`` the way the worker fetches."""
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=5)
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, start)
        got, t0 = 0, time.perf_counter()
        while got < n and time.perf_counter() - t0 < READ_TIMEOUT_S:
            got += sum(len(r) for r in (await consumer.getmany(tp, timeout_ms=1000)).values())
        seconds = time.perf_counter() - t0
    finally:
        await consumer.stop()
    return {"from_offset": start, "records": got, "seconds": round(seconds, 3),
            "records_per_s": round(got / seconds, 1) if seconds else None}  # fmt: skip


async def one_size(settings, size: int, records: int, n_read: int) -> dict:
    topic = f"fetch-{size}-{uuid.uuid4().hex[:6]}"
    await ensure_topics(settings.model_copy(update={"topic_market_updates": topic}))
    wrote = await write(settings.bootstrap_servers, topic, records, size)
    starts = (0, records // 2, max(0, records - n_read))
    reads = [await read(settings.bootstrap_servers, topic, s, n_read) for s in starts]
    return {"batch_records": size, "records": records, "batches": records // size,
            "write_seconds": round(wrote, 2), "reads": reads}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=6000)
    ap.add_argument("--read", type=int, default=1000)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 5, 20])
    args = ap.parse_args()
    stack = start_embedded_stack(None, 0, 0)
    try:
        settings = stack.settings()
        runs = []
        for size in args.sizes:
            runs.append(asyncio.run(one_size(settings, size, args.records, args.read)))
            print(runs[-1], flush=True)
    finally:
        stack.stop()
    result = {"runs": runs, "machine": machine()}
    write_result("broker_fetch", result)
    m = result["machine"]
    rows = "\n".join(
        f"| {r['batch_records']} | {r['batches']:,} | "
        + " | ".join(f"{x['records_per_s']:,} ({x['records']:,} in {x['seconds']} s)" for x in r["reads"])
        + " |"
        for r in runs
    )
    update_section(
        "broker_fetch",
        f"""## The embedded broker's fetch, by record-batch size (`bench/broker_fetch.py`)

Command: `.venv/bin/python bench/broker_fetch.py --records {args.records} --read {args.read}` · embedded Tansu, one
partition, 200-byte records, each produce request awaited (one record batch each), read by a plain aiokafka
consumer with the worker's 5 ms fetch wait · {m["cpu"]}, {m["cores"]} cores · commit {m["commit"]}

Records read per second, starting at the log's start, its middle and {args.read:,} records before its end:

| records a batch | batches in the log | from the start | from the middle | near the end |
|---|---|---|---|---|
{rows}

A log of one-record batches is read at a few hundred records a second; from five records a batch up, at tens
of thousands. Anything that writes one record per batch at a high rate builds a log this broker serves that
slowly: the afternoon's spread pattern (2,100 updates/s over every race, so no two share a batch), or a
producer with no linger. In the afternoon runs that fell behind, the worker's threads were idle in `select`
while the broker used 94% of a core. Whether Apache Kafka slows the same way is not measured here (no
Docker engine).
""",
    )


if __name__ == "__main__":
    main()
