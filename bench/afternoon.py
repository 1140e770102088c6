"""A busy afternoon: 30 live markets, 14 runners each, 5 updates a runner a
second (2,100 updates/s), with re-prediction on, through one worker.

The cards go out first (their races are half an hour away, so no checkpoint
falls in the run: every prediction after the cards is a market move). Then
each runner's price takes a random walk. ``--pattern burst`` (the default)
hands a market's 14 runners to the producer at once, with one publish time
and ``moment_size`` 14, then the next market's, as an exchange stream does
(one change message a market, every 200 ms here); ``spread`` sends the 420
runners in a shuffled round robin, each its own moment (``moment_size`` 1),
so a race's updates are spread out and every batch touches many races. An
occasional jump moves a market probability materially. Updates are stamped
with this machine's clock as a live feed's would be, and the worker runs as
it would live (``VELO_REPREDICT_CLOCK=wall``).

Reported:
- whether one worker keeps up: its consumer lag on the market topic, sampled
  every second, and how long it takes to drain after the last update;
- update -> prediction latency, p50 and p99, two ways: from the market moment
  the prediction names (its ``market_time``: in the burst pattern, when the
  moment's 14 updates were stamped) and from the moment's last
  update being sent (when it was complete), to the prediction being consumed;
- the transport floor for the same load, in the same run: ``bench/echo.py
  --marked`` reads every update and returns the completing update of each
  moment with a jump in it (the moves that call for re-predictions),
  and the worker's p50 is given as a ratio to that echo's.

Goal: it keeps up, with p50 <= 20 ms.
Usage: python bench/afternoon.py [--markets 30] [--rate 5] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.common import machine, update_section, write_result
from bench.echo import ECHO_HEADER, wait_assigned
from bench.stream import card14, prepare_registry
from schemas import MarketUpdate
from streams.admin import ensure_topics
from streams.app import worker_group
from streams.embedded import start_embedded_stack
from streams.replay import GroupOffsets
from streams.worker_process import start_worker, wait_healthy
from velo.stack.process import ManagedProcess


def linger(args: argparse.Namespace, pattern: str) -> int:
    if args.linger_ms is not None:
        return args.linger_ms
    return 0 if pattern == "burst" else 10


def echo_floor(settings, template, workdir: Path, args: argparse.Namespace, pattern: str) -> dict:
    """The same pattern through a bare aiokafka echo on the same broker: it
    reads every update and returns the completing update of each moment with
    a jump in it (what a re-prediction answers), with the worker's fetch wait
    and acks."""
    s = settings.model_copy(update={"topic_market_updates": "afternoon-echo-in",
                                    "topic_predictions": "afternoon-echo-out"})  # fmt: skip
    asyncio.run(ensure_topics(s))
    argv = [sys.executable, str(Path(__file__).with_name("echo.py")), s.bootstrap_servers, s.topic_market_updates,
            s.topic_predictions, str(s.consumer_fetch_max_wait_ms), "--marked"]  # fmt: skip
    proc = ManagedProcess(f"echo-{pattern}", argv, workdir / f"echo-{pattern}.log", env=s.env())
    proc.start()
    try:
        deadline = time.monotonic() + 60
        while "ready" not in proc.log_tail() and time.monotonic() < deadline:
            time.sleep(0.2)
        return asyncio.run(afternoon(s, template, args.markets, args.rate, args.seconds, pattern,
                                     linger_ms=linger(args, pattern), echo=True))  # fmt: skip
    finally:
        proc.stop(10)


async def afternoon(settings, template, n_markets: int, rate: float, seconds: float, pattern: str = "burst",
                    seed: int = 1, linger_ms: int = 0, echo: bool = False) -> dict:  # fmt: skip
    """One pattern's run against the worker, or (``echo``) against
    ``bench/echo.py`` reading the updates and returning each moment's
    completing update: the transport floor for the same load."""
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:6]
    off = datetime.now(UTC) + timedelta(minutes=30)
    cards = [card14(template, f"pm-{tag}-{i}") for i in range(n_markets)]
    cards = [c.model_copy(update={"race": c.race.model_copy(update={"off_time": off})}) for c in cards]
    races = {c.race_id for c in cards}
    moments_echoed = 0
    consumer = AIOKafkaConsumer(settings.topic_predictions, bootstrap_servers=settings.bootstrap_servers,
                                group_id=uuid.uuid4().hex, auto_offset_reset="latest", fetch_max_wait_ms=5)  # fmt: skip
    # the linger decides how many updates share a record batch: a burst's
    # moment is handed over at once, so it is one batch without one; the
    # embedded broker reads one-record batches slowly (bench/broker_fetch.py)
    # and falls behind on spread's single updates without 10 ms of it
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=linger_ms)
    offsets = GroupOffsets(settings, worker_group("velo"))
    await consumer.start()
    await producer.start()
    await offsets.start()
    await wait_assigned(consumer)
    got: list[tuple[float, dict]] = []  # (wall time consumed, prediction)
    stop = asyncio.Event()

    async def receive() -> None:
        nonlocal moments_echoed
        while not stop.is_set():
            for recs in (await consumer.getmany(timeout_ms=50)).values():
                now = time.time()
                for r in recs:
                    if not (r.key and r.key.decode() in races):
                        continue
                    if echo:  # a moment's completing update, as the echo returned it
                        moments_echoed += 1
                        u = orjson.loads(r.value)
                        got.append((now, {"trigger": "market", "race_id": u["race_id"],
                                          "market_time": u["publish_time"], "created_at": None}))  # fmt: skip
                    else:
                        got.append((now, orjson.loads(r.value)))

    rx = asyncio.create_task(receive())
    if not echo:
        for c in cards:
            await producer.send(settings.topic_race_cards, c.encode(), key=c.race_id.encode())
        deadline = time.monotonic() + 60
        while sum(p["trigger"] == "card" for _, p in got) < n_markets and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    # the updates: round robin over (market, runner), each a random-walk step
    prices = {(c.race_id, r.runner_id): r.price for c in cards for r in c.runners}
    keys = list(prices)
    if pattern == "spread":
        rng.shuffle(keys)  # runners update independently: a race's next update is any of its 14
    total_rate = rate * len(keys)
    n = int(total_rate * seconds)
    # per race, each moment's publish time -> when its last update was sent
    # (a moment is complete, and can be judged, once that update is in)
    completed: dict[str, dict[float, float]] = {c.race_id: {} for c in cards}
    end_offsets: dict[TopicPartition, int] = {}
    lag: list[tuple[float, int]] = []

    async def sample_lag() -> None:
        while not stop.is_set():
            await asyncio.sleep(1.0)
            if end_offsets and not echo:
                done = await offsets.committed(list(end_offsets))
                lag.append((time.monotonic(), sum(max(0, end_offsets[tp] - done[tp]) for tp in end_offsets)))

    def landed(fut: asyncio.Future) -> None:
        if not fut.cancelled() and fut.exception() is None:
            md = fut.result()
            tp = TopicPartition(md.topic, md.partition)
            end_offsets[tp] = max(end_offsets.get(tp, 0), md.offset + 1)

    # MarketUpdate's wire form, written directly: the load generator shares
    # this machine's two cores with the worker, and validating each update
    # here cost it a third of a core
    blank = orjson.loads(MarketUpdate(race_id="r", runner_id="x", publish_time=datetime.now(UTC)).encode())
    sampler = asyncio.create_task(sample_lag())
    # a moment's updates go to the producer together, as one change message's
    # runners arrive together: burst, a market's 14; spread, one
    size = 1 if pattern == "spread" else 14
    moments = n // size
    marked = 0  # moments the echo is to return
    t0 = time.monotonic()
    for m in range(moments):
        await asyncio.sleep(max(0.0, t0 + m * size / total_rate - time.monotonic()))
        at = datetime.now(UTC)
        jumped = False
        for j in range(size):
            i = m * size + j
            race, runner = keys[i % len(keys)]
            jump = rng.random() < 0.01
            jumped = jumped or jump
            step = rng.gauss(0, 0.01) + (rng.gauss(0, 0.25) if jump else 0.0)
            p = prices[race, runner] = min(200.0, max(1.05, prices[race, runner] * math.exp(step)))
            wire = orjson.dumps({**blank, "race_id": race, "runner_id": runner, "publish_time": at.isoformat(),
                                 "back_price": round(p, 2), "lay_price": round(p * 1.02 + 0.01, 2),
                                 "traded_volume": float(i), "moment_size": size})  # fmt: skip
            # the echo returns a moment with a jump (the moves that call for a
            # re-prediction) when its last update is read
            last = echo and jumped and j == size - 1
            marked += last
            fut = await producer.send(settings.topic_market_updates, wire, key=race.encode(),
                                      headers=[(ECHO_HEADER, b"1")] if last else None)  # fmt: skip
            fut.add_done_callback(landed)
        completed[race][at.timestamp()] = time.time()
    n = moments * size
    await producer.flush()
    send_s = time.monotonic() - t0
    # drain: until the worker has committed every update (the echo: returned every moment)
    t_end = time.monotonic()
    drained = None
    while time.monotonic() - t_end < 120:
        if echo:  # it commits nothing: until every moment has come back
            done_all = moments_echoed >= marked
        else:
            done = await offsets.committed(list(end_offsets))
            done_all = all(done[tp] >= want for tp, want in end_offsets.items())
        if done_all:
            drained = time.monotonic() - t_end
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(rx, sampler)
    await producer.stop()
    await consumer.stop()
    await offsets.stop()

    moment, closed, inbound, outbound = [], [], [], []
    stages: dict[str, list[float]] = {}
    for recv, p in got:
        if p["trigger"] != "market" or p["market_time"] is None:
            continue
        mt = datetime.fromisoformat(p["market_time"]).timestamp()
        moment.append(recv - mt)
        last = completed[p["race_id"]].get(mt)
        if last is not None:
            closed.append(recv - last)
        if p["created_at"] is None:  # the echo's: no worker stages
            continue
        created = datetime.fromisoformat(p["created_at"]).timestamp()
        if last is not None:
            inbound.append(created - last)  # to the broker, to the worker, folded, judged and scored
        outbound.append(recv - created)  # handed to the producer, to the broker, to this consumer
        for stage, ms in p.get("timings_ms", {}).items():
            stages.setdefault(stage, []).append(ms / 1000)

    def pct(xs: list[float], q: float) -> float | None:
        return round(float(np.percentile(np.array(xs) * 1000, q)), 2) if xs else None

    lags = [x for _, x in lag]
    return {
        "pattern": pattern, "markets": n_markets, "runners": 14, "updates_per_runner_per_s": rate, "seconds": seconds,
        "updates_sent": n, "send_rate_per_s": round(n / send_s, 1),
        "predictions_on_moves": len(moment), "moves_per_s": round(len(moment) / send_s, 2),
        "latency_from_market_moment_ms": {"p50": pct(moment, 50), "p99": pct(moment, 99)},
        "latency_from_completing_update_ms": {"p50": pct(closed, 50), "p99": pct(closed, 99)},
        # where it goes: completing update -> the prediction's created_at, and created_at -> consumed here
        "completing_update_to_created_ms": {"p50": pct(inbound, 50), "p99": pct(inbound, 99)},
        "created_to_consumed_ms": {"p50": pct(outbound, 50), "p99": pct(outbound, 99)},
        "prediction_timings_ms_p50": {k: pct(v, 50) for k, v in stages.items()},
        "lag_max": max(lags) if lags else None, "lag_median": float(np.median(lags)) if lags else None,
        "lag_last_second_of_sending": lags[int(send_s) - 1] if len(lags) >= int(send_s) > 0 else None,
        "drain_seconds_after_last_update": None if drained is None else round(drained, 2),
        "kept_up": drained is not None and drained < 2.0,
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markets", type=int, default=30)
    ap.add_argument("--rate", type=float, default=5.0, help="updates a runner a second")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--pattern", choices=("burst", "spread"), nargs="+", default=["burst", "spread"])
    ap.add_argument("--linger-ms", type=int, default=None,
                    help="the load generator's producer linger (default: burst 0, spread 10)")  # fmt: skip
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a worker setting to override, e.g. state_batch_max=100 (repeatable)")  # fmt: skip
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="velo-afternoon-"))
    template = prepare_registry(tmp)
    stack = start_embedded_stack(None, 0, 0)
    runs = {}
    try:
        extra = dict(kv.split("=", 1) for kv in args.set)
        settings = stack.settings(registry_dir=tmp / "reg", log_dir=tmp / "logs", repredict_clock="wall", **extra)
        for pattern in args.pattern:
            proc, port = start_worker(settings, tmp / f"worker-{pattern}")
            try:
                wait_healthy(proc, port, 180)
                time.sleep(3)
                runs[pattern] = asyncio.run(afternoon(settings, template, args.markets, args.rate, args.seconds,
                                                      pattern, linger_ms=linger(args, pattern)))  # fmt: skip
                print(runs[pattern], flush=True)
            finally:
                proc.stop(30)
            floor = echo_floor(settings, template, tmp, args, pattern)
            print("echo", floor, flush=True)
            runs[pattern]["echo_floor"] = {k: floor[k] for k in ("latency_from_completing_update_ms", "kept_up")}
            worker_p50 = runs[pattern]["latency_from_completing_update_ms"]["p50"]
            floor_p50 = floor["latency_from_completing_update_ms"]["p50"]
            runs[pattern]["p50_to_floor"] = round(worker_p50 / floor_p50, 2) if worker_p50 and floor_p50 else None
    finally:
        stack.stop()
    result = {"runs": runs, "goal": {"keeps_up": True, "p50_ms": 20}, "machine": machine()}
    m = result["machine"]
    write_result("afternoon", result)
    rows = ""
    for pattern, r in runs.items():
        lm, lc = r["latency_from_market_moment_ms"], r["latency_from_completing_update_ms"]
        fl = r["echo_floor"]["latency_from_completing_update_ms"]
        rows += (f"| {pattern} | {r['updates_sent']:,} at {r['send_rate_per_s']:,}/s | {r['predictions_on_moves']:,} "
                 f"| {r['lag_median']} / {r['lag_max']} | {r['drain_seconds_after_last_update']} s "
                 f"| {'yes' if r['kept_up'] else '**no**'} | **{lm['p50']}** / {lm['p99']} ms "
                 f"| {lc['p50']} / {lc['p99']} ms | {fl['p50']} / {fl['p99']} ms | **{r['p50_to_floor']}x** |\n")  # fmt: skip
    update_section(
        "afternoon",
        f"""## A busy afternoon: re-prediction on live markets (`bench/afternoon.py`)

