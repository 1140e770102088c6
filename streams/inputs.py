"""The worker's input topics, read as whole fetched batches by one group consumer.

Faust hands an agent one message per event-loop turn, through its own
consumer thread: measured on this project's machine, that path alone cost the
worker more than the work (``bench/stream.py``: a Faust echo with no work
reached 36% of a bare aiokafka echo's throughput; the worker's service on a
bare aiokafka consumer reached 2.0-2.7x the echo's p50 where the Faust worker
was at 5-9x). So the three input topics are read here, by one
``AIOKafkaConsumer`` in the workers' group, with ``getmany``: every fetched
record of a topic goes to its handler in batches of up to that topic's limit,
market updates first, then cards, then results.

The guarantee is kept as the agents kept it. A handler makes the batch's
decisions and applies its state, and returns what must still finish
(publishing, the shadow, the log), which runs in the background, at most
``inflight`` batches at once. A partition's offset is committed only up to
its first batch that has not finished, every ``commit_interval_ms``, so
anything unfinished at a crash is redelivered, not lost. Before every commit
and after every assignment, the broker's committed offsets are compared with
the highest this process committed: one that went back means the broker lost
its log and offsets (the memory-only embedded broker does when it restarts),
and ``broker_lost`` ends the process before anything more is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from streams.clients import start_client
from velo.serving.faults import describe
from velo.serving.health import WorkerHealth
from velo.serving.inbound import Inbound

log = logging.getLogger("velo.inputs")

#: What a handler returns: the batch's unfinished part, or None if it is settled.
Handler = Callable[[list[Inbound]], Awaitable[Awaitable[None] | None]]


@dataclass
class Input:
    """One input topic: its handler and the largest batch it takes."""

    topic: str
    handle: Handler
    batch_max: int
    name: str


@dataclass
class _Partition:
    """A partition's progress: the next offset to read, and the first offset
    of each batch still held (by token)."""

    next_offset: int | None = None
    held: dict[int, int] = field(default_factory=dict)

    def committable(self) -> int | None:
        if self.held:
            return min(self.held.values())
        return self.next_offset


class _ConsumerConfig(TypedDict):
    """The consumer's keyword arguments (``AIOKafkaConsumer``'s names)."""

    bootstrap_servers: str
    group_id: str
    enable_auto_commit: bool
    auto_offset_reset: str
    fetch_max_wait_ms: int
    session_timeout_ms: int
    heartbeat_interval_ms: int
    max_poll_interval_ms: int


def inbound(rec: ConsumerRecord) -> Inbound:
    """The service's view of a consumed record."""
    return Inbound(
        value=rec.value,
        key=rec.key,
        topic=rec.topic,
        partition=rec.partition,
        offset=rec.offset,
        headers=tuple((str(k), bytes(v or b"")) for k, v in rec.headers or ()),
    )


