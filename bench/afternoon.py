"""A busy afternoon: 30 live markets, 14 runners each, 5 updates a runner a
second (2,100 updates/s), with re-prediction on, through one worker.

The cards go out first (their races are half an hour away, so no checkpoint
falls in the run: every prediction after the cards is a market move). Then
each runner's price takes a random walk, with an occasional jump that moves
its market probability materially, stamped with this machine's clock as a
live feed's would be. The worker runs as it would live
(``VELO_REPREDICT_CLOCK=wall``).

Reported:
- whether one worker keeps up: its consumer lag on the market topic, sampled
  every second, and how long it takes to drain after the last update;
- update -> prediction latency, p50 and p99, two ways: from the market moment
  the prediction names (its ``market_time``) and from the update that closed
  that moment (the race's next one), to the prediction being consumed.

Goal: it keeps up, with p50 <= 20 ms.
Usage: python bench/afternoon.py [--markets 30] [--rate 5] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
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
from bench.echo import wait_assigned
from bench.stream import card14, prepare_registry
from schemas import MarketUpdate
from streams.app import worker_group
from streams.embedded import start_embedded_stack
from streams.replay import GroupOffsets
from streams.worker_process import start_worker, wait_healthy


async def afternoon(settings, template, n_markets: int, rate: float, seconds: float, seed: int = 1) -> dict:
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:6]
    off = datetime.now(UTC) + timedelta(minutes=30)
    cards = [card14(template, f"pm-{tag}-{i}") for i in range(n_markets)]
    cards = [c.model_copy(update={"race": c.race.model_copy(update={"off_time": off})}) for c in cards]
    races = {c.race_id for c in cards}
    consumer = AIOKafkaConsumer(settings.topic_predictions, bootstrap_servers=settings.bootstrap_servers,
                                group_id=uuid.uuid4().hex, auto_offset_reset="latest", fetch_max_wait_ms=5)  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=1)
    offsets = GroupOffsets(settings, worker_group("velo"))
    await consumer.start()
    await producer.start()
    await offsets.start()
    await wait_assigned(consumer)
    got: list[tuple[float, dict]] = []  # (wall time consumed, prediction)
    stop = asyncio.Event()

    async def receive() -> None:
        while not stop.is_set():
            for recs in (await consumer.getmany(timeout_ms=50)).values():
                now = time.time()
                for r in recs:
                    if r.key and r.key.decode() in races:
                        got.append((now, orjson.loads(r.value)))

    rx = asyncio.create_task(receive())
    for c in cards:
        await producer.send(settings.topic_race_cards, c.encode(), key=c.race_id.encode())
    deadline = time.monotonic() + 60
    while sum(p["trigger"] == "card" for _, p in got) < n_markets and time.monotonic() < deadline:
        await asyncio.sleep(0.1)

    # the updates: round robin over (market, runner), each a random-walk step
    prices = {(c.race_id, r.runner_id): r.price for c in cards for r in c.runners}
    keys = list(prices)
    total_rate = rate * len(keys)
    n = int(total_rate * seconds)
    sent_at: dict[str, list[float]] = {c.race_id: [] for c in cards}  # publish times, in order
    end_offsets: dict[TopicPartition, int] = {}
    lag: list[tuple[float, int]] = []

    async def sample_lag() -> None:
        while not stop.is_set():
            await asyncio.sleep(1.0)
            if end_offsets:
                done = await offsets.committed(list(end_offsets))
                lag.append((time.monotonic(), sum(max(0, end_offsets[tp] - done[tp]) for tp in end_offsets)))

    def landed(fut: asyncio.Future) -> None:
        if not fut.cancelled() and fut.exception() is None:
            md = fut.result()
            tp = TopicPartition(md.topic, md.partition)
            end_offsets[tp] = max(end_offsets.get(tp, 0), md.offset + 1)

    sampler = asyncio.create_task(sample_lag())
    t0 = time.monotonic()
    for i in range(n):
        await asyncio.sleep(max(0.0, t0 + i / total_rate - time.monotonic()))
        race, runner = keys[i % len(keys)]
        step = rng.gauss(0, 0.01) + (rng.gauss(0, 0.25) if rng.random() < 0.01 else 0.0)
        p = prices[race, runner] = min(200.0, max(1.05, prices[race, runner] * math.exp(step)))
        at = datetime.now(UTC)
        upd = MarketUpdate(race_id=race, runner_id=runner, publish_time=at, back_price=round(p, 2),
                           lay_price=round(p * 1.02 + 0.01, 2), traded_volume=float(i))  # fmt: skip
        fut = await producer.send(settings.topic_market_updates, upd.encode(), key=race.encode())
        fut.add_done_callback(landed)
        sent_at[race].append(at.timestamp())
    await producer.flush()
    send_s = time.monotonic() - t0
    # drain: until the worker has committed every update
    t_end = time.monotonic()
    drained = None
    while time.monotonic() - t_end < 120:
        done = await offsets.committed(list(end_offsets))
        if all(done[tp] >= want for tp, want in end_offsets.items()):
            drained = time.monotonic() - t_end
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(rx, sampler)
    await producer.stop()
    await consumer.stop()
    await offsets.stop()

    moment, closed = [], []
    for recv, p in got:
        if p["trigger"] != "market" or p["market_time"] is None:
            continue
        mt = datetime.fromisoformat(p["market_time"]).timestamp()
        moment.append(recv - mt)
        times = sent_at[p["race_id"]]
        k = bisect.bisect_right(times, mt)
        if k < len(times):
            closed.append(recv - times[k])

    def pct(xs: list[float], q: float) -> float | None:
        return round(float(np.percentile(np.array(xs) * 1000, q)), 2) if xs else None

    lags = [x for _, x in lag]
    return {
        "markets": n_markets, "runners": 14, "updates_per_runner_per_s": rate, "seconds": seconds,
        "updates_sent": n, "send_rate_per_s": round(n / send_s, 1),
        "predictions_on_moves": len(moment), "moves_per_s": round(len(moment) / send_s, 2),
        "latency_from_market_moment_ms": {"p50": pct(moment, 50), "p99": pct(moment, 99)},
        "latency_from_closing_update_ms": {"p50": pct(closed, 50), "p99": pct(closed, 99)},
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
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="velo-afternoon-"))
    template = prepare_registry(tmp)
    stack = start_embedded_stack(None, 0, 0)
    try:
        settings = stack.settings(registry_dir=tmp / "reg", log_dir=tmp / "logs", repredict_clock="wall")
        proc, port = start_worker(settings, tmp / "worker")
        try:
            wait_healthy(proc, port, 180)
            time.sleep(3)
            result = asyncio.run(afternoon(settings, template, args.markets, args.rate, args.seconds))
        finally:
            proc.stop(30)
    finally:
        stack.stop()
    result["goal"] = {"keeps_up": True, "p50_ms": 20}
    result["machine"] = m = machine()
    print(result)
    write_result("afternoon", result)
    lm, lc = result["latency_from_market_moment_ms"], result["latency_from_closing_update_ms"]
    update_section(
        "afternoon",
        f"""## A busy afternoon: re-prediction on live markets (`bench/afternoon.py`)

