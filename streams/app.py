"""The worker: race cards and market updates in, predictions out.

Topology (names and partition counts from settings; inputs keyed by race_id
and co-partitioned):

- ``market-updates`` -> market state (per race, in Redis) -> feeds NDS and the
  market probability of the next prediction for that race.
- ``race-cards`` -> features (FeatureStore, Redis) -> champion -> ``predictions``;
  then the challenger in shadow (logged only, after the champion's send).
- ``race-results`` -> feature state (idempotent) and outcome rows in the log.
- ``registry-events`` -> every worker reads it directly (no consumer group, so
  each sees every event) and re-reads the registry index to swap models.
- anything undecodable, invalid or unscorable -> ``dead-letter`` with the
  reason, the source offset, key and headers; processing goes on.

The guarantee: every input message ends as exactly one of a prediction,
applied state or a dead letter, and its offset is committed only after that.
The decisions are made by :class:`velo.serving.service.WorkerService` (no
Kafka in it), on one thread of its own so that the event loop keeps fetching,
sending and acknowledging while it works. The handlers here are adapters:
:class:`streams.inputs.InputConsumer` hands them each fetched batch and holds
it uncommitted; they carry the decisions out (publish through
:mod:`streams.outputs`, dead-letter, write the log), wait out transient
outages with backoff, and only then let the batch settle. Faust runs the web
views, the timers and the registry follower. Delivery is at-least-once; a
redelivered card gets the same ``request_id``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import faust
import redis
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CorruptRecordException, InvalidTopicError, MessageSizeTooLargeError, RecordTooLargeError

from schemas import ContractError, DeadLetter, Prediction, PredictionLog, RaceCard, RegistryEvent
from streams import metrics
from streams.inputs import Input, InputConsumer
from streams.monitoring import WorkerMonitor
from streams.outputs import OutputTopic, Producer
from streams.security import describe_security, faust_credentials, kafka_options
from streams.web import Gate, install, probe
from velo.config import Settings, redacted
from velo.features.redis_store import RedisStore
from velo.logs.prediction_log import PredictionLogSink
from velo.registry import Registry
from velo.registry.subscriber import ModelHolder
from velo.serving.faults import NotReady, describe, is_transient
from velo.serving.health import WorkerHealth
from velo.serving.inbound import Inbound, Rejected
from velo.serving.service import Applied, Scored, WorkerService

log = logging.getLogger("velo.worker")
T = TypeVar("T")

#: A dead letter is built to fit under this (the producer's request limit is 1 MiB).
DEAD_LETTER_MAX_BYTES = 900_000
#: The smaller dead letter tried when even a fitting one is refused by the broker.
DEAD_LETTER_FALLBACK_BYTES = 16_384
#: Backoff while waiting out an outage.
BACKOFF_START_S, BACKOFF_MAX_S = 0.1, 2.0
#: Batches whose publishing, shadow and log may still be finishing while the
#: next batch is handled (back-pressure beyond that).
INFLIGHT_BATCHES = 8


def worker_group(model_name: str) -> str:
    """The Faust app id, which is also the workers' consumer group (``velo
    replay`` waits on its committed offsets)."""
    return f"velo-{model_name}"


def _dependency(exc: BaseException) -> str:
    """Which service a transient failure belongs to, for health and logs."""
    if isinstance(exc, NotReady):
        return "a champion"
    chain = [exc, exc.__cause__]
    if any(isinstance(e, redis.exceptions.RedisError) for e in chain if e is not None):
        return "redis"
    return "the broker"


def faust_app(settings: Settings, app_id: str, web_port: int) -> faust.App:
    """The Faust app a worker runs on: its web views, timers and tasks.

    Faust's own Kafka clients are off. The input topics are read by
    :class:`streams.inputs.InputConsumer`, which joins the workers' group
    (``app_id``) itself, and the outputs are written by
    :class:`streams.outputs.Producer`: Faust's per-message stream and its
    producer's buffering cost the worker more than its own work did (see
    BENCHMARKS.md, "Streaming worker, session 15")."""
    app = faust.App(
        app_id,
        broker=f"kafka://{settings.bootstrap_servers.split(',')[0]}",
        broker_credentials=faust_credentials(settings),
        store="memory://",
        web_port=web_port,
        web_bind=settings.web_host,
        web_enabled=True,
        # Faust's own pages (/router/, /table/, /graph/, stats) are off: the
        # worker serves only its own views (health, predict, metrics).
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
    )
    app.boot_strategy = faust.app.base.BootStrategy(app, enable_kafka=False)
    return app


class Backoff:
    """Waits between retries: 0.1 s, doubling, at most 2 s."""

    def __init__(self) -> None:
        self.delay = BACKOFF_START_S

    async def sleep(self) -> None:
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, BACKOFF_MAX_S)


@dataclass
class Outgoing:
    """One message to publish, and the dead letter to send instead if the
    broker refuses it for good (for a prediction)."""

    topic: Any
    key: bytes | None
    value: bytes
    instead: Rejected | None = None
    #: for a dead letter: the rejection it carries, to rebuild it smaller if refused
    letter_of: Rejected | None = None


#: What a broker answers about a message itself: sending it again cannot
#: help. Anything else (timeouts, connections, leaders) is waited out.
_REFUSED = (MessageSizeTooLargeError, RecordTooLargeError, CorruptRecordException, InvalidTopicError)


def _refused_for_good(exc: BaseException) -> bool:
    return isinstance(exc, _REFUSED) or isinstance(exc.__cause__, _REFUSED)


class Worker:
    """Everything a worker process holds, built from settings."""

    def __init__(self, settings: Settings, model_name: str = "velo", web_port: int = 6066) -> None:
        self.settings = settings
        self.model_name = model_name
        # timeouts, so a hung Redis is an outage to wait out rather than a hung worker
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=5.0, socket_connect_timeout=2.0)
        self.store = RedisStore(client)
        self.registry = Registry(settings.registry_dir)
        self.holder = ModelHolder(self.registry, model_name)
        self.sink = PredictionLogSink(settings.log_dir)
        self.monitor = WorkerMonitor(self.registry, model_name)  # drift and live quality -> /metrics
        self.health = WorkerHealth(settings.commit_stall_after_s)
        # The service's calls run here, one at a time and in order, so the
        # event loop stays free to fetch, send and acknowledge meanwhile.
        self._service_thread = ThreadPoolExecutor(1, thread_name_prefix="velo-service")
        self.service = WorkerService(
            self.store,
            self.holder,
            model_name,
            observer=self.monitor,
            policy=settings.repredict_policy,
            write_behind=settings.state_flush_ms > 0,
        )
        # market states held in memory: flushes started and finished; a batch
        # that left state there is acknowledged after the next one to start
        self._flush_started = self._flush_finished = self._flush_wanted = 0
        self._flushed = asyncio.Event()

        self._registry_consumer: AIOKafkaConsumer | None = None
        self.app = faust_app(settings, worker_group(model_name), web_port)
        t = settings
        self.producer = Producer(t.bootstrap_servers, kafka_options(t))
        self.predictions: Any = OutputTopic(t.topic_predictions, self.producer)
        self.prediction_log: Any = OutputTopic(t.topic_prediction_log, self.producer)
        self.dead: Any = OutputTopic(t.topic_dead_letter, self.producer)
        self._wire()

    # -- carrying out the service's decisions ----------------------------
    async def until_done(self, work: Callable[[], T]) -> T:
        """Run ``work`` until it succeeds, waiting out transient failures and
        the absence of a champion. Anything else is raised: the service has
        already turned every message's own fault into a rejection."""
        backoff = Backoff()
        waited: set[str] = set()
        loop = asyncio.get_running_loop()
        while True:
            try:
                result = await loop.run_in_executor(self._service_thread, work)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                what = _dependency(exc)
                waited.add(what)
                self.health.waiting(what, describe(exc))
                metrics.RETRIES.labels(what).inc()
                await backoff.sleep()
                continue
            for what in waited:
                self.health.recovered(what)
            return result

    def dead_letter(self, rejected: Rejected, max_bytes: int = DEAD_LETTER_MAX_BYTES) -> Outgoing:
        m = rejected.message
        dl = DeadLetter.build(
            value=m.value,
            key=m.key,
            headers=m.headers,
            source_topic=m.topic,
            source_partition=m.partition,
            source_offset=m.offset,
            error=rejected.reason,
            time=datetime.now(UTC),
            max_bytes=max_bytes,
        )
        log.warning("dead letter from %s[%s]@%s: %s", m.topic, m.partition, m.offset, rejected.reason[:200])
        metrics.DEAD_LETTERS.labels(m.topic).inc()
        smaller_possible = max_bytes > DEAD_LETTER_FALLBACK_BYTES
        return Outgoing(self.dead, m.key, dl.encode(), letter_of=rejected if smaller_possible else None)

    async def send(self, outgoing: Sequence[Outgoing]) -> list[Awaitable[Any] | BaseException]:
        """Hand messages to the producer, in order; each one's delivery to await
        (or the exception that stopped it there)."""
        futures: list[Awaitable[Any] | BaseException] = []
        for o in outgoing:
            try:
                futures.append(await o.topic.send(key=o.key, value=o.value))
            except Exception as exc:
                futures.append(exc)
        return futures

    async def publish(
        self, outgoing: Sequence[Outgoing], sent: list[Awaitable[Any] | BaseException] | None = None
    ) -> None:
        """Publish until the broker has acknowledged every message.

        ``sent`` is what :meth:`send` returned if the messages were handed to
        the producer already (the card path sends first, so the next batch
        need not wait for these acknowledgements). A failure is retried with
        backoff (duplicates are possible and de-duplicated downstream by
        request_id), except that a prediction the broker refuses for good (too
        large) becomes a dead letter, and such a dead letter is rebuilt
        smaller. Nothing is dropped.
        """
        pending = list(outgoing)
        futures = sent if sent is not None else await self.send(pending)
        backoff = Backoff()
        while pending:
            results = await asyncio.gather(*[_settled(f) for f in futures])
            failed: list[Outgoing] = []
            for o, res in zip(pending, results, strict=True):
                if not isinstance(res, BaseException):
                    metrics.MESSAGES_OUT.labels(o.topic.get_topic_name()).inc()
                    continue
                if not _refused_for_good(res):
                    failed.append(o)  # the broker or the network: wait it out
                elif o.instead is not None:  # the broker will not take this prediction
                    failed.append(self.dead_letter(Rejected(o.instead.message, f"{o.instead.reason}: {describe(res)}")))
                elif o.letter_of is not None:
                    failed.append(self.dead_letter(o.letter_of, DEAD_LETTER_FALLBACK_BYTES))
                else:
                    failed.append(o)  # nothing smaller to send: keep trying, and say so
                self.health.waiting("publishing", f"{o.topic.get_topic_name()}: {describe(res)}")
            pending = failed
            if pending:
                metrics.RETRIES.labels("publishing").inc()
                await backoff.sleep()
                futures = await self.send(pending)
        self.health.recovered("publishing")

    async def write_log(self, rows: list[PredictionLog]) -> None:
        """The JSONL sink always (a full or failing disk is waited out); the
        prediction-log topic when mirrored."""
        if not rows:
            return
        backoff = Backoff()
        while True:
            try:
                # on the event loop: a thread of its own for this was measured
                # slower (p50 17-38 ms against 13-16 ms), its encoding one more
                # contender for the GIL
                self.sink.write_batch(rows)
                break
            except OSError as exc:
                self.health.waiting("the prediction log", describe(exc))
                await backoff.sleep()
        self.health.recovered("the prediction log")
        if self.settings.mirror_prediction_log:
            await self.publish([Outgoing(self.prediction_log, r.race_id.encode(), r.encode()) for r in rows])

    # -- one batch of each input -----------------------------------------
    async def on_cards(self, messages: list[Inbound]) -> Awaitable[None]:
        """Score with the champion and hand the predictions to the producer;
        returns the rest (acknowledgements, shadow, log) to finish in the
        background, so the next batch is not kept waiting for it."""
        t0 = time.perf_counter()
        scored = await self.until_done(lambda: self.service.score_cards(messages))
        reason = "prediction refused by the broker"
        out = [
            Outgoing(self.predictions, p.race_id.encode(), wire, Rejected(m, reason))
            for m, p, wire in zip(scored.sources, scored.predictions, scored.encoded, strict=True)
        ]
        out += [self.dead_letter(r) for r in scored.rejected]
        sent = await self.send(out)
        if scored.predictions:
            metrics.LATENCY.labels("champion").observe(time.perf_counter() - t0)
        return self._finish_cards(scored, out, sent)

    async def _finish_cards(
        self, scored: Scored, out: list[Outgoing], sent: list[Awaitable[Any] | BaseException]
    ) -> None:
        await self.publish(out, sent)
        # the shadow challenger and the log come after the champion's predictions are out
        rows = await self.until_done(lambda: self.service.shadow_and_log(scored))
        await self.write_log(rows)

    async def on_market_updates(self, messages: list[Inbound]) -> Awaitable[None] | None:
        """Fold the updates in and hand the re-predictions they call for to
        the producer; the acknowledgements, dead letters, shadow and log
        finish in the background (the batch stays uncommitted until then)."""
        t0 = time.perf_counter()
        applied = await self.until_done(lambda: self.service.apply_market_updates(messages))
        flushed = self._flushed_after() if applied.unflushed else None
        if not applied.rejected and not applied.scored.predictions and not applied.emitted:
            return flushed
        out, sent = await self._send_emitted(applied, t0)
        return self._finish_market(applied, out, sent, flushed)

    def _flushed_after(self) -> Awaitable[None]:
        """Done once a flush that started after now has written the market
        states held in memory (the flush task runs every ``state_flush_ms``)."""
        want = self._flush_started + 1
        self._flush_wanted = max(self._flush_wanted, want)

        async def wait() -> None:
            while self._flush_finished < want:
                await self._flushed.wait()

        return wait()

    async def flush_states(self) -> None:
        """Write the held market states if a batch waits for it (transient
        failures are waited out; the batches stay unacknowledged meanwhile)."""
        if self._flush_wanted <= self._flush_finished:
            return
        self._flush_started += 1
        started = self._flush_started
        await self.until_done(self.service.flush)
        self._flush_finished = started
        done, self._flushed = self._flushed, asyncio.Event()
        done.set()

    async def on_tick(self) -> None:
        """The wall clock's checkpoints and quiet moments (``VELO_REPREDICT_CLOCK=wall``)."""
        t0 = time.perf_counter()
        settle = self.settings.repredict_settle_ms / 1000.0
        applied = await self.until_done(lambda: self.service.tick(time.time(), settle))
        if applied.scored.predictions or applied.emitted:
            out, sent = await self._send_emitted(applied, t0)
            await self._finish_market(applied, out, sent)

    async def _send_emitted(self, applied: Applied, t0: float) -> tuple[list[Outgoing], list[Any]]:
        s = applied.scored
        out = [
            Outgoing(self.predictions, p.race_id.encode(), wire)
            for p, wire in zip(s.predictions, s.encoded, strict=True)
        ]
        sent = await self.send(out)
        if out:
            metrics.LATENCY.labels("repredict").observe(time.perf_counter() - t0)
        return out, sent

    async def _finish_market(
        self, applied: Applied, out: list[Outgoing], sent: list[Any], flushed: Awaitable[None] | None = None
    ) -> None:
        await self.publish(out, sent)
        if applied.emitted:  # out: no longer pending
            await self.until_done(lambda: self.service.published(applied.emitted))
        await self.publish([self.dead_letter(r) for r in applied.rejected])
        if applied.scored.predictions:
            rows = await self.until_done(lambda: self.service.shadow_and_log(applied.scored))
            await self.write_log(rows)
        if flushed is not None:
            await flushed

    async def on_results(self, messages: list[Inbound]) -> Awaitable[None]:
        applied = await self.until_done(lambda: self.service.apply_results(messages))
        return self._finish_results(applied)

    async def _finish_results(self, applied: Applied) -> None:
        await self.publish([self.dead_letter(r) for r in applied.rejected])
        await self.write_log(applied.log_rows)

    async def forget_race_states(self) -> None:
        """Partitions are being handed over: another worker may own these
        races' state from now on, so what is held back is written first (an
        outage is waited out: the next owner must not read a state older than
        the batches committed here), on the service thread, after any batch
        it is folding."""
        await self.until_done(self.service.markets.forget)

    def refresh_models(self) -> bool:
        changed = self.holder.catch_up()
        if changed:
            settle_heap()
        for role, loaded in (("champion", self.holder.champion), ("challenger", self.holder.challenger)):
            metrics.MODEL_VERSION.labels(role).set(int(loaded.record.version) if loaded else 0)
        if changed:
            metrics.SWAPS.inc()
            log.info("models now: champion %s, challenger %s", _v(self.holder.champion), _v(self.holder.challenger))
        if self.holder.champion is None:
            log.error(
                "no champion loaded for %r: race cards wait (nothing is dead-lettered) until one is promoted",
                self.model_name,
            )
        return changed

    def _wire(self) -> None:
        app = self.app
        s = self.settings
        self.inputs = InputConsumer(
            s.bootstrap_servers,
            worker_group(self.model_name),
            [
                Input(s.topic_market_updates, self.on_market_updates, s.state_batch_max, "market_updates"),
                Input(s.topic_race_cards, self.on_cards, s.card_batch_max, "race_cards"),
                Input(s.topic_race_results, self.on_results, s.state_batch_max, "race_results"),
            ],
            self.health,
            _exit_broker_lost,
            self.forget_race_states,
            fetch_max_wait_ms=s.consumer_fetch_max_wait_ms,
            commit_interval_ms=s.commit_interval_ms,
            session_timeout_s=s.consumer_session_timeout_s,
            inflight=INFLIGHT_BATCHES,
            on_messages=lambda topic, n: metrics.MESSAGES_IN.labels(topic).inc(n),
            security=kafka_options(s),
        )

        @app.task
        async def consume_inputs() -> None:
            # what may be printed of the connections: never a password
            log.info("kafka %s (%s), redis %s", s.bootstrap_servers, describe_security(s), redacted(s.redis_url))
            await self.producer.start()
            try:
                await self.inputs.run()
            finally:
                await self.producer.stop()

        if s.state_flush_ms > 0:

            @app.timer(s.state_flush_ms / 1000.0)
            async def flush_market_states() -> None:
                await self.flush_states()

        if s.repredict and s.repredict_clock == "wall":

            @app.timer(s.repredict_settle_ms / 1000.0)
            async def checkpoints() -> None:
                if self.service.due or self.service.unjudged:
                    await self.on_tick()

        @app.task
        async def follow_registry() -> None:
            _undo_spinner_debug_level()
            await asyncio.get_running_loop().run_in_executor(None, self.refresh_models)
            await self._follow_registry()

        self.gate = Gate(s)
        serve_ops = install(self, self.gate)
        if serve_ops is not None:
            app.task(serve_ops)

        @app.task
        async def keep_breaker_current() -> None:
            await probe(self, self.gate, s.breaker_probe_s)

    async def _follow_registry(self) -> None:
        """Read registry events from the end, without a group, so every worker
        sees every event; re-read the index on each (and every 30 s)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            enable_auto_commit=False,
            fetch_max_wait_ms=max(self.settings.consumer_fetch_max_wait_ms, 100),
            **kafka_options(self.settings),
        )
        await consumer.start()
        self._registry_consumer = consumer
        loop = asyncio.get_running_loop()
        try:
            await consumer.topics()
            tps = [
                TopicPartition(self.settings.topic_registry_events, p)
                for p in consumer.partitions_for_topic(self.settings.topic_registry_events) or []
            ]
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            last = time.monotonic()
            while True:
                batch = await consumer.getmany(timeout_ms=1000)
                events = []
                for records in batch.values():
                    for rec in records:
                        try:
                            events.append(RegistryEvent.decode(rec.value))
                        except ContractError as exc:
                            log.error("bad registry event at offset %s: %s", rec.offset, exc)
                # with no champion, look again every few seconds rather than every 30
                every = 30 if self.holder.champion is not None else 3
                if any(e.model_name == self.model_name for e in events) or time.monotonic() - last > every:
                    await loop.run_in_executor(None, self.refresh_models)  # load off the event loop
                    last = time.monotonic()
        finally:
            await consumer.stop()

    async def predict(self, card: RaceCard) -> Prediction:
        """One card's prediction for ``POST /predict``, on the service's
        thread (the store's cache is not shared across threads)."""
        return await asyncio.get_running_loop().run_in_executor(self._service_thread, self.service.predict, card)

    # -- health ----------------------------------------------------------
    async def dependencies(self) -> list[str]:
        """Redis and the broker, each asked once: why either is down (empty: both up)."""
        reasons = []
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.store.client.ping)
        except Exception as exc:
            reasons.append(f"redis unreachable: {describe(exc)}")
        if self._registry_consumer is None:
            reasons.append("broker connection not started yet")
        else:
            try:  # a real metadata round trip to the broker
                await asyncio.wait_for(self._registry_consumer.topics(), 2.0)
            except Exception as exc:
                reasons.append(f"broker unreachable: {exc!r}")
        return reasons

    def _no_champion(self) -> list[str]:
        return [f"no champion loaded for {self.model_name}"] if self.holder.champion is None else []

    async def not_ready(self) -> list[str]:
        """Why this worker should not be given work now (empty when ready)."""
        return self._no_champion() + self.health.outage_reasons() + await self.dependencies()

    async def problems(self) -> list[str]:
        """Why this worker is not doing its job (empty when healthy)."""
        return self._no_champion() + self.health.problems(self.holder.swap_error) + await self.dependencies()

    def status_body(self, reasons: list[str]) -> dict[str, Any]:
        return {
            "ok": not reasons,
            "reasons": reasons,
            "champion": _v(self.holder.champion),
            "challenger": _v(self.holder.challenger),
        }


