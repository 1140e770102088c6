"""velo train / backtest / explain end to end on a small simulated file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from velo.cli.main import main


def test_train_writes_artifacts_and_provenance(sim_file: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VELO_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "model"
    res = CliRunner().invoke(main, ["train", "--data", str(sim_file), "--until", "2024-02-25", "--out", str(out),
                                    "--cv-splits", "3", "--sqpe-iterations", "30", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    printed = json.loads(res.stdout)  # --json: one document on stdout, progress on stderr
    assert printed["out"] == str(out) and len(printed["cv"]) == 3 and printed["races"] > 0
    meta = json.loads((out / "metadata.json").read_text())
    assert printed["metadata"]["data"]["train_to"] == meta["data"]["train_to"]
    assert len(meta["features"]["sqpe"]) == 50 and len(meta["features"]["tie"]) == 7
    assert meta["data"]["data_sha256"] and meta["git_commit"] and meta["versions"]["scikit-learn"]
    assert meta["data"]["train_to"] < "2024-02-25"
    assert set(meta["artifacts"]) == {"sqpe.skops", "tie.skops", "model.json"}
    assert len(json.loads((out / "metrics.json").read_text())["cv"]) == 3
    res = CliRunner().invoke(main, ["explain", "--model", str(out), "--data", str(sim_file), "--top", "2"])
    assert res.exit_code == 0, res.output
    assert "SHAP" in res.output


def test_backtest_writes_report_and_plots(sim_file: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VELO_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "bt"
    res = CliRunner().invoke(main, ["backtest", "--data", str(sim_file), "--test-from", "2024-02-20",
                                    "--period", "month", "--out", str(out), "--sqpe-iterations", "30",
                                    "--commission", "0.02", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    rep = json.loads((out / "report.json").read_text())
    assert json.loads(res.stdout) == rep
    assert rep["overall"]["betting"]["flat"]["commission"] == 0.02
    assert {"overall", "periods"} <= set(rep)
    for scope in ("model", "sqpe", "market_pre", "market_final"):
        assert {"pseudo_r2", "logloss", "n_races"} <= set(rep["overall"][scope])
    for png in ("calibration.png", "pnl.png", "r2_by_period.png"):
        assert (out / png).stat().st_size > 1000


def test_bad_dates_are_named(sim_file: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["backtest", "--data", str(sim_file), "--test-from", "someday",
                                    "--out", str(tmp_path)])  # fmt: skip
    assert res.exit_code == 2 and "'someday' is not an ISO date" in res.output


def test_served_races_default_to_after_the_served_models_training_data(tmp_path: Path, model_dirs) -> None:
    import shutil
    from types import SimpleNamespace

    import pandas as pd

    from velo.cli.model_cmds import _training_end
    from velo.config import Settings
    from velo.registry import Registry

    settings = Settings(registry_dir=tmp_path / "reg")
    reg = Registry(settings.registry_dir)
    for to in ("2024-02-01T00:00:00+00:00", "2024-03-01T00:00:00+00:00"):
        d = tmp_path / f"m{to[:7]}"
        shutil.copytree(model_dirs[0], d)
        (d / "metadata.json").write_text(json.dumps({"data": {"train_to": to}}))
        reg.register(d, "velo")
    served = [SimpleNamespace(model_name="velo", model_version=v) for v in ("1", "2", "1")]
    end, why = _training_end(served, settings)
    assert end == pd.Timestamp("2024-03-01", tz="UTC") and "velo v2" in why  # the later of the two that served
    unknown = [SimpleNamespace(model_name="velo", model_version="9")]
    assert _training_end(unknown, settings) == (None, "")
