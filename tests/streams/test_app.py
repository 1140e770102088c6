"""The worker's adapter logic without a running broker: publishing waits out
failures and never drops, a refused prediction becomes a dead letter, and
health says what is going on meanwhile."""

from __future__ import annotations

import asyncio

import pytest
import redis
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from schemas import DeadLetter
from streams.app import Outgoing, Worker
from velo.config import Settings
from velo.serving.inbound import Inbound, Rejected


class FakeTopic:
    """Fails the first ``fail`` sends with ``error``, then delivers."""

    def __init__(self, name: str, fail: int = 0, error: Exception | None = None) -> None:
        self.name, self.fail, self.error = name, fail, error
        self.calls = 0
        self.delivered: list[bytes] = []

    def get_topic_name(self) -> str:
        return self.name

    async def send(self, key: bytes | None, value: bytes) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self.calls += 1
        if self.calls <= self.fail:
            fut.set_exception(self.error or KafkaTimeoutError())
        else:
            self.delivered.append(value)
            fut.set_result(("md", value))
        return fut


@pytest.fixture()
def worker(tmp_path) -> Worker:
    settings = Settings(registry_dir=tmp_path / "reg", log_dir=tmp_path / "logs", redis_url="redis://127.0.0.1:1/0")
    return Worker(settings, web_port=1)


def test_publish_waits_out_a_broker_outage_and_health_says_so(worker: Worker) -> None:
    topic = FakeTopic("predictions", fail=3)
    seen: list[list[str]] = []

    async def run() -> None:
        task = asyncio.create_task(worker.publish([Outgoing(topic, b"k", b"v")]))
        while not task.done():
            seen.append(worker.health.problems())
            await asyncio.sleep(0.05)
        await task

    asyncio.run(run())
    assert topic.delivered == [b"v"] and topic.calls == 4
    assert any(any(r.startswith("waiting for publishing") and "KafkaTimeoutError" in r for r in p) for p in seen)
    assert worker.health.problems() == [], "recovered once delivered"


def test_a_prediction_the_broker_refuses_for_good_becomes_a_dead_letter(worker: Worker) -> None:
    refused = FakeTopic("predictions", fail=99, error=MessageSizeTooLargeError())
    worker.dead = FakeTopic("dead-letter")
    source = Inbound(b"card bytes", b"r1", "race-cards", 2, 41)
    asyncio.run(worker.publish([Outgoing(refused, b"r1", b"prediction", Rejected(source, "refused"))]))
    assert refused.delivered == []
    (raw,) = worker.dead.delivered
    dl = DeadLetter.decode(raw)
    assert (dl.source_topic, dl.source_partition, dl.source_offset, dl.original) == ("race-cards", 2, 41, b"card bytes")
    assert "refused" in dl.error and "MessageSizeTooLargeError" in dl.error


def test_a_redis_outage_is_waited_out_not_dead_lettered(worker: Worker) -> None:
    calls = []

    def work() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise redis.exceptions.ConnectionError("Connection refused")
        return "done"

    assert asyncio.run(worker.until_done(work)) == "done"
    assert len(calls) == 3
    assert worker.health.outages == {}


def test_a_non_transient_failure_is_not_retried(worker: Worker) -> None:
    def work() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        asyncio.run(worker.until_done(work))


def test_health_reports_crashes_stalls_and_refused_swaps(worker: Worker) -> None:
    h = worker.health
    assert h.problems() == []
    h.crashed("race_cards", "KeyError: 'x'")
    h.commit_stalled("TP(topic='race-cards', partition=3)", "last commit 7.53 minutes ago")
    problems = h.problems(swap_error="sha256 mismatch for sqpe.skops")
    assert problems[0] == "agent race_cards crashed: KeyError: 'x'"
    assert "commits stalled on TP(topic='race-cards', partition=3)" in problems[1]
    assert problems[2] == "model swap failed: sha256 mismatch for sqpe.skops"


def test_a_dead_letter_the_broker_refuses_is_rebuilt_smaller_from_the_message(worker: Worker) -> None:
    worker.dead = FakeTopic("dead-letter", fail=1, error=MessageSizeTooLargeError())
    source = Inbound(b"x" * 500_000, b"r1", "race-cards", 0, 7, headers=(("trace", b"abc"),))
    asyncio.run(worker.publish([worker.dead_letter(Rejected(source, "invalid RaceCard: ..."))]))
    (raw,) = worker.dead.delivered
    dl = DeadLetter.decode(raw)
    assert len(raw) <= 16_384 and dl.truncated
    assert dl.original_size == 500_000 and dl.key == b"r1" and dl.source_offset == 7
    assert dl.original == b"x" * len(dl.original)


def test_health_reports_messages_held_past_the_stall_limit() -> None:
    from velo.serving.health import WorkerHealth

    now = [100.0]
    h = WorkerHealth(stall_after_s=60, clock=lambda: now[0])
    h.holding(1, "3 message(s) from race-cards[2]@40")
    now[0] += 59
    assert h.problems() == []
    now[0] += 2
    assert h.problems() == ["commits stalled: 3 message(s) from race-cards[2]@40 held unsettled for 61 s"]
    h.released(1)
    assert h.problems() == []
