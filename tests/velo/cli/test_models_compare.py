"""``velo models compare``: the decision, its files, --apply through the registry, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from tests.velo.mlops.repeats import build
from tests.velo.mlops.repeats import write as repeats_write
from tests.velo.mlops.world import models, scored, write_log
from velo.cli.main import main
from velo.registry import Registry
from velo.training.artifacts import save_model


def test_compare_apply_promotes_the_better_challenger(tmp_path: Path, monkeypatch) -> None:
    reg_dir, logs = tmp_path / "reg", tmp_path / "logs"
    monkeypatch.setenv("VELO_REGISTRY_DIR", str(reg_dir))
    run = CliRunner().invoke
    champion, challenger = models()
    for i, m in enumerate((champion, challenger)):
        save_model(m, tmp_path / f"m{i}")
        assert run(main, ["models", "register", "--name", "velo", "--from", str(tmp_path / f"m{i}"),
                          "--no-publish"]).exit_code == 0  # fmt: skip

    r = run(main, ["models", "compare", "velo", "--log-dir", str(logs)])
    assert r.exit_code != 0 and "has no champion" in r.output
    assert run(main, ["models", "promote", "velo", "1", "--no-publish"]).exit_code == 0
    r = run(main, ["models", "compare", "velo", "--log-dir", str(logs)])
    assert r.exit_code != 0 and "has no challenger" in r.output
    assert run(main, ["models", "set-challenger", "velo", "2", "--no-publish"]).exit_code == 0
    r = run(main, ["models", "compare", "velo", "--log-dir", str(logs)])
    assert r.exit_code != 0 and "does not exist" in r.output
    logs.mkdir()
    r = run(main, ["models", "compare", "velo", "--log-dir", str(logs)])
    assert r.exit_code != 0 and "no labelled races for velo" in r.output
    r = run(main, ["models", "compare", "velo", "--challenger", "7", "--log-dir", str(logs)])
    assert r.exit_code != 0 and "velo version 7 is not registered" in r.output

    test, champ, chall = scored()
    first = test["race_id"].isin(set(pd.unique(test["race_id"])[:400])).to_numpy()
    write_log(logs, {"1": champ[first], "2": chall[first]}, test[first])
    # not enough races for a stricter policy: keep, and --apply changes nothing
    r = run(main, ["models", "compare", "velo", "--log-dir", str(logs), "--min-races", "1000", "--apply",
                   "--no-publish"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "keep: only 400 races" in r.output and Registry(reg_dir).champion("velo").version == "1"

    out = tmp_path / "cmp"
    r = run(main, ["models", "compare", "velo", "--log-dir", str(logs), "--out", str(out), "--apply",
                   "--no-publish"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "DECISION promote" in r.output and "velo v2: stage production, role champion" in r.output
    assert "queued in the outbox" in r.output
    reg = Registry(reg_dir)
    assert reg.champion("velo").version == "2" and reg.get("velo", "1").stage == "archived"
    assert [e.action for _, e in reg.outbox()][-2:] == ["archive", "promote"]
    doc = json.loads((out / "comparison.json").read_text())
    assert doc["decision"]["action"] == "promote" and doc["test"]["n_races"] == 400
    assert (out / "comparison.png").stat().st_size > 1000

    r = run(main, ["models", "compare", "velo", "--log-dir", str(logs), "--champion", "1", "--challenger", "2",
                   "--json"])  # fmt: skip
    assert r.exit_code == 0 and json.loads(r.output)["summaries"][1]["version"] == "2"


def test_compare_reports_races_used_and_predicted_races_without_outcome(
    tmp_path: Path, champion_and_challenger
) -> None:
    run = champion_and_challenger
    log = build()
    args = ["models", "compare", "velo", "--bootstrap", "500", "--json"]
    r = run([*args, "--log-dir", str(repeats_write(tmp_path / "dirty", log.dirty))])
    assert r.exit_code == 0, r.output
    dirty = json.loads(r.stdout)
    assert dirty["coverage"] == {"races_used": log.races, "races_with_outcome": log.races,
                                 "races_without_outcome": log.waiting, "duplicate_rows": log.repeats}  # fmt: skip
    r = run([*args, "--log-dir", str(repeats_write(tmp_path / "clean", log.clean))])
    clean = json.loads(r.stdout)
    assert clean.pop("coverage")["duplicate_rows"] == 0
    dirty.pop("coverage")
    assert dirty == clean, "repeated rows change no figure"
    r = run(["models", "compare", "velo", "--bootstrap", "500", "--log-dir", str(tmp_path / "dirty")])
    assert r.exit_code == 0, r.output
    assert (f"used {log.races} races with results; {log.waiting} predicted races had no outcome yet "
            f"({log.repeats:,} repeated log rows counted once) (v1 and v2)") in r.output  # fmt: skip
    # nothing labelled yet: the error says how many predictions are waiting
    pending = [row for row in log.clean if row.won is None]
    r = run(["models", "compare", "velo", "--log-dir", str(repeats_write(tmp_path / "waiting", pending))])
    assert r.exit_code == 1 and f"{log.races + log.waiting} predicted races had no outcome yet" in r.output
