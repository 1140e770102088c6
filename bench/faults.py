"""Fault injection on real processes: count what is sent, predicted,
dead-lettered and lost.

Each scenario gets its own embedded stack (Tansu broker and Redis), a registry
with a trained champion, fresh topics and real ``velo worker`` processes. A
producer sends race cards (and, in the poison mix, bad messages on every input
topic); an observer reads the prediction and dead-letter topics from the start.
A message is *settled* when a prediction answers it (a valid card) or a dead
letter names its offset (anything else). Then:

- lost = messages acknowledged by the broker and never settled (goal 0);
- duplicates = predictions left over after de-duplication by request_id beyond
  one per card (goal 0); redelivered = raw predictions beyond one per
  request_id (at-least-once delivery, expected after a kill);
- misfiled = valid cards dead-lettered, or poison predicted (goal 0).

Scenarios: poison (every bad kind, interleaved with valid cards), redis (kill
-9, back after 15 s), worker_kill (kill -9, restarted), no_champion (worker
started before a champion exists), broker_restart, two_workers (one kill -9),
market_kill (cards two hours ahead, then their simulated market paths; kill
-9 and restart mid-path). In market_kill the unit is a prediction, not a
message: every race is predicted again as its market moves and at its
checkpoints, and the request_ids each should get are computed offline by the
same rules (``RaceEmitter``); lost = expected ids never seen, duplicates =
ids seen that no rule gives (a redelivery answered differently).

Usage: python bench/faults.py [--scale 1.0] [--only poison,redis]
Writes bench/results/faults.json and the table in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.common import machine, update_section, write_result
from schemas import DeadLetter, Prediction
from schemas.examples import market_update, race_card, race_result
from streams.admin import ensure_topics
from streams.registry_events import publish_outbox
from velo.config import Settings
from velo.registry import Registry
from velo.stack import EmbeddedStack
from velo.stack.ports import free_port
from velo.stack.process import ManagedProcess

SCENARIOS = ("poison", "redis", "worker_kill", "no_champion", "broker_restart", "two_workers", "market_kill")


@dataclass
class Tally:
    scenario: str
    sent: int = 0
    valid: int = 0
    predicted: int = 0
    dead_lettered: int = 0
    lost: int = 0
    duplicates: int = 0
    redelivered: int = 0
    misfiled: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


# -- what is sent ---------------------------------------------------------
def valid_card(race_id: str) -> bytes:
    card = race_card()
    return card.model_copy(update={"race": card.race.model_copy(update={"race_id": race_id})}).encode()


def _with(obj: dict, path: tuple[str, ...], value: object) -> bytes:
    out = orjson.loads(orjson.dumps(obj))
    target = out
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return orjson.dumps(out)


def poison_messages(s: Settings) -> list[tuple[str, bytes | None, str]]:
    """(topic, value, what) for every kind of bad input seen from outside."""
    card = orjson.loads(race_card().encode())
    upd = orjson.loads(market_update().encode())
    res = orjson.loads(race_result().encode())
    cards, updates, results = s.topic_race_cards, s.topic_market_updates, s.topic_race_results
    return [
        (cards, b"not json {", "invalid JSON"),
        (cards, b"", "empty value"),
        (cards, None, "null value (tombstone)"),
        (cards, b"[1, 2, 3]", "a JSON array"),
        (cards, _with(card, ("race", "distance_m"), "far"), "wrong type"),
        (cards, _with(card, ("race", "off_time"), "0001-01-01T00:00:00+05:00"), "off time before year 1 in UTC"),
        (cards, _with(card, ("race", "off_time"), "9999-12-31T23:00:00-05:00"), "off time after year 9999 in UTC"),
        (cards, _with(card, ("race", "off_time"), 12345), "integer time"),
        (cards, _with(card, ("schema_version",), True), "schema_version true"),
        (cards, _with(card, ("runners",), []), "no runners"),
        (cards, b'{"pad": "' + b"x" * 800_000 + b'"}', "invalid, 800 KB"),
        (cards, b'{"pad": "' + b"y" * 1_500_000 + b'"}', "invalid, 1.5 MB (over the 1 MB producer default)"),
        (cards, b"\xff\xfe\x00 not utf-8", "not UTF-8"),
        (updates, _with(upd, ("publish_time",), "9999-12-31T23:00:00-05:00"), "update: extreme time"),
        (updates, b"{", "update: invalid JSON"),
        (results, _with(res, ("off_time",), "0001-01-01T00:00:00+05:00"), "result: extreme time"),
        (results, b"null", "result: JSON null"),
    ]


# -- the observer ---------------------------------------------------------
class Observer:
    """Reads predictions and dead letters from offset 0, in the background,
    through broker restarts (positions past a new log's end reset to 0)."""

    def __init__(self, s: Settings) -> None:
        self.s = s
        self.predictions: dict[str, set[str]] = {}  # race_id -> request_ids
        self.raw_predictions = 0
        self.dead: dict[tuple[str, int, int], str] = {}  # source (topic, partition, offset) -> reason
        self.dead_keys: dict[bytes, str] = {}
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.s.bootstrap_servers, enable_auto_commit=False,
                                        auto_offset_reset="earliest", fetch_max_wait_ms=50,
                                        max_partition_fetch_bytes=4 * 1024 * 1024)  # fmt: skip
            try:
                await consumer.start()
                tps = [TopicPartition(t, p) for t in (self.s.topic_predictions, self.s.topic_dead_letter)
                       for p in range(self.s.partitions_output)]  # fmt: skip
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
                while True:
                    for tp, recs in (await consumer.getmany(timeout_ms=200)).items():
                        for r in recs:
                            self._take(tp.topic, r.value)
            except asyncio.CancelledError:
                raise
            except Exception:  # the broker went away: read again from the start
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()

    def _take(self, topic: str, value: bytes) -> None:
        if topic == self.s.topic_predictions:
            p = Prediction.decode(value)
            self.predictions.setdefault(p.race_id, set()).add(p.request_id)
            self.raw_predictions += 1
        else:
            d = DeadLetter.decode(value)
            self.dead[(d.source_topic, d.source_partition, d.source_offset)] = d.error

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def restart(self) -> None:
        """Read again from offset 0 (after a broker restart: the embedded
        broker answers a fetch past its new log's end with nothing, not an
        out-of-range error, so old positions would skip the new log)."""
        await self.stop()
        await self.start()


