from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from velo.cli.main import main
from velo.registry import Registry


def test_models_cli_lifecycle_list_and_history(tmp_path: Path, model_dirs, monkeypatch) -> None:
    monkeypatch.setenv("VELO_REGISTRY_DIR", str(tmp_path / "reg"))
    run = CliRunner().invoke
    for d, spelling in zip(model_dirs, (["sqpe"], ["--name", "sqpe"]), strict=True):  # NAME, or the older --name
        r = run(main, ["models", "register", *spelling, "--from", str(d), "--no-publish"])
        assert r.exit_code == 0, r.output
    assert "queued in the outbox" in r.output
    assert run(main, ["models", "promote", "sqpe", "1", "--no-publish"]).exit_code == 0
    assert run(main, ["models", "set-challenger", "sqpe", "2", "--no-publish"]).exit_code == 0
    r = run(main, ["models", "list"])
    assert r.exit_code == 0 and "champion" in r.output and "challenger" in r.output
    listed = json.loads(run(main, ["models", "list", "--json"]).stdout)
    assert [(m["version"], m["role"]) for m in listed] == [("1", "champion"), ("2", "challenger")]
    assert run(main, ["models", "promote", "sqpe", "2", "--no-publish"]).exit_code == 0
    r = run(main, ["models", "history", "sqpe"])
    assert r.exit_code == 0, r.output
    assert "champions: v1 from" in r.output and "-> v2 from" in r.output
    r = run(main, ["models", "demote", "sqpe", "1", "--no-publish"])
    assert r.exit_code == 1 and "only the champion can be demoted" in r.output


def _one_line_error(r, *needles: str) -> str:
    """A clean refusal: exit 1 through click (not an escaped exception), one ``Error:`` line on stderr."""
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), f"escaped: {r.exception!r}\n{r.output}"
    assert "Traceback" not in r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _tree(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*"))


@pytest.mark.parametrize("name", ["../../escaped", "", "..", "Sqpe", "/ABS"])
def test_register_with_a_bad_name_is_one_line_and_touches_nothing(tmp_path: Path, model_dirs, monkeypatch,
                                                                  name: str) -> None:  # fmt: skip
    reg = tmp_path / "deep" / "reg"
    monkeypatch.setenv("VELO_REGISTRY_DIR", str(reg))
    victim = tmp_path / "victim"
    (victim / "1").mkdir(parents=True)
    (victim / "1" / "keep.txt").write_text("mine")
    name = name.replace("/ABS", str(victim))
    reg.mkdir(parents=True)
    before = _tree(tmp_path)
    r = CliRunner().invoke(main, ["models", "register", "--name", name, "--from", str(model_dirs[0]), "--no-publish"])
    _one_line_error(r, "invalid model name")
    assert _tree(tmp_path) == before and (victim / "1" / "keep.txt").read_text() == "mine"


def test_registering_a_file_that_is_not_a_skops_zip_is_one_line(tmp_path: Path, model_dirs, monkeypatch) -> None:
    monkeypatch.setenv("VELO_REGISTRY_DIR", str(tmp_path / "reg"))
    src = tmp_path / "src"
    shutil.copytree(model_dirs[0], src)
    (src / "sqpe.skops").write_text("just text")
    r = CliRunner().invoke(main, ["models", "register", "--name", "sqpe", "--from", str(src), "--no-publish"])
    _one_line_error(r, "refused", "BadZipFile")
    assert not (tmp_path / "reg" / "index.json").exists()


@pytest.mark.parametrize(
    "args, damaged",
    [(["promote", "sqpe", "2"], "2"), (["set-challenger", "sqpe", "2"], "2"), (["rollback", "sqpe"], "1")],
)
def test_damaged_artifacts_are_refused_before_anything_is_recorded(tmp_path: Path, model_dirs, monkeypatch,
                                                                   args: list[str], damaged: str) -> None:  # fmt: skip
    reg_dir = tmp_path / "reg"
    monkeypatch.setenv("VELO_REGISTRY_DIR", str(reg_dir))
    run = CliRunner().invoke
    for d in model_dirs:
        assert run(main, ["models", "register", "--name", "sqpe", "--from", str(d), "--no-publish"]).exit_code == 0
    assert run(main, ["models", "promote", "sqpe", "1", "--no-publish"]).exit_code == 0
    if args[0] == "rollback":
        assert run(main, ["models", "promote", "sqpe", "2", "--no-publish"]).exit_code == 0
    path = reg_dir / "sqpe" / damaged / "sqpe.skops"
    path.write_bytes(path.read_bytes()[:100])  # truncated
    champion = Registry(reg_dir).champion("sqpe").version
    before = {f: (reg_dir / f).read_text() for f in ("index.json", "history.jsonl", "outbox.jsonl")}
    _one_line_error(run(main, ["models", *args, "--no-publish"]), f"sqpe v{damaged} refused", "sha256")
    assert {f: (reg_dir / f).read_text() for f in before} == before
    assert Registry(reg_dir).champion("sqpe").version == champion


@pytest.mark.parametrize(
    "args, needle",
    [
        (["list", "--name", "../x"], "invalid model name '../x'"),
        (["history", "a/b"], "invalid model name 'a/b'"),
        (["promote", "sqpe", "../1", "--no-publish"], "invalid version '../1'"),
        (["rollback", "..", "--no-publish"], "invalid model name '..'"),
        (["compare", "Velo"], "invalid model name 'Velo'"),
    ],
)
def test_bad_names_and_versions_are_one_line_everywhere(tmp_path: Path, monkeypatch, args, needle) -> None:
    monkeypatch.setenv("VELO_REGISTRY_DIR", str(tmp_path / "reg"))
    _one_line_error(CliRunner().invoke(main, ["models", *args]), needle)


def test_a_corrupt_index_is_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VELO_REGISTRY_DIR", str(tmp_path))
    (tmp_path / "index.json").write_text("{")
    _one_line_error(CliRunner().invoke(main, ["models", "list"]), "index.json is not valid JSON")