Command: `.venv/bin/python bench/afternoon.py --markets {args.markets} --rate {args.rate:g} --seconds {args.seconds:g}` ·
one worker (`VELO_REPREDICT_CLOCK=wall`), embedded Tansu + Redis, {args.markets} markets x 14 runners x {args.rate:g}
updates/s, champion and shadow challenger · {m["cpu"]}, {m["cores"]} cores · commit {m["commit"]}

| measure | figure | goal |
|---|---|---|
| updates sent | {result["updates_sent"]:,} at {result["send_rate_per_s"]:,}/s | 2,100/s |
| re-predictions on material moves | {result["predictions_on_moves"]:,} ({result["moves_per_s"]}/s) | |
| consumer lag on the market topic, sampled each second | median {result["lag_median"]}, max {result["lag_max"]} | bounded |
| drained after the last update | {result["drain_seconds_after_last_update"]} s | keeps up |
| market moment -> prediction consumed, p50 / p99 | **{lm["p50"]} ms** / {lm["p99"]} ms | p50 <= 20 ms |
| closing update sent -> prediction consumed, p50 / p99 | {lc["p50"]} ms / {lc["p99"]} ms | |

A moment (a runner's update) is judged for a move when the race's next update closes it, or after
`VELO_REPREDICT_SETTLE_MS` by the wall clock; the first latency includes that wait (about one update
interval of the race, {1000 / (14 * args.rate):.0f} ms here), the second does not.
""",
    )


if __name__ == "__main__":
    main()