# -- the sender -----------------------------------------------------------
class Sender:
    """Sends and remembers what the broker acknowledged (by where it landed)."""

    def __init__(self, s: Settings) -> None:
        self.s = s
        self.valid: dict[str, tuple[str, int, int]] = {}  # race_id -> (topic, partition, offset)
        self.poison: dict[tuple[str, int, int], str] = {}  # where -> what
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=self.s.bootstrap_servers, acks="all",
                                         max_request_size=4 * 1024 * 1024, request_timeout_ms=10_000)  # fmt: skip
        await self.producer.start()

    async def send(self, topic: str, key: bytes, value: bytes | None, retry_s: float = 60.0) -> tuple[str, int, int]:
        assert self.producer is not None
        deadline = time.monotonic() + retry_s
        while True:
            try:
                md = await self.producer.send_and_wait(topic, value, key=key)
                return md.topic, md.partition, md.offset
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    async def card(self, race_id: str) -> None:
        self.valid[race_id] = await self.send(self.s.topic_race_cards, race_id.encode(), valid_card(race_id))

    async def bad(self, topic: str, value: bytes | None, what: str) -> None:
        self.poison[await self.send(topic, f"poison-{uuid.uuid4().hex[:6]}".encode(), value)] = what

    async def cards_at(self, race_ids: list[str], rate: float,
                       at: dict[int, Callable[[], Awaitable[None]]] | None = None) -> None:  # fmt: skip
        """Send at ``rate`` cards/s; run ``at[i]`` just before card ``i``."""
        t0 = time.monotonic()
        for i, rid in enumerate(race_ids):
            if at and i in at:
                await at[i]()
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            await self.card(rid)

    async def stop(self) -> None:
        if self.producer:
            await self.producer.stop()


