"""``velo monitor`` end to end on small simulated worlds written as canonical files.

Seed 5, 240 days, 700 horses, with and without a regime change on day 160
(2024-06-14); the champion is trained by ``velo train`` on the days before it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.velo.mlops.repeats import build
from tests.velo.mlops.repeats import write as repeats_write
from tests.velo.mlops.world import write_log
from velo.cli.main import main
from velo.data import canonical
from velo.registry import Registry
from velo.sim import SimConfig, simulate
from velo.training.artifacts import load_model
from velo.training.dataset import load_training_frame

SHIFT = "2024-06-14"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("monitor-data")
    out = {}
    for key, shift in (("stable", None), ("shifted", 160)):
        out[key] = d / f"{key}.csv"
        canonical.write(simulate(SimConfig(seed=5, days=240, n_horses=700, shift_day=shift)).canonical, out[key])
    return out


def test_monitor_alerts_on_the_regime_change_and_retrains(tmp_path: Path, files, model_dirs, monkeypatch) -> None:
    monkeypatch.setenv("VELO_REGISTRY_DIR", str(tmp_path / "reg"))
    monkeypatch.setenv("VELO_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("VELO_CACHE_DIR", str(tmp_path / "cache"))
    run = CliRunner().invoke
    r = run(main, ["monitor", "velo", "--data", str(files["stable"])])
    assert r.exit_code != 0 and "velo has no champion" in r.output

    r = run(main, ["train", "--data", str(files["stable"]), "--until", SHIFT, "--out", str(tmp_path / "m1"),
                   "--sqpe-iterations", "10", "--cv-splits", "2"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (tmp_path / "m1" / "reference.json").exists()
    assert run(main, ["models", "register", "--name", "velo", "--from", str(tmp_path / "m1"),
                      "--no-publish"]).exit_code == 0  # fmt: skip
    assert run(main, ["models", "promote", "velo", "1", "--no-publish"]).exit_code == 0
    assert (tmp_path / "reg" / "velo" / "1" / "reference.json").exists()

    # clear errors
    r = run(main, ["monitor", "velo"])
    assert r.exit_code != 0 and "nothing to monitor for velo v1" in r.output
    r = run(main, ["monitor", "velo", "--version", "9", "--data", str(files["stable"])])
    assert r.exit_code != 0 and "velo version 9 is not registered" in r.output
    r = run(main, ["monitor", "velo", "--data", str(files["stable"]), "--since", "2030-01-01"])
    assert r.exit_code != 0 and "no races in" in r.output and "the file covers 2024-01-06..2024-08-31" in r.output
    r = run(main, ["monitor", "velo", "--data", str(files["stable"]), "--since", "someday"])
    assert r.exit_code != 0 and "'someday' is not an ISO date" in r.output
    assert run(main, ["models", "register", "--name", "velo", "--from", str(model_dirs[0]),
                      "--no-publish"]).exit_code == 0  # fmt: skip
    r = run(main, ["monitor", "velo", "--version", "2", "--data", str(files["stable"])])
    assert r.exit_code != 0 and "no drift reference for velo v2" in r.output

    # the same world without a change: quiet
    r = run(main, ["monitor", "velo", "--data", str(files["stable"])])
    assert r.exit_code == 0, r.output
    assert "no alerts for velo v1" in r.output and "ALERT" not in r.output

    # with the regime change: an alert, Prometheus text, and a retrained challenger
    prom = tmp_path / "velo.prom"
    r = run(main, ["monitor", "velo", "--data", str(files["shifted"]), "--metrics-out", str(prom),
                   "--retrain-data", str(files["shifted"]), "--sqpe-iterations", "10", "--no-publish"])  # fmt: skip
    assert r.exit_code == 1, r.output
    assert "ALERT feature drift: PSI of nds_overround" in r.output
    assert "velo v3: stage staging, role challenger" in r.output
    assert Registry(tmp_path / "reg").challenger("velo").version == "3"
    text = prom.read_text()
    assert "velo_drift_alert 1.0" in text and 'velo_drift_alerts{kind="feature_drift"} 1.0' in text
    assert 'velo_feature_psi{feature="nds_overround"}' in text

    # live quality from the prediction log: the champion's predictions of the live races with their results
    frame, _ = load_training_frame(files["stable"])
    live = frame[frame["off_time"] >= SHIFT].reset_index(drop=True)
    write_log(tmp_path / "logs", {"1": load_model(tmp_path / "m1").predict_frame(live)}, live)
    r = run(main, ["monitor", "velo", "--window", "150", "--min-races", "100"])
    assert r.exit_code == 0, r.output
    assert "Live quality" in r.output and "no alerts for velo v1" in r.output
    r = run(main, ["monitor", "velo", "--window", "150", "--json"])
    q = json.loads(r.stdout)["quality"]["champion"]
    assert r.exit_code == 0 and q["races"] == 150 and q["version"] == "1" and 0 < q["ece"] < 0.05
    assert q["logloss"] > 0 and q["market_logloss"] > 0
    r = run(main, ["monitor", "velo", "--window", "150", "--ece-alert", "0.0001", "--json"])
    assert r.exit_code == 1 and json.loads(r.stdout)["alerts"][0]["kind"] == "calibration"


def test_monitor_reports_races_used_and_predicted_races_without_outcome(
    tmp_path: Path, champion_and_challenger
) -> None:
    run = champion_and_challenger
    log = build()
    args = ["monitor", "velo", "--window", "40", "--min-races", "1000", "--json"]
    r = run([*args, "--log-dir", str(repeats_write(tmp_path / "dirty", log.dirty))])
    assert r.exit_code == 0, r.output
    dirty = json.loads(r.stdout)
    common = {"races_with_outcome": log.races, "duplicate_rows": log.repeats, "races_used": 40}
    assert dirty["coverage"] == {"duplicate_rows": log.repeats, "races_without_outcome": log.waiting, "roles": {
        "champion": {"version": "1", "races_without_outcome": log.waiting - log.waiting_v2_only, **common},
        "challenger": {"version": "2", "races_without_outcome": log.waiting, **common}}}  # fmt: skip
    r = run([*args, "--log-dir", str(repeats_write(tmp_path / "clean", log.clean))])
    clean = json.loads(r.stdout)
    assert clean.pop("coverage")["duplicate_rows"] == 0 and dirty.pop("coverage")
    assert dirty == clean and dirty["quality"]["champion"]["races"] == 40, "repeated rows change no figure"
    r = run(["monitor", "velo", "--window", "40", "--log-dir", str(tmp_path / "dirty")])
    assert r.exit_code == 0, r.output
    assert (f"champion v1: used 40 races with results; {log.waiting - log.waiting_v2_only} predicted races had "
            f"no outcome yet (of {log.races} in the log)") in r.output  # fmt: skip
    assert f"challenger v2: used 40 races with results; {log.waiting} predicted races had no outcome" in r.output
    assert f"{log.repeats:,} repeated log rows counted once" in r.output
    # predictions but no outcome at all: nothing to monitor, and the error says how many are waiting
    pending = [row for row in log.clean if row.won is None]
    r = run(["monitor", "velo", "--log-dir", str(repeats_write(tmp_path / "waiting", pending))])
    assert r.exit_code == 1 and f"({log.races + log.waiting} predicted races had no outcome yet)" in r.output
