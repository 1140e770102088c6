"""Publish a dataset's events into the input topics, in event-time order.

The worker's agents read cards, market updates and results from three
topics, and nothing orders one topic against another. Live, hours separate a
race's result from the next day's cards; a replay at full speed has no such
gap. So a replay goes in segments, and before each one it waits until the
worker group has committed everything published so far (its offsets are
committed only after processing). That makes a card see exactly what it
would have seen live: every result before its cutoff (the start of its UTC
day) and its race's market updates.

A card must not race its race's market updates across topics either: the
updates before it must be in when it is scored, and the ones after it must
find it (they make the race's later predictions: market moves, checkpoints,
the final one). And a result is applied only once its card is in (its runs
take the jockey, trainer and weights from the card), so a day's cards and
results must both be in before the next day's cards.

So there is one barrier a race day. The segment after it holds the day's
cards and results, the updates of the previous day's races that come after
their card, and those of the next day's races that come before theirs. A
market update touches only its own race, and its re-prediction clock is the
race's own event time, so moving the next day's early updates forward, or
the previous day's late ones back, changes nothing a race sees. (Before,
the market updates had a barrier of their own, two a day.)

The embedded broker has no idempotent producer and no transactions, so the
producer uses plain ``acks=all``; the barrier never uses offsets_for_times.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas import RaceCard, RaceResult
from streams.clients import start_client
from streams.security import kafka_options
from velo.config import Settings
from velo.data.events import Event
from velo.features.records import cutoff_ts


@dataclass
class ReplaySummary:
    events: int = 0
    cards: int = 0
    market_updates: int = 0
    results: int = 0
    days: int = 0
    seconds: float = 0.0
    #: each barrier's wait for the worker, in order (seconds)
    barrier_waits: list[float] = field(default_factory=list)
    by_topic: dict[str, int] = field(default_factory=dict)

    @property
    def waiting_seconds(self) -> float:
        """Time spent waiting for the worker at day barriers."""
        return sum(self.barrier_waits)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        return {
            "events": self.events,
            "cards": self.cards,
            "market_updates": self.market_updates,
            "results": self.results,
            "days": self.days,
            "seconds": round(self.seconds, 3),
            "waiting_seconds": round(self.waiting_seconds, 3),
            "events_per_s": round(self.events_per_s, 1),
        }


def day_segments(events: Sequence[Event]) -> list[list[Event]]:
    """Events cut into barrier segments, one a race day (see the module doc).

    Segment ``k`` (counting from 1) holds the ``k``-th race day's cards and
    results, the market updates of the previous day's races that come after
    their card, and those of the next day's races that come before theirs.
    Market updates for a race with no card go with the first race day from
    their own. Within a segment events keep their event-time order.
    """
    race_day: dict[str, float] = {}
    card_time: dict[str, datetime] = {}
    for ev in events:
        if isinstance(ev.message, RaceCard | RaceResult):
            race_day.setdefault(
                ev.key,
                cutoff_ts(
                    ev.message.off_time.timestamp()
                    if isinstance(ev.message, RaceResult)
                    else ev.message.race.off_time.timestamp()
                ),
            )
        if ev.kind == "card":
            card_time.setdefault(ev.key, ev.time)
    days = sorted(set(race_day.values()))
    index = {d: i for i, d in enumerate(days)}
    # segment i + 1: day i's cards and results; i: its early updates; i + 2: its late ones
    segments: list[list[Event]] = [[] for _ in range(len(days) + 3)]
    for ev in sorted(events):
        day = race_day.get(ev.key)
        if day is None:  # a market update for a race with no card: nothing reads it in order
            day = cutoff_ts(ev.time.timestamp())
            i = next((k for k, d in enumerate(days) if d >= day), len(days))
        else:
            i = index[day]
        if ev.kind != "market":
            segments[i + 1].append(ev)
        elif ev.key in card_time and ev.time > card_time[ev.key]:
            segments[i + 2].append(ev)
        else:
            segments[i].append(ev)
    return [s for s in segments if s]


class GroupOffsets:
    """Reads a consumer group's committed offsets without joining the group.

    A consumer that carries the group id but never subscribes only asks the
    coordinator (OffsetFetch); the admin client's request version is one the
    embedded broker does not answer in a form aiokafka can read.
    """

    def __init__(self, settings: Settings, group: str) -> None:
        self.group = group
        self.servers = settings.bootstrap_servers
        self.security = kafka_options(settings)
        self.consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        # made here, not in __init__: aiokafka warns about a client never started
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.servers, group_id=self.group, enable_auto_commit=False, **self.security
        )
        await start_client(self.consumer, self.servers)

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()

    async def committed(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The next offset the group will read, per partition (0 if none).

        One OffsetFetch for all the partitions: ``AIOKafkaConsumer.committed``
        asks for one partition a request, and a barrier polls every few
        milliseconds, so with 12 partitions the broker (on the worker's
        cores, in a replay here) answered 1,200 requests a second."""
        assert self.consumer is not None, "GroupOffsets.start() first"
        got = await self.consumer._coordinator.fetch_committed_offsets(list(tps))
        return {tp: max(got[tp].offset, 0) if tp in got else 0 for tp in tps}

    async def wait_for(self, targets: dict[TopicPartition, int], timeout_s: float, poll_s: float = 0.01) -> None:
        """Until the group has committed at least ``targets`` (offset of the
        last message sent + 1), or TimeoutError naming the partitions behind."""
        deadline = time.monotonic() + timeout_s
        pending = dict(targets)
        while True:
            done = await self.committed(list(pending))
            pending = {tp: want for tp, want in pending.items() if done[tp] < want}
            if not pending:
                return
            if time.monotonic() > deadline:
                lag = ", ".join(f"{tp.topic}[{tp.partition}] at {done[tp]}/{want}" for tp, want in pending.items())
                raise TimeoutError(
                    f"worker group {self.group!r} did not consume the replay within {timeout_s:.0f}s ({lag}); "
                    "is a worker running against this broker?"
                )
            await asyncio.sleep(poll_s)


