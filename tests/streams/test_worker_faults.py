"""Two workers in one group; one is SIGKILLed mid-stream. No card is lost, and
after de-duplication by request_id none is counted twice."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas import Prediction
from tests.streams.test_worker import _card, start_worker, stop_worker, wait_healthy, worker_settings


def test_sigkill_one_of_two_workers_loses_no_card(stack, model_dirs, tmp_path) -> None:
    settings, reg = worker_settings(stack, tmp_path, model_dirs)
    a = start_worker(settings, reg, tmp_path, "a")
    b = start_worker(settings, reg, tmp_path, "b")
    try:
        wait_healthy(a)
        wait_healthy(b)
        rids = [f"race-{uuid.uuid4().hex[:8]}" for _ in range(120)]

        async def run() -> tuple[list[Prediction], dict]:
            s = settings
            consumer = AIOKafkaConsumer(s.topic_predictions, bootstrap_servers=s.bootstrap_servers,
                                        group_id=uuid.uuid4().hex, auto_offset_reset="earliest")  # fmt: skip
            producer = AIOKafkaProducer(bootstrap_servers=s.bootstrap_servers, acks="all")
            await consumer.start()
            await producer.start()
            got: list[Prediction] = []
            served_before_kill = {}
            try:
                for i, rid in enumerate(rids):
                    await producer.send_and_wait(s.topic_race_cards, _card(rid).encode(), key=rid.encode())
                    await asyncio.sleep(0.05)
                    if i == 60:
                        served_before_kill = {"a": a.http("/metrics")[1], "b": b.http("/metrics")[1]}
                        b.proc.send_signal(signal.SIGKILL)
                deadline = asyncio.get_running_loop().time() + 120
                while asyncio.get_running_loop().time() < deadline:
                    for recs in (await consumer.getmany(timeout_ms=300)).values():
                        got += [Prediction.decode(r.value) for r in recs]
                    if {p.race_id for p in got} >= set(rids):
                        break
            finally:
                await producer.stop()
                await consumer.stop()
            return got, served_before_kill

        t0 = time.monotonic()
        preds, before = asyncio.run(run())
        elapsed = time.monotonic() - t0
        ours = [p for p in preds if p.race_id in set(rids)]
        assert {p.race_id for p in ours} == set(rids), f"missing {len(set(rids) - {p.race_id for p in ours})} cards"
        unique = {p.request_id: p for p in ours}
        assert len(unique) == len(rids), "after de-duplication by request_id each card counts once"
        assert len({p.race_id for p in unique.values()}) == len(rids)
        for name, body in before.items():
            line = next(
                x for x in body.decode().splitlines() if x.startswith('velo_messages_in_total{topic="race-cards')
            )
            assert float(line.split()[-1]) > 0, f"worker {name} had no partitions before the kill"
        print(f"{len(ours)} predictions ({len(ours) - len(unique)} redelivered duplicates) in {elapsed:.0f} s")
    finally:
        stop_worker(a)
        if b.proc.poll() is None:
            stop_worker(b)