# -- a scenario's world ---------------------------------------------------
class World:
    """One scenario: its own stack, registry, topics and worker processes."""

    def __init__(self, model_dir: Path, workdir: Path, champion: bool = True) -> None:
        self.workdir = workdir
        self.stack = EmbeddedStack(workdir=workdir / "stack").start()
        suffix = uuid.uuid4().hex[:6]
        topics = {f"topic_{k}": f"{k.replace('_', '-')}-{suffix}" for k in (
            "race_cards", "market_updates", "race_results", "predictions", "prediction_log", "registry_events",
            "dead_letter")}  # fmt: skip
        self.s = self.stack.settings(**topics, registry_dir=workdir / "registry", log_dir=workdir / "logs")
        asyncio.run(ensure_topics(self.s))
        self.model_dir = model_dir
        self.registry = Registry(self.s.registry_dir)
        if champion:
            self.promote()
        self.workers: dict[str, tuple[ManagedProcess, int]] = {}

    def promote(self) -> None:
        rec = self.registry.register(self.model_dir, "velo")
        self.registry.promote("velo", rec.version)

    def start_worker(self, name: str, *args: str) -> ManagedProcess:
        port = free_port()
        proc = ManagedProcess(name, [sys.executable, "-m", "velo.cli.main", "worker", "--web-port", str(port),
                                     "--loglevel", "info", *args], self.workdir / f"{name}.log", env=self.s.env())  # fmt: skip
        proc.start()
        self.workers[name] = (proc, port)
        return proc

    def http(self, name: str, path: str) -> int | None:
        _, port = self.workers[name]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def wait(self, name: str, path: str = "/ready", want: tuple[int, ...] = (200,), timeout: float = 180) -> None:
        proc, _ = self.workers[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(f"worker {name} exited:\n{proc.log_tail()}")
            if self.http(name, path) in want:
                return
            time.sleep(0.5)
        raise TimeoutError(f"worker {name}: {path} not {want} in {timeout:.0f} s:\n{proc.log_tail()}")

    def close(self) -> None:
        for proc, _ in self.workers.values():
            proc.stop(timeout=20)
        self.stack.stop()


async def settle(sender: Sender, observer: Observer, timeout: float) -> None:
    """Wait until every acknowledged message is answered (or the timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = sum(r in observer.predictions for r in sender.valid) + sum(w in observer.dead for w in sender.poison)
        if done == len(sender.valid) + len(sender.poison):
            return
        await asyncio.sleep(0.5)


def tally(name: str, sender: Sender, observer: Observer, seconds: float, notes: list[str]) -> Tally:
    t = Tally(name, notes=notes, seconds=round(seconds, 1))
    t.valid = len(sender.valid)
    t.sent = t.valid + len(sender.poison)
    predicted = [r for r in sender.valid if r in observer.predictions]
    t.predicted = len(predicted)
    dead_valid = [r for r, where in sender.valid.items() if where in observer.dead]
    dead_poison = [w for w in sender.poison if w in observer.dead]
    t.dead_lettered = len(dead_valid) + len(dead_poison)
    settled = set(predicted) | set(dead_valid)
    t.lost = (t.valid - len(settled)) + (len(sender.poison) - len(dead_poison))
    t.duplicates = sum(len(observer.predictions[r]) - 1 for r in predicted)
    ours = sum(len(observer.predictions[r]) for r in predicted)
    t.redelivered = max(0, observer.raw_predictions - ours)
    t.misfiled = len(dead_valid)
    for r in dead_valid:
        t.notes.append(f"valid card {r} dead-lettered: {observer.dead[sender.valid[r]][:120]}")
    return t


# -- scenarios ------------------------------------------------------------
async def _run(world: World, body: Callable[[Sender, Observer, list[str]], Awaitable[None]], name: str,
               timeout: float) -> Tally:  # fmt: skip
    sender, observer = Sender(world.s), Observer(world.s)
    notes: list[str] = []
    await sender.start()
    await observer.start()
    t0 = time.monotonic()
    try:
        await body(sender, observer, notes)
        await settle(sender, observer, timeout)
    finally:
        await sender.stop()
        await observer.stop()
    return tally(name, sender, observer, time.monotonic() - t0, notes)


def _ids(prefix: str, n: int) -> list[str]:
    tag = uuid.uuid4().hex[:4]
    return [f"{prefix}-{tag}-{i}" for i in range(n)]


def scenario_poison(world: World, n: int) -> Tally:
    world.start_worker("w")
    world.wait("w")

    async def body(sender: Sender, observer: Observer, notes: list[str]) -> None:
        bad = poison_messages(world.s)
        ids = _ids("p", n)
        every = max(1, n // len(bad))
        for i, rid in enumerate(ids):
            if i % every == 0 and bad:
                await sender.bad(*bad.pop(0))
            await sender.card(rid)
        for b in bad:
            await sender.bad(*b)

    return asyncio.run(_run(world, body, "poison", 120))


def scenario_redis(world: World, n: int, rate: float = 20.0, down_s: float = 15.0) -> Tally:
    world.start_worker("w")
    world.wait("w")

    async def body(sender: Sender, observer: Observer, notes: list[str]) -> None:
        async def back_later() -> None:
            await asyncio.sleep(down_s)
            await asyncio.to_thread(world.stack.restart_redis)
            notes.append(f"redis back after {down_s:.0f} s")

        restart: list[asyncio.Task] = []

        async def kill() -> None:  # and bring it back while the cards keep coming
            world.stack.kill_redis()
            notes.append(f"redis kill -9 after {n // 6} cards")
            restart.append(asyncio.create_task(back_later()))

        await sender.cards_at(_ids("r", n), rate, {n // 6: kill})
        await asyncio.gather(*restart)

    return asyncio.run(_run(world, body, "redis", 180))


def scenario_worker_kill(world: World, n: int, rate: float = 20.0) -> Tally:
    world.start_worker("w")
    world.wait("w")

    async def body(sender: Sender, observer: Observer, notes: list[str]) -> None:
        async def kill() -> None:
            world.workers["w"][0].kill()
            world.start_worker("w")
            notes.append(f"worker kill -9 after {n // 3} cards, restarted at once")

        await sender.cards_at(_ids("k", n), rate, {n // 3: kill})

    return asyncio.run(_run(world, body, "worker_kill", 240))


def scenario_no_champion(world: World, n: int) -> Tally:
    world.start_worker("w", "--wait-for-model")
    world.wait("w", "/ready", want=(503,))

    async def body(sender: Sender, observer: Observer, notes: list[str]) -> None:
        for rid in _ids("c", n):
            await sender.card(rid)
        await asyncio.sleep(8)
        early = sum(r in observer.predictions for r in sender.valid) + sum(
            w in observer.dead for w in sender.valid.values()
        )
        notes.append(f"{early} of {n} cards answered before a champion existed (must be 0)")
        if early:
            notes.append("FAIL: answered without a champion")
        world.promote()
        await publish_outbox(world.s, world.registry)
        notes.append("champion registered and promoted 8 s after the cards")

    return asyncio.run(_run(world, body, "no_champion", 120))


def scenario_broker_restart(world: World, n: int) -> Tally:
    world.start_worker("w")
    world.wait("w")
    restarts = [0]

    def supervise() -> None:  # what compose's restart policy does
        proc, _ = world.workers["w"]
        if not proc.alive():
            restarts[0] += 1
            world.start_worker("w")

    async def body(sender: Sender, observer: Observer, notes: list[str]) -> None:
        first, second = _ids("b", n // 2), _ids("b2", n - n // 2)
        for rid in first:
            await sender.card(rid)
        await settle(sender, observer, 60)
        world.stack.kill_broker()
        await asyncio.sleep(2)
        await asyncio.to_thread(world.stack.restart_broker)
        await ensure_topics(world.s)
        await observer.restart()
        notes.append(f"broker kill -9 and restart (memory-only: its log is gone) after {len(first)} cards were "
                     "answered")  # fmt: skip
        for rid in second:
            supervise()
            await sender.card(rid)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(r in observer.predictions for r in second):
            supervise()
            await asyncio.sleep(0.5)
        notes.append(f"worker restarts by the supervisor: {restarts[0]}")

    return asyncio.run(_run(world, body, "broker_restart", 120))


def scenario_two_workers(world: World, n: int, rate: float = 20.0) -> Tally:
    world.start_worker("a")
    world.start_worker("b")
    world.wait("a")
    world.wait("b")

    async def body(sender: Sender, observer: Observer, notes: list[str]) -> None:
        async def kill() -> None:
            world.workers["b"][0].kill()
            notes.append(f"worker b kill -9 after {n // 2} cards, not restarted")

        await sender.cards_at(_ids("t", n), rate, {n // 2: kill})

    return asyncio.run(_run(world, body, "two_workers", 180))


def market_paths(n: int) -> tuple[list, list, dict[str, set[str]]]:
    """``n`` simulated races with cards two hours ahead: the cards, their
    market updates in event order, and each race's expected request_ids."""
    from datetime import timedelta

    from velo.markets.repredict import RaceEmitter, card_hash
    from velo.serving.scorer import request_id
    from velo.sim import SimConfig, simulate

    days = 2 * (n // 8 + 1)
    events = simulate(SimConfig(seed=62, days=days, n_horses=300)).events(card_lead=timedelta(hours=2))
    races = list(dict.fromkeys(e.key for e in events if e.kind == "card"))[:n]
    keep = set(races)
    cards = [e.message for e in events if e.kind == "card" and e.key in keep]
    updates = [e.message for e in events if e.kind == "market" and e.key in keep]
    policy = Settings().repredict_policy
    expected: dict[str, set[str]] = {}
    for card in cards:
        em = RaceEmitter(policy, card.race_id, None, None)
        made = [em.on_card(card, card_hash(card))]
        made += em.on_updates([u for u in updates if u.race_id == card.race_id])
        expected[card.race_id] = {request_id(card, e) for e in made}
        for e in made:
            DESCRIBED[request_id(card, e)] = f"{card.race_id} #{e.sequence} {e.trigger}{' final' if e.final else ''}"
    return cards, updates, expected


#: expected request_id -> what it is (for the notes)
DESCRIBED: dict[str, str] = {}


def scenario_market_kill(world: World, n: int, rate: float = 300.0) -> Tally:
    world.start_worker("w")
    world.wait("w")
    cards, updates, expected = market_paths(n)
    sent = [0]

    async def body(sender: Sender, observer: Observer, notes: list[str]) -> None:
        s = world.s
        for c in cards:
            await sender.send(s.topic_race_cards, c.race_id.encode(), c.encode())
        sent[0] += len(cards)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(c.race_id not in observer.predictions for c in cards):
            await asyncio.sleep(0.2)
        t0, kill_at = time.monotonic(), len(updates) // 3
        for i, u in enumerate(updates):
            if i == kill_at:
                world.workers["w"][0].kill()
                world.start_worker("w")
                notes.append(f"worker kill -9 after {kill_at} of {len(updates)} market updates, restarted at once")
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            await sender.send(s.topic_market_updates, u.race_id.encode(), u.encode())
        sent[0] += len(updates)
        want = sum(len(v) for v in expected.values())
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if sum(len(expected[r] & observer.predictions.get(r, set())) for r in expected) >= want:
                break
            await asyncio.sleep(0.5)

    sender, observer = Sender(world.s), Observer(world.s)
    notes: list[str] = []

    async def run() -> float:
        await sender.start()
        await observer.start()
        t0 = time.monotonic()
        try:
            await body(sender, observer, notes)
        finally:
            await sender.stop()
            await observer.stop()
        return time.monotonic() - t0

    seconds = asyncio.run(run())
    t = Tally("market_kill", notes=notes, seconds=round(seconds, 1))
    t.sent = sent[0]
    t.valid = sum(len(v) for v in expected.values())
    seen = {r: observer.predictions.get(r, set()) for r in expected}
    t.predicted = sum(len(expected[r] & seen[r]) for r in expected)
    t.lost = t.valid - t.predicted
    t.duplicates = sum(len(seen[r] - expected[r]) for r in expected)
    t.redelivered = max(0, observer.raw_predictions - sum(len(v) for v in seen.values()))
    t.dead_lettered = len(observer.dead)
    t.misfiled = t.dead_lettered  # every message sent is valid
    t.notes.append(f"{len(cards)} races, {len(updates)} market updates, {t.valid} predictions expected")
    missing = sorted(DESCRIBED.get(i, i) for r in expected for i in expected[r] - seen[r])
    if missing:
        t.notes.append("never seen: " + ", ".join(missing[:10]))
    return t


RUNNERS: dict[str, Callable[[World, int], Tally]] = {
    "poison": scenario_poison,
    "redis": scenario_redis,
    "worker_kill": scenario_worker_kill,
    "no_champion": scenario_no_champion,
    "broker_restart": scenario_broker_restart,
    "two_workers": scenario_two_workers,
    "market_kill": scenario_market_kill,
}
SIZES = {"poison": 240, "redis": 600, "worker_kill": 400, "no_champion": 100, "broker_restart": 200,
         "two_workers": 400, "market_kill": 40}  # fmt: skip


def run_scenario(name: str, model_dir: Path, workdir: Path, n: int | None = None) -> Tally:
    world = World(model_dir, workdir, champion=name != "no_champion")
    try:
        return RUNNERS[name](world, n or SIZES[name])
    finally:
        world.close()


def train_model(workdir: Path) -> Path:
    from velo.features.offline import build_training_set
    from velo.sim import SimConfig, simulate
    from velo.training.artifacts import save_model
    from velo.training.pipeline import TrainConfig, fit_model

    frame = build_training_set(simulate(SimConfig(seed=61, days=40, n_horses=300)).events())
    model, _ = fit_model(frame, TrainConfig(sqpe_max_iter=20))
    out = workdir / "model"
    save_model(model, out)
    return out


def table(rows: list[Tally]) -> str:
    head = "| scenario | sent | valid | predicted | dead-lettered | **lost** | duplicates after dedup | redelivered | misfiled | s |\n|---|---|---|---|---|---|---|---|---|---|\n"
    body = "".join(f"| {t.scenario} | {t.sent} | {t.valid} | {t.predicted} | {t.dead_lettered} | **{t.lost}** | "
                   f"{t.duplicates} | {t.redelivered} | {t.misfiled} | {t.seconds} |\n" for t in rows)  # fmt: skip
    notes = "".join(f"- {t.scenario}: {'; '.join(t.notes)}\n" for t in rows if t.notes)
    return head + body + ("\n" + notes if notes else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every scenario's card count")
    ap.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in RUNNERS]
    if unknown:
        ap.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="velo-faults-") as tmp:
        model = train_model(Path(tmp))
        for name in names:
            t = run_scenario(name, model, Path(tmp) / name, max(10, int(SIZES[name] * args.scale)))
            print(f"{t.scenario}: sent {t.sent}, predicted {t.predicted}, dead-lettered {t.dead_lettered}, "
                  f"lost {t.lost}, duplicates {t.duplicates} ({t.seconds} s)", flush=True)  # fmt: skip
            rows.append(t)
    md = table(rows)
    print(md)
    m = machine()
    path = write_result("faults", {"rows": [asdict(t) for t in rows], "machine": m})
    head = (f"## Fault injection\n\nCommand: `.venv/bin/python bench/faults.py` · each scenario on its own embedded "
            f"Tansu + Redis with real `velo worker` processes · {m['cpu']}, {m['cores']} cores · commit {m['commit']}\n\n"
            "lost = acknowledged by the broker and never answered by a prediction or a dead letter; duplicates = "
            "predictions beyond one per card after de-duplication by request_id; misfiled = valid cards dead-lettered. "
            "What each scenario does: [docs/reliability.md](docs/reliability.md).\n\n")  # fmt: skip
    update_section("faults", head + md)
    print(f"wrote {path}")
    sys.exit(0 if all(t.lost == 0 and t.duplicates == 0 and t.misfiled == 0 for t in rows) else 1)


if __name__ == "__main__":
    main()
