from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from velo.cli.main import main


def test_models_cli_lifecycle_list_and_history(tmp_path: Path, model_dirs, monkeypatch) -> None:
    monkeypatch.setenv("VELO_REGISTRY_DIR", str(tmp_path / "reg"))
    run = CliRunner().invoke
    for d in model_dirs:
        r = run(main, ["models", "register", "--name", "sqpe", "--from", str(d), "--no-publish"])
        assert r.exit_code == 0, r.output
    assert "queued in the outbox" in r.output
    assert run(main, ["models", "promote", "sqpe", "1", "--no-publish"]).exit_code == 0
    assert run(main, ["models", "set-challenger", "sqpe", "2", "--no-publish"]).exit_code == 0
    r = run(main, ["models", "list"])
    assert r.exit_code == 0 and "champion" in r.output and "challenger" in r.output
    assert run(main, ["models", "promote", "sqpe", "2", "--no-publish"]).exit_code == 0
    r = run(main, ["models", "history", "sqpe"])
    assert r.exit_code == 0, r.output
    assert "champions: v1 from" in r.output and "-> v2 from" in r.output
    r = run(main, ["models", "demote", "sqpe", "1", "--no-publish"])
    assert r.exit_code == 1 and "only the champion can be demoted" in r.output