class InputConsumer:
    """Reads the inputs, hands them to their handlers, commits what is settled."""

    def __init__(
        self,
        bootstrap_servers: str,
        group: str,
        inputs: Sequence[Input],
        health: WorkerHealth,
        broker_lost: Callable[[str], None],
        on_revoked: Callable[[], Awaitable[None]],
        fetch_max_wait_ms: int = 5,
        commit_interval_ms: float = 20,
        session_timeout_s: float = 10.0,
        inflight: int = 8,
        on_messages: Callable[[str, int], None] | None = None,
        security: dict[str, Any] | None = None,
    ) -> None:
        self.inputs = {i.topic: i for i in inputs}
        self.health = health
        self.broker_lost = broker_lost
        self.on_revoked = on_revoked
        self.on_messages = on_messages
        self.commit_interval_s = commit_interval_ms / 1000.0
        self._config = _ConsumerConfig(
            bootstrap_servers=bootstrap_servers,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=fetch_max_wait_ms,
            session_timeout_ms=int(session_timeout_s * 1000),
            heartbeat_interval_ms=int(max(0.5, session_timeout_s / 10) * 1000),
            # an outage is waited out inside a batch: do not leave the group meanwhile
            max_poll_interval_ms=1_000_000,
        )
        #: the cluster's security options (see streams.security)
        self._security = security or {}
        self.consumer: AIOKafkaConsumer | None = None  # built in run(), on the event loop
        self._partitions: dict[TopicPartition, _Partition] = {}
        self._held: dict[int, list[TopicPartition]] = {}  # a held batch's partitions, by token
        self._tokens = itertools.count()
        self._inflight = asyncio.Semaphore(inflight)
        self._background: set[asyncio.Task[None]] = set()
        self._handling = asyncio.Lock()  # held while a batch's decisions are made
        self._high: dict[TopicPartition, int] = {}  # the highest offset this process committed
        self._commit_lock = asyncio.Lock()
        #: moves on at every revocation: what was fetched before it is not dispatched
        self._generation = 0
        self.crashed = False

    def _started(self) -> AIOKafkaConsumer:
        if self.consumer is None:
            raise RuntimeError("the input consumer is not started")
        return self.consumer

    # -- the loop ----------------------------------------------------------
    async def run(self) -> None:
        """Consume until cancelled or a handler fails past its own handling
        (then the held batch stays uncommitted and ``/health`` says so)."""
        consumer = self.consumer = AIOKafkaConsumer(**self._config, **self._security)
        consumer.subscribe(list(self.inputs), listener=_Listener(self))
        await start_client(consumer, self._config["bootstrap_servers"])
        committer = asyncio.ensure_future(self._commit_every())
        try:
            while not self.crashed:
                fetched = await consumer.getmany(timeout_ms=500)
                generation = self._generation
                for topic, inp in self.inputs.items():
                    records = [r for tp, recs in fetched.items() if tp.topic == topic for r in recs]
                    if records:
                        await self._dispatch(inp, records, generation)
        finally:
            committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await committer
            # what is settled is committed before leaving (a stopped worker's
            # successor then starts after it, not a commit interval behind)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.commit(), 5.0)
            await consumer.stop()

    async def _dispatch(self, inp: Input, records: list[ConsumerRecord], generation: int) -> None:
        """A topic's fetched records, every partition's together, in batches
        (a handler's cost is mostly per batch: its round trips to Redis, its
        model pass); unless a rebalance came in between (then the partitions
        are read again from their committed offsets, by their owners)."""
        if self.on_messages is not None:
            self.on_messages(inp.topic, len(records))
        for start in range(0, len(records), inp.batch_max):
            if self.crashed or generation != self._generation:
                return
            chunk = records[start : start + inp.batch_max]
            token = next(self._tokens)
            firsts: dict[TopicPartition, int] = {}
            for r in chunk:
                tp = TopicPartition(r.topic, r.partition)
                firsts.setdefault(tp, r.offset)
                self._partitions.setdefault(tp, _Partition()).next_offset = r.offset + 1
            for tp, first in firsts.items():
                self._partitions[tp].held[token] = first
            self._held[token] = list(firsts)
            self.health.holding(
                token,
                f"{len(chunk)} message(s) from {inp.topic} "
                + ", ".join(f"[{tp.partition}]@{o}" for tp, o in firsts.items()),
            )
            try:
                async with self._handling:
                    rest = await inp.handle([inbound(r) for r in chunk])
            except Exception as exc:
                self.crashed = True
                self.health.crashed(inp.name, describe(exc))
                log.exception("%s: a batch failed past its own handling; it stays uncommitted", inp.name)
                return
            if rest is None:
                self._settle(token)
                continue
            await self._inflight.acquire()
            task = asyncio.ensure_future(self._finish(inp.name, rest, token))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _finish(self, name: str, rest: Awaitable[None], token: int) -> None:
        try:
            await rest
        except Exception as exc:
            log.exception("%s: finishing a batch failed; its messages stay uncommitted", name)
            self.health.crashed(name, describe(exc))
            return
        finally:
            self._inflight.release()
        self._settle(token)

    def _settle(self, token: int) -> None:
        for tp in self._held.pop(token, ()):
            part = self._partitions.get(tp)
            if part is not None:
                part.held.pop(token, None)
        self.health.released(token)

    # -- commits -----------------------------------------------------------
    async def _commit_every(self) -> None:
        """Commit what is settled, every interval. A failing commit (a
        rebalance, an outage) is tried again next round; one that keeps
        failing past the health's stall limit is reported there."""
        failing_since: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.commit_interval_s)
            try:
                await self.commit()
                failing_since = None
            except Exception as exc:
                log.debug("commit failed: %s", describe(exc))
                failing_since = failing_since or loop.time()
                if loop.time() - failing_since >= self.health.stall_after_s:
                    self.health.commit_stalled("the input topics", f"commits failing: {describe(exc)}")

    async def commit(self) -> None:
        """Commit every assigned partition up to its first unsettled batch."""
        async with self._commit_lock:
            consumer = self._started()
            assigned = consumer.assignment()
            offsets = {}
            for tp, part in self._partitions.items():
                at = part.committable()
                if tp in assigned and at is not None and at > self._high.get(tp, -1):
                    offsets[tp] = at
            if not offsets:
                return
            known = [tp for tp in offsets if tp in self._high]
            if known:
                theirs = await asyncio.wait_for(consumer._coordinator.fetch_committed_offsets(known), 10.0)
                if not self._check({tp: theirs.get(tp) for tp in known}):
                    return
            await consumer.commit({tp: OffsetAndMetadata(at, "") for tp, at in offsets.items()})
            for tp, at in offsets.items():
                self._high[tp] = at

    def _check(self, theirs: Mapping[TopicPartition, OffsetAndMetadata | int | None]) -> bool:
        """True if the broker still has every offset this process committed there."""
        for tp, off in theirs.items():
            value = getattr(off, "offset", off)
            value = -1 if value is None else value
            if tp in self._high and value < self._high[tp]:
                self.broker_lost(
                    f"the broker's committed offset for {tp.topic}[{tp.partition}] went back from {self._high[tp]} "
                    f"to {value}: the broker lost its log and offsets (restarted)"
                )
                return False
        return True

    # -- rebalancing -------------------------------------------------------
    async def revoked(self, revoked: set[TopicPartition]) -> None:
        """Finish what is held, commit it, and let the worker hand over its
        state; the next owner must not read older state than was committed."""
        self._generation += 1
        async with self._handling:
            while self._background:
                await asyncio.gather(*list(self._background), return_exceptions=True)
            try:
                await self.commit()
            except Exception as exc:
                log.warning("commit before handing over partitions failed: %s", describe(exc))
            await self.on_revoked()
        for tp in revoked:
            self._partitions.pop(tp, None)
        log.info("partitions revoked (%d)", len(revoked))

    async def assigned(self, assigned: set[TopicPartition]) -> None:
        mine = [tp for tp in assigned if tp in self._high]
        if mine:
            theirs = await self._started()._coordinator.fetch_committed_offsets(mine)
            self._check({tp: theirs.get(tp) for tp in mine})


class _Listener(ConsumerRebalanceListener):
    def __init__(self, owner: InputConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.owner.revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.owner.assigned(assigned)
