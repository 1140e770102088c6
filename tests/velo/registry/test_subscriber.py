"""Workers follow the registry: hot swap, catching up after missed events, refusing bad artifacts."""

from __future__ import annotations

import json
from pathlib import Path

from velo.registry import Registry
from velo.registry.subscriber import ModelHolder


def test_worker_that_missed_events_catches_up_from_the_index(tmp_path: Path, model_dirs) -> None:
    reg = Registry(tmp_path)
    for d in model_dirs:
        reg.register(d, "m")
    reg.promote("m", "1")
    reg.set_challenger("m", "2")
    holder = ModelHolder(Registry(tmp_path), "m")  # started after every event: it saw none
    assert holder.catch_up()
    assert holder.champion.record.version == "1" and holder.challenger.record.version == "2"
    old = holder.champion.model
    reg.promote("m", "2")
    events = [e for _, e in reg.outbox()]
    assert holder.on_event(events[-1])  # only the last event: still ends up right
    assert holder.champion.record.version == "2" and holder.challenger is None
    assert old is not holder.champion.model
    assert not holder.on_event(events[-1]), "a repeated event changes nothing"


def test_bad_new_artifact_keeps_the_running_champion(tmp_path: Path, model_dirs) -> None:
    reg = Registry(tmp_path)
    for d in model_dirs:
        reg.register(d, "m")
    reg.promote("m", "1")
    holder = ModelHolder(reg, "m")
    holder.catch_up()
    assert holder.swap_error is None
    reg.promote("m", "2")  # verified when promoted; the file is damaged on disk afterwards
    path = tmp_path / "m" / "2" / "sqpe.skops"
    good = path.read_bytes()
    path.write_bytes(b"truncated")
    assert not holder.catch_up()
    assert holder.champion.record.version == "1"
    assert "sha256" in holder.errors[-1] and "keeping the running models" in holder.errors[-1]
    assert holder.swap_error == holder.errors[-1], "the health check sees the refused swap"
    assert not holder.catch_up() and len(holder.errors) == 2 and holder.swap_error == holder.errors[-1]
    path.write_bytes(good)  # repaired: the next catch_up swaps and clears the failure
    assert holder.catch_up()
    assert holder.champion.record.version == "2" and holder.swap_error is None and len(holder.errors) == 2


def test_events_name_other_models_are_ignored(tmp_path: Path, model_dirs) -> None:
    reg = Registry(tmp_path)
    reg.register(model_dirs[0], "other")
    holder = ModelHolder(reg, "m")
    assert not holder.on_event(reg.outbox()[-1][1])
    assert json.loads((tmp_path / "index.json").read_text())["models"]
