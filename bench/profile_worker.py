"""Profile the worker under bench/stream.py's load with py-spy.

Usage: python bench/profile_worker.py [--rate 50] [--seconds 10] [--backlog 2000] [--out flame.txt]
       python bench/profile_worker.py --load afternoon [--seconds 20]  [--pattern spread]  (bench/afternoon.py, wall clock)
       python bench/profile_worker.py --load replay [--days 40]  (a simulated history through velo replay's barriers)

Starts the embedded stack and one worker exactly as bench/stream.py does,
records the worker with ``py-spy record --format raw`` while the load runs,
and prints the hottest functions (own time and cumulative). Profile before
optimising: this is what the speed work is decided from.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.afternoon import afternoon
from bench.stream import measure, prepare_registry
from streams.app import worker_group
from streams.embedded import start_embedded_stack
from streams.replay import replay
from streams.worker_process import start_worker, wait_healthy
from velo.sim import SimConfig, simulate


def summarise(raw: Path, top: int = 40) -> str:
    """Own and inclusive sample counts per frame from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = stack.split(";")
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    lines = [f"{total} samples", "-- own --"]
    lines += [f"{n / total:6.1%} {f}" for f, n in own.most_common(top)]
    lines += ["-- inclusive --"]
    lines += [f"{n / total:6.1%} {f}" for f, n in incl.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=50, help="cards/s (stream) or updates a runner a second (afternoon)")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--backlog", type=int, default=2000)
    ap.add_argument("--load", choices=("stream", "afternoon", "replay"), default="stream")
    ap.add_argument(
        "--days", type=int, default=40, help="replay: simulated race days (8 races, seven market updates a runner)"
    )
    ap.add_argument("--pattern", choices=("burst", "spread"), default="burst", help="the afternoon's pattern")
    ap.add_argument("--gil", action="store_true",
                    help="sample only the thread holding the GIL (else every thread, named)")  # fmt: skip
    ap.add_argument("--out", type=Path, default=Path("bench/results/profile-worker.txt"))
    ap.add_argument("--top", type=int, default=40, help="frames listed, own and inclusive")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="velo-prof-"))
    template = prepare_registry(tmp)
    stack = start_embedded_stack(None, 0, 0)
    try:
        wall = {"repredict_clock": "wall"} if args.load == "afternoon" else {}
        settings = stack.settings(registry_dir=tmp / "reg", log_dir=tmp / "logs", **wall)
        proc, port = start_worker(settings, tmp / "worker")
        try:
            wait_healthy(proc, port, 180)
            time.sleep(3)
            raw = tmp / "raw.txt"
            spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--format", "raw", "--rate", "200", "--nonblocking",
                                    *(["--gil"] if args.gil else ["--threads"]), "-o", str(raw), "--pid", str(proc.pid)])  # fmt: skip
            time.sleep(1)
            if args.load == "afternoon":
                entry = asyncio.run(afternoon(settings, template, 30, args.rate, args.seconds, args.pattern))
            elif args.load == "replay":
                events = simulate(SimConfig(seed=9, days=args.days, day_step=1, n_horses=1500)).events()
                summary = asyncio.run(replay(events, settings, group=worker_group("velo"), timeout_s=120))
                waits = sorted(summary.barrier_waits)
                entry = {**summary.as_dict(), "barrier_ms_p50": round(waits[len(waits) // 2] * 1000, 1)}
            else:
                entry = measure(settings, template, args.rate, int(args.rate * args.seconds), args.backlog)
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
            spy.wait(30)
            print(entry)
            text = summarise(raw, args.top)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(f"{entry}\n{text}\n")
            print(text)
        finally:
            proc.stop(30)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
