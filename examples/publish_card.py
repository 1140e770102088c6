"""Publish one race card to the race-cards topic with plain aiokafka.

A card is JSON in the RaceCard contract (schemas/json/race_card.v1.json),
keyed by race_id so a race's card, market updates and result meet on one
partition. Run a stack (`velo up`) and a worker (`velo worker`) first. On
a secured cluster, set the VELO_KAFKA_* variables (README, Production).

    python examples/publish_card.py [--bootstrap 127.0.0.1:9092]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from streams.security import kafka_options
from velo.config import Settings

CARD = {
    "schema_version": 1,
    "race": {"race_id": "EX-R1", "off_time": None, "course": "Sha Tin", "distance_m": 1200, "going": "GOOD",
             "race_class": "Class 3", "surface": "turf", "race_type": "flat", "prize": 1_500_000},
    "runners": [
        {"runner_id": "h1", "name": "Fast Lane", "draw": 2, "weight_carried": 57.0, "rating": 80,
         "jockey_id": "j1", "trainer_id": "t1", "price": 2.8},
        {"runner_id": "h2", "name": "Slow Burn", "draw": 5, "weight_carried": 55.5, "rating": 76,
         "jockey_id": "j2", "trainer_id": "t2", "price": 4.5},
        {"runner_id": "h3", "name": "Late Show", "draw": 8, "weight_carried": 54.0, "rating": 72,
         "jockey_id": "j3", "trainer_id": "t1", "price": 7.0},
    ],
}  # fmt: skip


async def main(bootstrap: str, topic: str) -> None:
    card = {**CARD, "race": {**CARD["race"], "off_time": (datetime.now(UTC) + timedelta(minutes=10)).isoformat()}}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **kafka_options(Settings()))
    try:
        await producer.start()
    except KafkaConnectionError:
        await producer.stop()
        sys.exit(f"cannot reach a Kafka broker at {bootstrap}: start one with `velo up`, or pass --bootstrap")
    try:
        meta = await producer.send_and_wait(topic, json.dumps(card).encode(), key=card["race"]["race_id"].encode())
        print(f"sent {card['race']['race_id']} to {topic}[{meta.partition}] at offset {meta.offset}")
    finally:
        await producer.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("--topic", default="race-cards")
    args = ap.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # one line of our own instead of one per retry
    asyncio.run(main(args.bootstrap, args.topic))