async def replay(
    events: Sequence[Event],
    settings: Settings,
    speed: float | None = None,
    group: str | None = None,
    timeout_s: float = 120.0,
    on_progress: Callable[[int], None] | None = None,
) -> ReplaySummary:
    """Publish ``events``; see the module doc for the order.

    ``speed``: None sends as fast as the barriers allow; a factor (3600 = an
    hour a second) paces events by their event time. ``group``: the worker's
    consumer group to wait for at each day barrier (None: no barriers, for
    feeding a topic with no worker behind it).
    """
    topic = {
        "card": settings.topic_race_cards,
        "market": settings.topic_market_updates,
        "result": settings.topic_race_results,
    }
    summary = ReplaySummary()
    kinds = {"card": "cards", "market": "market_updates", "result": "results"}
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
        **kafka_options(settings),
    )
    offsets = GroupOffsets(settings, group) if group else None
    await start_client(producer, settings.bootstrap_servers)
    if offsets:
        try:
            await offsets.start()
        except BaseException:
            await producer.stop()
            raise
    sent_to: dict[TopicPartition, int] = defaultdict(lambda: -1)
    segments = day_segments(events)
    t0 = time.perf_counter()
    first: datetime | None = segments[0][0].time if segments and segments[0] else None
    try:
        for seg in segments:
            futures = []
            for ev in seg:
                if speed and first is not None:
                    due = t0 + (ev.time - first).total_seconds() / speed
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                futures.append(await producer.send(topic[ev.kind], ev.message.encode(), key=ev.key.encode()))
                setattr(summary, kinds[ev.kind], getattr(summary, kinds[ev.kind]) + 1)
            for meta in await asyncio.gather(*futures):
                tp = TopicPartition(meta.topic, meta.partition)
                sent_to[tp] = max(sent_to[tp], meta.offset)
            summary.events += len(seg)
            summary.days += any(ev.kind == "card" for ev in seg)  # one race day a segment
            if offsets:
                w0 = time.perf_counter()
                await offsets.wait_for({tp: off + 1 for tp, off in sent_to.items()}, timeout_s)
                summary.barrier_waits.append(time.perf_counter() - w0)
            if on_progress:
                on_progress(len(seg))
    finally:
        summary.seconds = time.perf_counter() - t0
        await producer.stop()
        if offsets:
            await offsets.stop()
    summary.by_topic = {topic[k]: getattr(summary, v) for k, v in kinds.items()}
    return summary