async def _settled(fut: Awaitable[Any] | BaseException) -> Any:
    """The delivery result, or the exception that stopped it."""
    if isinstance(fut, BaseException):
        return fut
    try:
        return await fut
    except Exception as exc:
        return exc


#: ``velo worker``'s exit status when the broker lost its state.
EXIT_BROKER_LOST = 3


def _exit_broker_lost(why: str) -> None:
    """The broker restarted without its log (the memory-only embedded broker
    does): positions and offsets this process holds no longer mean anything.
    Exit at once, before anything more is committed; the held messages were
    never acknowledged, so a restarted worker (compose's restart policy, a
    supervisor) reads the new log from its start and nothing is lost."""
    log.critical("%s; exiting with status %d so that a supervisor restarts this worker clean", why, EXIT_BROKER_LOST)
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(EXIT_BROKER_LOST)


#: Allocations between young-generation collections (Python's default is
#: 700): a batch of cards allocates tens of thousands of short-lived objects.
GC_YOUNG_THRESHOLD = 20_000


def settle_heap() -> None:
    """Collect once, then move everything alive (libraries, models) out of
    the collector's sight, and collect the young generation less often.

    A batch of cards allocates tens of thousands of short-lived dicts and
    floats, so the collector ran often, and each older-generation pass walked
    every model and library object again: 10-20% of the service's time per
    card in-process (measured with ``gc.freeze`` against without). Called
    at start-up and after a model swap, the rare moments when long-lived
    objects appear; nothing is leaked, frozen objects are still freed by
    reference counting."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def _undo_spinner_debug_level() -> None:
    """Faust's terminal spinner sets the root logger to DEBUG so that every
    record spins it; aiokafka then builds a debug record for every message
    sent (7% of the worker's time under load). Put the root level back to
    that of the real handlers."""
    root = logging.getLogger()
    levels = [h.level for h in root.handlers if type(h).__name__ != "SpinnerHandler" and h.level]
    if levels:
        root.setLevel(min(levels))


def _v(loaded: Any) -> str | None:
    return None if loaded is None else loaded.record.version
