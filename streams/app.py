"""The Faust worker: race cards and market updates in, predictions out.

Topology (names and partition counts from settings; inputs keyed by race_id
and co-partitioned):

- ``market-updates`` -> market state table (per race) -> feeds NDS and the
  market probability of the next prediction for that race.
- ``race-cards`` -> features (FeatureStore, Redis) -> champion -> ``predictions``;
  then the challenger in shadow (logged only, after the champion's send).
- ``race-results`` -> feature state (idempotent) and outcome rows in the log.
- ``registry-events`` -> every worker reads it directly (no consumer group, so
  each sees every event) and re-reads the registry index to swap models.
- anything undecodable or invalid -> ``dead-letter`` with the reason and its
  source offset; processing goes on.

Delivery is at-least-once (offsets are committed after processing); a
redelivered card gets the same ``request_id``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any, TypeVar

import faust
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from schemas import (
    Contract,
    ContractError,
    DeadLetter,
    MarketUpdate,
    PredictionLog,
    RaceCard,
    RaceResult,
    RegistryEvent,
)
from streams import metrics
from streams.monitoring import WorkerMonitor
from streams.transport import register as register_transport
from velo.config import Settings
from velo.features.engine import FeatureEngine
from velo.features.redis_store import RedisStore
from velo.logs.prediction_log import PredictionLogSink
from velo.markets.state import RaceMarket
from velo.registry import Registry
from velo.registry.subscriber import ModelHolder
from velo.serving.scorer import card_inputs, log_rows, score_cards

log = logging.getLogger("velo.worker")
C = TypeVar("C", bound=Contract)


def worker_group(model_name: str) -> str:
    """The Faust app id, which is also the workers' consumer group (``velo
    replay`` waits on its committed offsets)."""
    return f"velo-{model_name}"


class Worker:
    """Everything a worker process holds, built from settings."""

    def __init__(self, settings: Settings, model_name: str = "velo", web_port: int = 6066) -> None:
        self.settings = settings
        self.model_name = model_name
        self.store = RedisStore.from_url(settings.redis_url)
        self.engine = FeatureEngine(self.store)
        self.registry = Registry(settings.registry_dir)
        self.holder = ModelHolder(self.registry, model_name)
        self.sink = PredictionLogSink(settings.log_dir)
        self.monitor = WorkerMonitor(self.registry, model_name)  # drift and live quality -> /metrics
        self._registry_consumer: AIOKafkaConsumer | None = None
        scheme = register_transport()
        host = settings.bootstrap_servers.split(",")[0]
        self.app = faust.App(
            worker_group(model_name),
            broker=f"{scheme}://{host}",
            store="memory://",
            value_serializer="raw",
            key_serializer="raw",
            topic_partitions=settings.partitions,
            topic_replication_factor=settings.replication_factor,
            web_port=web_port,
            web_bind=settings.web_host,
            web_enabled=True,
            producer_linger=0.0,
            broker_commit_every=50,
            broker_commit_interval=settings.commit_interval_ms / 1000.0,
            consumer_auto_offset_reset="earliest",
            broker_session_timeout=settings.consumer_session_timeout_s,
            broker_heartbeat_interval=max(0.5, settings.consumer_session_timeout_s / 10),
        )
        self.app.velo_fetch_max_wait_ms = settings.consumer_fetch_max_wait_ms
        t = settings
        self.cards = self.app.topic(t.topic_race_cards, key_type=bytes, value_type=bytes)
        self.updates = self.app.topic(t.topic_market_updates, key_type=bytes, value_type=bytes)
        self.results = self.app.topic(t.topic_race_results, key_type=bytes, value_type=bytes)
        self.predictions = self.app.topic(t.topic_predictions, key_type=bytes, value_type=bytes)
        self.prediction_log = self.app.topic(t.topic_prediction_log, key_type=bytes, value_type=bytes)
        self.dead = self.app.topic(t.topic_dead_letter, key_type=bytes, value_type=bytes)
        # values are orjson bytes of RaceMarket.to_dict() (the app's serializer is raw).
        # The table is named after the topic it is built from, so its changelog
        # belongs to that topic: a worker on other topics restores nothing of it.
        self.markets = self.app.Table(f"market-state-{t.topic_market_updates}", default=None,
                                      partitions=t.partitions, key_type=bytes, value_type=bytes)  # fmt: skip
        self._wire()

    # -- helpers -------------------------------------------------------
    async def dead_letter(self, event: Any, error: str) -> None:
        msg = event.message
        dl = DeadLetter(original=event.value or b"", source_topic=msg.topic, source_partition=msg.partition,
                        source_offset=msg.offset, error=error[:2000], time=datetime.now(UTC))  # fmt: skip
        await self.dead.send(key=event.key, value=dl.encode())
        metrics.DEAD_LETTERS.labels(msg.topic).inc()
        log.warning("dead letter from %s[%s]@%s: %s", msg.topic, msg.partition, msg.offset, error[:200])

    async def decode(self, event: Any, contract: type[C]) -> C | None:
        """Count the message; decode it, or dead-letter it and return None."""
        metrics.MESSAGES_IN.labels(event.message.topic).inc()
        try:
            return contract.decode(event.value)
        except ContractError as exc:
            await self.dead_letter(event, str(exc))
            return None

    async def write_log(self, rows: list[PredictionLog]) -> None:
        """The JSONL sink always; the prediction-log topic when mirrored."""
        self.sink.write_batch(rows)
        if self.settings.mirror_prediction_log:
            await asyncio.gather(*[self.prediction_log.send(key=r.race_id.encode(), value=r.encode()) for r in rows])

    def market(self, race_id: str) -> RaceMarket | None:
        raw = self.markets.get(race_id.encode())
        return RaceMarket.from_dict(orjson.loads(raw)) if raw else None

    def refresh_models(self) -> bool:
        changed = self.holder.catch_up()
        for role, loaded in (("champion", self.holder.champion), ("challenger", self.holder.challenger)):
            metrics.MODEL_VERSION.labels(role).set(int(loaded.record.version) if loaded else 0)
        if changed:
            metrics.SWAPS.inc()
            log.info("models now: champion %s, challenger %s", _v(self.holder.champion), _v(self.holder.challenger))
        return changed

    def predict_cards(self, cards: list[RaceCard], remember: bool) -> tuple[list[Any], list[Any] | None]:
        """Champion and challenger predictions for cards, in one pass each.

        The stream remembers the cards (for their results) and uses its market
        table; the HTTP path only reads.
        """
        champ, chall = self.holder.champion, self.holder.challenger
        if champ is None:
            raise LookupError(f"no champion loaded for {self.model_name}")
        feats = self.engine.features_many(cards)
        if remember:
            self.engine.remember_many(cards)
        markets = [self.market(c.race_id) if remember else None for c in cards]
        inputs = card_inputs(cards, feats, markets)
        main = score_cards(inputs, champ.model, champ.record.version)
        shadow = score_cards(inputs, chall.model, chall.record.version) if chall else None
        if remember:
            self.monitor.observe_scored(champ, inputs, main, shadow)
        return main, shadow

    # -- agents --------------------------------------------------------
    def _wire(self) -> None:
        app = self.app

        @app.agent(self.updates)
        async def market_updates(stream: faust.StreamT) -> None:
            async for event in stream.events():
                upd = await self.decode(event, MarketUpdate)
                if upd is None:
                    continue
                m = self.market(upd.race_id) or RaceMarket(upd.race_id)
                m.apply(upd)
                self.markets[upd.race_id.encode()] = orjson.dumps(m.to_dict())

        @app.agent(self.cards)
        async def race_cards(stream: faust.StreamT) -> None:
            batch_wait = self.settings.card_batch_wait_ms / 1000.0
            async for events in stream.take_events(self.settings.card_batch_max, within=batch_wait):
                t0 = time.perf_counter()
                cards, sources = [], []
                for event in events:
                    card = await self.decode(event, RaceCard)
                    if card is not None:
                        cards.append(card)
                        sources.append(event)
                if not cards:
                    continue
                try:
                    mains, shadows = self.predict_cards(cards, remember=True)
                except LookupError as exc:
                    for event in sources:
                        await self.dead_letter(event, str(exc))
                    continue
                # send() only enqueues; gathering lets the producer batch them
                await asyncio.gather(*[self.predictions.send(key=card.race_id.encode(), value=main.encode())
                                       for card, main in zip(cards, mains, strict=True)])  # fmt: skip
                metrics.MESSAGES_OUT.labels(self.settings.topic_predictions).inc(len(mains))
                metrics.LATENCY.labels("champion").observe(time.perf_counter() - t0)
                # the shadow challenger runs after the champion's predictions are sent
                rows = [r for m in mains for r in log_rows(m, True)]
                rows += [r for m in shadows for r in log_rows(m, False)] if shadows else []
                await self.write_log(rows)
                logged = {}
                for i, card in enumerate(cards):
                    done = [mains[i], shadows[i]] if shadows else [mains[i]]
                    logged[f"logged:{card.race_id}"] = orjson.dumps(
                        [[p.request_id, p.model_name, p.model_version, p is mains[i]] for p in done]
                    )
                self.store.put_blobs(logged)

        @app.agent(self.results)
        async def race_results(stream: faust.StreamT) -> None:
            async for event in stream.events():
                result = await self.decode(event, RaceResult)
                if result is None:
                    continue
                self.engine.on_result(result)
                self.monitor.observe_result(result)
                logged = self.store.get_blob(f"logged:{result.race_id}")
                if logged:
                    now = datetime.now(UTC)
                    outcome = [
                        PredictionLog(
                            timestamp=now,
                            request_id=rid,
                            race_id=result.race_id,
                            horse_id=f.runner_id,
                            model_name=name,
                            model_version=version,
                            is_champion=is_champ,
                            result_position=f.position,
                            won=f.position == 1,
                        )
                        for rid, name, version, is_champ in orjson.loads(logged)
                        for f in result.finishers
                    ]
                    await self.write_log(outcome)

        @app.task
        async def follow_registry() -> None:
            _undo_spinner_debug_level()
            await asyncio.get_running_loop().run_in_executor(None, self.refresh_models)
            await self._follow_registry()

        worker = self

        class Health(View):
            async def get(self, request: Request) -> Response:
                reasons = await worker.health()
                body = {"ok": not reasons, "reasons": reasons, "champion": _v(worker.holder.champion),
                        "challenger": _v(worker.holder.challenger)}  # fmt: skip
                return self.json(body, status=200 if not reasons else 503)

        class Champion(View):
            async def get(self, request: Request) -> Response:
                return _record_response(self, worker.holder.champion)

        class Challenger(View):
            async def get(self, request: Request) -> Response:
                return _record_response(self, worker.holder.challenger)

        class Predict(View):
            async def post(self, request: Request) -> Response:
                try:
                    body = orjson.loads(await request.read())
                    card = RaceCard.validate_obj(body)
                except orjson.JSONDecodeError as exc:
                    return self.json({"errors": [{"field": "(body)", "reason": f"not valid JSON: {exc}"}]}, status=422)
                except ContractError as exc:
                    return self.json(exc.as_dict(), status=422)
                try:
                    mains, _ = worker.predict_cards([card], remember=False)
                except LookupError as exc:
                    return self.json({"error": str(exc)}, status=503)
                return self.json(mains[0].to_dict())

        class Metrics(View):
            async def get(self, request: Request) -> Response:
                # aiohttp wants the charset apart from the content type
                return self.bytes(generate_latest(metrics.REGISTRY), content_type=CONTENT_TYPE_LATEST.split(";")[0])

        app.page("/health")(Health)
        app.page("/models/champion")(Champion)
        app.page("/models/challenger")(Challenger)
        app.page("/predict")(Predict)
        app.page("/metrics")(Metrics)

    async def _follow_registry(self) -> None:
        """Read registry events from the end, without a group, so every worker
        sees every event; re-read the index on each (and every 30 s)."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.bootstrap_servers, enable_auto_commit=False,
                                    fetch_max_wait_ms=max(self.settings.consumer_fetch_max_wait_ms, 100))  # fmt: skip
        await consumer.start()
        self._registry_consumer = consumer
        loop = asyncio.get_running_loop()
        try:
            await consumer.topics()
            tps = [TopicPartition(self.settings.topic_registry_events, p)
                   for p in consumer.partitions_for_topic(self.settings.topic_registry_events) or []]  # fmt: skip
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
                if any(e.model_name == self.model_name for e in events) or time.monotonic() - last > 30:
                    await loop.run_in_executor(None, self.refresh_models)  # load off the event loop
                    last = time.monotonic()
        finally:
            await consumer.stop()

    async def health(self) -> list[str]:
        reasons = []
        if self.holder.champion is None:
            reasons.append(f"no champion loaded for {self.model_name}")
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.store.client.ping)
        except Exception as exc:
            reasons.append(f"redis unreachable: {exc}")
        if self._registry_consumer is None:
            reasons.append("broker connection not started yet")
        else:
            try:  # a real metadata round trip to the broker
                await asyncio.wait_for(self._registry_consumer.topics(), 2.0)
            except Exception as exc:
                reasons.append(f"broker unreachable: {exc!r}")
        return reasons


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


def _record_response(view: View, loaded: Any) -> Response:
    if loaded is None:
        return view.json({"error": "none loaded"}, status=404)
    return view.json(loaded.record.model_dump())
