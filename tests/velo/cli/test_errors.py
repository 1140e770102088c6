"""Every mistake ends in one line naming it, a non-zero exit and no
traceback. The cases that talk to a broker run ``velo`` as a real process, so
stray log lines and the garbage collector's complaints count too; the rest
run in-process (click's runner), which is much faster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from velo.cli.main import main
from velo.registry import Registry

DOWN = "127.0.0.1:1"  # nothing listens there: connection refused at once


def _velo(tmp_path: Path, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("VELO_")}
    base.update({"VELO_REGISTRY_DIR": str(tmp_path / "reg"), "VELO_BOOTSTRAP_SERVERS": DOWN,
                 "VELO_REDIS_URL": "redis://127.0.0.1:2/0", **env})  # fmt: skip
    # the console script a user runs (``python -m velo.cli.main`` adds a runpy warning of its own)
    return subprocess.run([str(Path(sys.executable).with_name("velo")), *args], capture_output=True, text=True,
                          timeout=timeout, env=base, cwd=tmp_path)  # fmt: skip


def _one_error(out: subprocess.CompletedProcess, *words: str) -> str:
    text = out.stdout + out.stderr
    assert out.returncode != 0, text
    assert "Traceback" not in text and "Unable connect" not in text and "Unclosed" not in text, text
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, text
    for w in words:
        assert w in errors[0], errors[0]
    return errors[0]


def _run(tmp_path: Path, monkeypatch, *args: str) -> subprocess.CompletedProcess:
    """``velo`` in-process, answered in the shape of :func:`_velo`."""
    monkeypatch.setenv("VELO_REGISTRY_DIR", str(tmp_path / "reg"))
    monkeypatch.setenv("VELO_BOOTSTRAP_SERVERS", DOWN)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, list(args))
    escaped = r.exception is not None and not isinstance(r.exception, SystemExit)
    return subprocess.CompletedProcess(
        args, r.exit_code, r.stdout, r.stderr + ("Traceback (escaped)" if escaped else "")
    )


@pytest.mark.parametrize("args", [["topics", "list"], ["replay", "--source", "sim", "--days", "3"]])
def test_a_broker_that_is_down_is_named_with_how_to_start_one(tmp_path, args) -> None:
    _one_error(_velo(tmp_path, *args), f"cannot reach the Kafka broker at {DOWN}", "velo up")


@pytest.mark.parametrize("args", [["topics", "create", "--timeout", "1"], ["backtest", "--from-topics", "--out", "s"]])
def test_other_commands_name_a_broker_that_is_down(tmp_path, monkeypatch, args) -> None:
    _one_error(_run(tmp_path, monkeypatch, *args), f"cannot reach the Kafka broker at {DOWN}", "velo up")


def test_the_worker_names_a_broker_that_is_down(tmp_path, model_dirs) -> None:
    Registry(tmp_path / "reg").register(model_dirs[0], "velo")
    _one_error(_velo(tmp_path, "worker", VELO_BROKER_WAIT_S="1"), f"cannot reach the Kafka broker at {DOWN}",
               "within 1 s")  # fmt: skip


def test_a_registry_change_with_the_broker_down_says_its_event_waits_in_the_outbox(tmp_path, model_dirs) -> None:
    Registry(tmp_path / "reg").register(model_dirs[0], "velo")
    out = _velo(tmp_path, "models", "promote", "velo", "1")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr  # the change itself is made
    warning = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(warning) == 1 and "outbox" in warning[0] and "velo models publish" in warning[0], out.stderr
    assert Registry(tmp_path / "reg").champion("velo").version == "1"
    _one_error(_velo(tmp_path, "models", "publish"), "outbox", DOWN)


def test_a_registry_name_where_no_model_is_registered_is_not_read_as_a_folder(tmp_path, monkeypatch,
                                                                               sim_file) -> None:  # fmt: skip
    (tmp_path / "velo").mkdir()  # like the package's own folder beside a user's shell
    err = _one_error(_run(tmp_path, monkeypatch, "explain", "--model", "velo", "--data", str(sim_file)), "--model")
    assert "no trained model" in err and "no model named 'velo'" in err


@pytest.mark.parametrize(("ref", "words"), [
    ("velo@challenger", ["has no challenger", "set-challenger"]),
    ("velo/9", ["version 9 is not registered", "known versions: 1"]),
    ("velo@boss", ["unknown role 'boss'"]),
    ("nosuch", ["no model named 'nosuch'", "known: velo"]),
])  # fmt: skip
def test_an_unknown_model_reference_is_one_line(tmp_path, monkeypatch, model_dirs, sim_file, ref, words) -> None:
    reg = Registry(tmp_path / "reg")
    reg.register(model_dirs[0], "velo")
    reg.promote("velo", "1")
    _one_error(_run(tmp_path, monkeypatch, "backtest", "--model", ref, "--data", str(sim_file), "--out", "bt"),
               *words)  # fmt: skip


@pytest.mark.parametrize("value", ["01/09/2004", "2004-9-1", "1 Sept 2004", "2004-09-01junk"])
def test_dates_must_be_iso(tmp_path, monkeypatch, sim_file, value) -> None:
    _one_error(_run(tmp_path, monkeypatch, "backtest", "--data", str(sim_file), "--test-from", value, "--out", "bt"),
               "--test-from", "not an ISO date", "YYYY-MM-DD")  # fmt: skip


@pytest.mark.parametrize(("source", "words"), [
    ("hk", ["is not a Hong Kong 1997-2005 folder", "races.csv"]),
    ("anz", ["is not a Betfair ANZ folder"]),
])  # fmt: skip
def test_a_source_that_does_not_match_its_folder_is_named(tmp_path, monkeypatch, source, words) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "race-result-horse.csv").write_text("a,b\n1,2\n")  # the 2014-2016 layout, say
    out = _run(tmp_path, monkeypatch, "data", "convert", "--source", source, "--data", str(folder), "--output", "o.csv")
    _one_error(out, *words)


@pytest.mark.parametrize("script", ["publish_card.py", "consume_predictions.py"])
def test_the_examples_name_a_broker_that_is_down(script) -> None:
    path = Path(__file__).resolve().parents[3] / "examples" / script
    out = subprocess.run([sys.executable, str(path), "--bootstrap", DOWN], capture_output=True, text=True, timeout=60)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 1 and len(lines) == 1, out.stderr
    assert f"cannot reach a Kafka broker at {DOWN}" in lines[0] and "velo up" in lines[0]


def test_a_folder_given_to_a_worker_says_how_to_serve_it(tmp_path, monkeypatch, model_dirs) -> None:
    _one_error(_run(tmp_path, monkeypatch, "worker", "--model", str(model_dirs[0])), "is a folder written by",
               "velo models register NAME --from")  # fmt: skip


@pytest.mark.parametrize(("ref", "words"), [("velo/9", ["version 9 is not registered"]),
                                            ("velo@challenger", ["has no challenger"])])  # fmt: skip
def test_monitor_takes_the_same_model_references(tmp_path, monkeypatch, model_dirs, ref, words) -> None:
    reg = Registry(tmp_path / "reg")
    reg.register(model_dirs[0], "velo")
    reg.promote("velo", "1")
    _one_error(_run(tmp_path, monkeypatch, "monitor", ref), *words)


def test_redis_down_and_unexpected_errors_are_one_line(monkeypatch) -> None:
    import redis

    from velo.cli.errors import one_line

    monkeypatch.setenv("VELO_REDIS_URL", "redis://127.0.0.1:2/0")
    line = one_line(redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:2.\nConnection refused."))
    assert line.startswith("cannot reach Redis at redis://127.0.0.1:2/0") and "velo up" in line and "\n" not in line
    assert one_line(FileNotFoundError(2, "No such file", "x.csv")) == "x.csv: no such file or folder"
    assert "VELO_DEBUG=1" in one_line(ZeroDivisionError("division by zero"))
