"""``velo models compare --apply`` through the real broker: the promotion is
published on registry-events and a worker's model holder swaps to it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from schemas import PredictionLog
from streams.admin import ensure_topics
from streams.registry_events import read_events
from velo.cli.main import main
from velo.config import Settings
from velo.logs.prediction_log import PredictionLogSink
from velo.registry import Registry
from velo.registry.subscriber import ModelHolder


def _log(directory: Path, races: int = 400) -> None:
    """v1 says every runner is equally likely; v2 knows the winner half the time."""
    rows, t0 = [], datetime(2025, 3, 1, tzinfo=UTC)
    for i in range(races):
        t = t0 + timedelta(minutes=10 * i)
        winner = i % 8
        for v in ("1", "2"):
            for h in range(8):
                p = 1 / 8 if v == "1" else (0.5 if h == winner else 0.5 / 7)
                common = dict(request_id=f"q{i}", race_id=f"r{i}", horse_id=f"h{h}", model_name="m",
                              model_version=v, is_champion=v == "1")  # fmt: skip
                rows.append(PredictionLog(timestamp=t, final_prob=p, **common))
                rows.append(PredictionLog(timestamp=t + timedelta(minutes=5), won=h == winner,
                                          result_position=1 if h == winner else 2, **common))  # fmt: skip
    PredictionLogSink(directory).write_batch(rows)


def test_apply_publishes_the_promotion_and_the_worker_swaps(tmp_path: Path, model_dirs, settings: Settings,
                                                            monkeypatch) -> None:  # fmt: skip
    s = settings.model_copy(update={"topic_registry_events": f"registry-{uuid.uuid4().hex[:6]}",
                                    "registry_dir": tmp_path / "reg"})  # fmt: skip
    s.__dict__.pop("topics", None)
    asyncio.run(ensure_topics(s))
    for key, value in s.env().items():
        monkeypatch.setenv(key, value)
    reg = Registry(s.registry_dir)
    for d in model_dirs:
        reg.register(d, "m")
    reg.promote("m", "1")
    reg.set_challenger("m", "2")
    holder = ModelHolder(reg, "m")
    holder.catch_up()
    assert holder.champion.record.version == "1"
    _log(tmp_path / "logs")

    r = CliRunner().invoke(main, ["models", "compare", "m", "--log-dir", str(tmp_path / "logs"), "--apply"])
    assert r.exit_code == 0, r.output
    assert "DECISION promote" in r.output and f"to {s.topic_registry_events}" in r.output
    events = asyncio.run(read_events(s))
    assert [(e.action, e.version) for e in events][-2:] == [("archive", "1"), ("promote", "2")]
    for e in events:
        holder.on_event(e)
    assert holder.champion.record.version == "2" and holder.challenger is None
