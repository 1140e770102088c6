"""Print predictions from the predictions topic with plain aiokafka.

Each message is JSON in the Prediction contract
(schemas/json/prediction.v1.json). Delivery is at-least-once: a redelivered
card yields the same request_id, so de-duplicate on it. On a secured
cluster, set the VELO_KAFKA_* variables (README, Production).

    python examples/consume_predictions.py [--bootstrap 127.0.0.1:9092] [--from-beginning]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import uuid

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError

from streams.security import kafka_options
from velo.config import Settings


async def main(bootstrap: str, topic: str, from_beginning: bool, limit: int | None) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"example-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest" if from_beginning else "latest",
        fetch_max_wait_ms=50,
        **kafka_options(Settings()),  # VELO_KAFKA_* security, if the cluster wants it
    )  # a short wait: the embedded broker does not answer early
    try:
        await consumer.start()
    except KafkaConnectionError:
        await consumer.stop()
        sys.exit(f"cannot reach a Kafka broker at {bootstrap}: start one with `velo up`, or pass --bootstrap")
    seen: set[str] = set()
    try:
        async for msg in consumer:
            pred = json.loads(msg.value)
            if pred["request_id"] in seen:
                continue
            seen.add(pred["request_id"])
            best = max(pred["runners"], key=lambda r: r["final_prob"])
            backs = [r["runner_id"] for r in pred["runners"] if r["recommendation"]["side"] == "back"]
            print(
                f"{pred['race_id']}: {pred['model_name']} v{pred['model_version']}, top {best['runner_id']} "
                f"p={best['final_prob']:.3f}, back {backs or 'none'}"
            )
            if limit and len(seen) >= limit:
                break
    finally:
        await consumer.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("--topic", default="predictions")
    ap.add_argument("--from-beginning", action="store_true")
    ap.add_argument("--limit", type=int, help="stop after this many predictions")
    args = ap.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # one line of our own instead of one per retry
    asyncio.run(main(args.bootstrap, args.topic, args.from_beginning, args.limit))
