"""Every lifecycle transition, tamper refusal and parallel writers."""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
from pathlib import Path

import pytest

from velo.registry import Registry, RegistryError
from velo.training.artifacts import UntrustedArtifact


def _roles(reg: Registry, name: str = "m") -> dict[str, tuple[str, str]]:
    return {r.version: (r.stage, r.role) for r in reg.list(name)}


def test_register_records_provenance(tmp_path: Path, model_dirs) -> None:
    reg = Registry(tmp_path)
    rec = reg.register(model_dirs[0], "m")
    assert (rec.version, rec.stage, rec.role) == ("1", "staging", "none")
    assert len(rec.artifact_sha256) == 64 and rec.artifact_size > 0 and set(rec.files) == {
        "sqpe.skops", "tie.skops", "model.json"}  # fmt: skip
    assert reg.register(model_dirs[1], "m").version == "2"
    assert [e.action for _, e in reg.outbox()] == ["register", "register"]


def test_full_lifecycle(tmp_path: Path, model_dirs) -> None:
    reg = Registry(tmp_path)
    for d in (model_dirs[0], model_dirs[1], model_dirs[0]):
        reg.register(d, "m")
    reg.promote("m", "1")
    assert _roles(reg)["1"] == ("production", "champion")
    reg.set_challenger("m", "2")
    assert reg.challenger("m").version == "2"
    reg.set_challenger("m", "3")
    assert _roles(reg)["2"] == ("staging", "none"), "one challenger at a time"
    reg.promote("m", "3")
    assert _roles(reg)["3"] == ("production", "champion")
    assert _roles(reg)["1"] == ("archived", "none"), "the previous champion is archived"
    assert sum(1 for r in reg.list("m") if r.role == "champion") == 1
    back = reg.rollback("m")
    assert back.version == "1" and _roles(reg)["1"] == ("production", "champion")
    assert _roles(reg)["3"] == ("archived", "none")
    with pytest.raises(RegistryError, match="no earlier champion"):
        reg.rollback("m")
    reg.demote("m", "1")
    assert reg.champion("m") is None and _roles(reg)["1"] == ("staging", "none")
    reg.archive("m", "2")
    assert _roles(reg)["2"] == ("archived", "none")
    actions = [h["action"] for h in reg.history("m")]
    assert actions.count("promote") == 2 and "rollback" in actions and "demote" in actions


@pytest.mark.parametrize(
    "op, message",
    [
        (lambda r: r.promote("m", "9"), "m version 9 is not registered; known versions: 1, 2"),
        (lambda r: r.promote("x", "1"), "no model named 'x'"),
        (lambda r: r.demote("m", "2"), "only the champion can be demoted"),
        (lambda r: r.archive("m", "1"), "is the champion; promote another or demote it first"),
        (lambda r: r.promote("m", "1"), "already the champion"),
        (lambda r: (r.archive("m", "2"), r.promote("m", "2")), "only a staging model can be promoted"),
        (lambda r: (r.archive("m", "2"), r.set_challenger("m", "2")), "only a staging model can be the challenger"),
    ],
)
def test_invalid_transitions_are_refused_with_reasons(tmp_path: Path, model_dirs, op, message) -> None:
    reg = Registry(tmp_path)
    reg.register(model_dirs[0], "m")
    reg.register(model_dirs[1], "m")
    reg.promote("m", "1")
    before = (tmp_path / "index.json").read_text()
    with pytest.raises(RegistryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        op(reg)
    if "archive" not in message and "staging model" not in message:
        assert (tmp_path / "index.json").read_text() == before, "a refused change must not touch the index"


def test_register_refuses_a_directory_that_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"missing sqpe\.skops"):
        Registry(tmp_path / "reg").register(tmp_path, "m")


def test_tampered_artifact_is_refused(tmp_path: Path, model_dirs) -> None:
    reg = Registry(tmp_path)
    reg.register(model_dirs[0], "m")
    reg.load("m", "1")
    path = tmp_path / "m" / "1" / "model.json"
    doc = json.loads(path.read_text())
    doc["orchestrator"]["without_market"][0] = 99.0
    path.write_text(json.dumps(doc))
    with pytest.raises(UntrustedArtifact, match=r"model\.json: sha256"):
        reg.load("m", "1")


def _writer(root: str, src: str, n: int) -> None:
    reg = Registry(root)
    for _ in range(n):
        rec = reg.register(src, "m")
        with contextlib.suppress(RegistryError):  # another writer may have crowned it already
            reg.promote("m", rec.version)


def test_parallel_writers_never_corrupt_or_crown_two(tmp_path: Path, model_dirs) -> None:
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), str(model_dirs[i % 2]), 4)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    reg = Registry(tmp_path)
    recs = reg.list("m")
    assert sorted(int(r.version) for r in recs) == list(range(1, 17)), "every register got its own version"
    assert sum(1 for r in recs if r.role == "champion") == 1
    assert sum(1 for h in reg.history("m") if h["action"] == "register") == 16
    seqs = [s for s, _ in reg.outbox()]
    assert seqs == list(range(1, len(seqs) + 1)), "outbox sequence is gap-free and ordered"
