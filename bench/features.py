"""Feature-engine benchmark.

1. Offline building over all of Hong Kong, in-process store: runners/s
   (goal >= 50,000), with and without building the events.
2. Card feature latency with the Redis backend (real redis-server on
   loopback): p50/p99 per race (goal p50 <= 1 ms).

Usage: python bench/features.py [--data ../shared/data/hkracing] [--redis-races N]
Falls back to the simulator when the Hong Kong data is not present.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, update_section, write_result
from velo.data import events as ev_mod
from velo.features import FeatureEngine, MemoryStore
from velo.features.offline import replay
from velo.features.redis_store import RedisStore
from velo.stack import RedisServer


def load(data: Path | None):
    if data and data.exists():
        from velo.data import hk

        df, _ = hk.load(data)
        return f"Hong Kong 1997-2005 ({data})", df
    from velo.sim import SimConfig, simulate

    return "simulator (seed 7, 720 days)", simulate(SimConfig(days=720)).canonical


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/hkracing")
    ap.add_argument("--redis-races", type=int, default=1500, help="races replayed into Redis before timing")
    ap.add_argument("--repeat", type=int, default=3, help="offline builds timed; the best is reported")
    ap.add_argument("--no-markdown", action="store_true")
    args = ap.parse_args()

    source, df = load(args.data)
    runners = len(df)
    t0 = time.perf_counter()
    events = ev_mod.build_events(df)
    t_events = time.perf_counter() - t0
    # best of a few full builds: the VM's noise only ever adds time
    runs = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        replay(events, FeatureEngine(MemoryStore()))
        runs.append(time.perf_counter() - t0)
    t_features = min(runs)

    # Redis: replay the first N races, then time every card's feature read.
    races = [e.key for e in events if e.kind == "card"][: args.redis_races]
    keep = set(races)
    subset = [e for e in events if e.key in keep]
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp), appendonly=False)
        server.start()
        try:
            store = RedisStore.from_url(server.url, prefix="bench:")
            engine = FeatureEngine(store)
            lat_card, lat_features, lat_result = [], [], []
            for e in subset:
                if e.kind == "card":
                    t = time.perf_counter()
                    engine.features(e.message)
                    lat_features.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    engine.on_card(e.message)
                    lat_card.append(time.perf_counter() - t)
                elif e.kind == "result":
                    t = time.perf_counter()
                    engine.on_result(e.message)
                    lat_result.append(time.perf_counter() - t)
        finally:
            server.stop()

    def pct(xs: list[float], q: float) -> float:
        return round(float(np.percentile(xs, q)) * 1000, 3)

    result = {
        "source": source,
        "runners": runners,
        "races": len(races) if False else int(df["race_id"].nunique()),
        "offline_features_seconds": round(t_features, 3),
        "offline_features_runs_seconds": [round(x, 3) for x in runs],
        "offline_runners_per_s": round(runners / t_features),
        "offline_with_events_runners_per_s": round(runners / (t_features + t_events)),
        "events_build_seconds": round(t_events, 3),
        "redis_races_timed": len(lat_features),
        "redis_card_features_ms": {"p50": pct(lat_features, 50), "p99": pct(lat_features, 99)},
        "redis_on_card_ms": {"p50": pct(lat_card, 50), "p99": pct(lat_card, 99)},
        "redis_on_result_ms": {"p50": pct(lat_result, 50), "p99": pct(lat_result, 99)},
        "goals": {"offline_runners_per_s": 50_000, "redis_card_features_p50_ms": 1.0},
        "machine": machine(),
    }
    path = write_result("features", result)
    print(f"wrote {path}")
    for k, v in result.items():
        if k != "machine":
            print(f"{k}: {v}")
    if not args.no_markdown:
        m = result["machine"]
        update_section(
            "features",
            f"""## Feature engine (`bench/features.py`)

Command: `.venv/bin/python bench/features.py` (`--repeat 3`) · data: {source} · machine: {m["cpu"]}, {m["cores"]} cores,
Python {m["python"]} · commit {m["commit"]} · {m["when"]}

| measure | figure | goal |
|---|---|---|
| offline features, in-process store, best of {len(runs)} | **{result["offline_runners_per_s"]:,} runners/s** ({runners:,} runners in {t_features:.2f} s; runs {", ".join(f"{x:.2f}" for x in runs)} s) | >= 50,000 runners/s |
| offline incl. building the events | {result["offline_with_events_runners_per_s"]:,} runners/s (events {t_events:.1f} s) | |
| card features, Redis backend, p50 / p99 | **{result["redis_card_features_ms"]["p50"]} / {result["redis_card_features_ms"]["p99"]} ms** per race | p50 <= 1 ms |
| `on_card` (features + store the card), Redis, p50 / p99 | {result["redis_on_card_ms"]["p50"]} / {result["redis_on_card_ms"]["p99"]} ms | |
| `on_result` (apply a race), Redis, p50 / p99 | {result["redis_on_result_ms"]["p50"]} / {result["redis_on_result_ms"]["p99"]} ms | |

Redis figures are over the first {len(lat_features):,} races replayed into a fresh redis-server on loopback.
""",
        )


if __name__ == "__main__":
    main()