Command: `.venv/bin/python bench/afternoon.py --markets {args.markets} --rate {args.rate:g} --seconds {args.seconds:g}{"" if args.linger_ms is None else f" --linger-ms {args.linger_ms}"}` ·
one worker (`VELO_REPREDICT_CLOCK=wall`), embedded Tansu + Redis, {args.markets} markets x 14 runners x {args.rate:g}
updates/s, champion and shadow challenger · {m["cpu"]}, {m["cores"]} cores · commit {m["commit"]}

burst: a market's 14 runners together, one publish time, `moment_size` 14 (one exchange change message a market);
spread: runners in a shuffled round robin, each its own moment (every batch touches many markets). Goal: keeps up,
p50 <= 20 ms. The floor, in the same run on the same broker: a bare aiokafka echo (`bench/echo.py --marked`, the
worker's fetch wait and acks) reads the same updates and returns the completing update of each moment with a jump
in it (the moves that call for re-predictions).

| pattern | updates sent | re-predictions on moves | lag median / max (sampled each s) | drained after the last update | kept up | market moment -> prediction p50 / p99 | completing update -> prediction p50 / p99 | echo floor: completing update -> echoed p50 / p99 | worker / floor p50 |
|---|---|---|---|---|---|---|---|---|---|
{rows}
A moment (the updates sharing a publish time) is judged for a move as soon as its `moment_size` updates are in,
else when the race's next update closes it, or once `VELO_REPREDICT_SETTLE_MS` has passed with nothing after it.
""",
    )


if __name__ == "__main__":
    main()
