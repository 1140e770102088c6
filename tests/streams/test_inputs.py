"""InputConsumer's bookkeeping without a broker: what is held, what is
committed, and when the broker is taken to have lost its state."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from streams.inputs import Input, InputConsumer
from velo.serving.health import WorkerHealth

CARDS = "race-cards"


class FakeCoordinator:
    def __init__(self) -> None:
        self.theirs: dict[TopicPartition, int] = {}

    async def fetch_committed_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, Any]:
        return {tp: self.theirs.get(tp) for tp in tps}


class FakeConsumer:
    """Commits go to the coordinator's record, as a broker would keep them."""

    def __init__(self, tps: set[TopicPartition]) -> None:
        self.tps = tps
        self._coordinator = FakeCoordinator()
        self.commits: list[dict[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return self.tps

    async def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        done = {tp: o.offset for tp, o in offsets.items()}
        self.commits.append(done)
        self._coordinator.theirs.update(done)


def record(partition: int, offset: int) -> ConsumerRecord:
    return ConsumerRecord(CARDS, partition, offset, 0, 0, b"k", b"v", None, 1, 1, [])


class Harness:
    """A consumer whose handler hands back a future per batch, settled by the test."""

    def __init__(self, batch_max: int = 10) -> None:
        self.health = WorkerHealth(stall_after_s=60)
        self.lost: list[str] = []
        self.pending: list[asyncio.Future[None]] = []
        self.seen: list[list[int]] = []
        self.fail = False

        async def handle(messages: list[Any]) -> Any:
            if self.fail:
                raise RuntimeError("a defect of ours")
            self.seen.append([m.offset for m in messages])
            fut = asyncio.get_running_loop().create_future()
            self.pending.append(fut)
            return fut

        async def revoked() -> None:
            return None

        self.inputs = InputConsumer("127.0.0.1:1", "g", [Input(CARDS, handle, batch_max, "race_cards")], self.health,
                                    self.lost.append, revoked)  # fmt: skip
        self.tps = {TopicPartition(CARDS, p) for p in (0, 1)}
        self.consumer = FakeConsumer(self.tps)
        self.inputs.consumer = self.consumer  # type: ignore[assignment]

    async def settle(self, i: int) -> None:
        self.pending[i].set_result(None)
        for _ in range(3):
            await asyncio.sleep(0)


def test_a_partition_is_committed_only_up_to_its_first_unsettled_batch() -> None:
    async def run() -> None:
        h = Harness(batch_max=2)
        await h.inputs._dispatch(h.inputs.inputs[CARDS], [record(0, 10), record(0, 11), record(0, 12)], 0)
        assert h.seen == [[10, 11], [12]]
        tp = TopicPartition(CARDS, 0)
        await h.settle(1)  # the later batch finishes first
        await h.inputs.commit()
        assert h.consumer.commits == [{tp: 10}], "nothing past the unsettled batch at offset 10"
        await h.settle(0)
        await h.inputs.commit()
        assert h.consumer.commits[-1] == {tp: 13}
        assert h.health.problems() == []

    asyncio.run(run())


def test_a_batch_across_partitions_holds_each_of_them() -> None:
    async def run() -> None:
        h = Harness()
        await h.inputs._dispatch(h.inputs.inputs[CARDS], [record(0, 5), record(1, 7), record(1, 8)], 0)
        assert h.seen == [[5, 7, 8]], "one batch for the topic, whatever the partitions"
        await h.inputs.commit()
        first = {TopicPartition(CARDS, 0): 5, TopicPartition(CARDS, 1): 7}
        assert h.consumer.commits == [first]
        await h.settle(0)
        await h.inputs.commit()
        assert h.consumer.commits[-1] == {TopicPartition(CARDS, 0): 6, TopicPartition(CARDS, 1): 9}

    asyncio.run(run())


def test_a_handler_that_fails_leaves_its_batch_held_and_health_says_so() -> None:
    async def run() -> None:
        h = Harness()
        h.fail = True
        await h.inputs._dispatch(h.inputs.inputs[CARDS], [record(0, 3), record(0, 4)], 0)
        await h.inputs.commit()
        assert h.inputs.crashed
        assert h.consumer.commits[-1] == {TopicPartition(CARDS, 0): 3}
        assert any("crashed" in p and "a defect of ours" in p for p in h.health.problems())

    asyncio.run(run())


def test_a_committed_offset_that_went_back_means_the_broker_lost_its_state() -> None:
    async def run() -> None:
        h = Harness()
        await h.inputs._dispatch(h.inputs.inputs[CARDS], [record(0, 0), record(0, 1)], 0)
        await h.settle(0)
        await h.inputs.commit()
        tp = TopicPartition(CARDS, 0)
        assert h.consumer.commits == [{tp: 2}]
        h.consumer._coordinator.theirs = {}  # a restarted memory-only broker
        await h.inputs._dispatch(h.inputs.inputs[CARDS], [record(0, 2)], 0)
        await h.settle(1)
        await h.inputs.commit()
        assert len(h.consumer.commits) == 1, "nothing committed to a broker that lost its state"
        assert h.lost and "went back from 2" in h.lost[0]

    asyncio.run(run())


def test_records_fetched_before_a_revocation_are_not_handled() -> None:
    async def run() -> None:
        h = Harness(batch_max=1)
        await h.inputs.revoked({TopicPartition(CARDS, 1)})
        await h.inputs._dispatch(h.inputs.inputs[CARDS], [record(0, 1), record(0, 2)], 0)
        assert h.seen == [], "the generation moved on: the new owner reads them from the committed offset"

    asyncio.run(run())
