"""Registry integrity: only loadable artifacts are crowned, and names cannot escape the root."""

from __future__ import annotations

import collections
import json
import shutil
from pathlib import Path

import pytest
import skops.io as sio

from velo.registry import ArtifactError, Registry, RegistryError, validate_name, validate_version
from velo.registry.store import manifest_sha256
from velo.training.artifacts import UntrustedArtifact, sha256_file

BAD_NAMES = ["", ".", "..", "...", "../../tmp/x", "/tmp/somedir", "a/b", "Velo", "-velo", "_velo", "velo\n",
             "velo ", "x" * 65, "index.json", "outbox.jsonl", "vélo", "a\\b"]  # fmt: skip
GOOD_NAMES = ["velo", "sqpe-hk", "m.v2", "a_b", "0", "x" * 64, "v..1"]


def _state(root: Path) -> dict[str, str]:
    """Every registry file that records something (index, history, outbox)."""
    return {f: (root / f).read_text() for f in ("index.json", "history.jsonl", "outbox.jsonl") if (root / f).exists()}


def _registered(tmp_path: Path, model_dirs, n: int = 2) -> Registry:
    reg = Registry(tmp_path / "reg")
    for i in range(n):
        reg.register(model_dirs[i % 2], "m")
    return reg


def _rewrite(reg: Registry, version: str, file: str, data: bytes) -> None:
    """Replace an artifact file *and* its record's checksums, as a registry written before
    registration verified loads could hold: the sha256 check passes, only the load can refuse."""
    (reg.root / "m" / version / file).write_bytes(data)
    index = json.loads((reg.root / "index.json").read_text())
    rec = index["models"][f"m:{version}"]
    rec["files"][file] = sha256_file(reg.root / "m" / version / file)
    rec["artifact_sha256"] = manifest_sha256(rec["files"])
    (reg.root / "index.json").write_text(json.dumps(index))


def _untrusted_skops(tmp_path: Path) -> bytes:
    path = tmp_path / "counter.skops"
    sio.dump(collections.Counter(a=1), path)
    return path.read_bytes()


# -- verification at promote, set-challenger and rollback ----------------------------------------


@pytest.mark.parametrize("op", ["promote", "set_challenger"])
def test_tampered_artifact_is_never_recorded_as_champion_or_challenger(tmp_path: Path, model_dirs, op) -> None:
    reg = _registered(tmp_path, model_dirs)
    reg.promote("m", "1")
    path = reg.root / "m" / "2" / "sqpe.skops"
    path.write_bytes(path.read_bytes()[:1000])  # truncated
    before = _state(reg.root)
    with pytest.raises(RegistryError, match=r"m v2 refused: .*sqpe\.skops: sha256"):
        getattr(reg, op)("m", "2")
    assert _state(reg.root) == before, "a refused change records nothing"
    assert reg.champion("m").version == "1" and reg.challenger("m") is None


@pytest.mark.parametrize("op", ["promote", "set_challenger"])
def test_artifact_that_fails_the_allow_listed_load_is_refused(tmp_path: Path, model_dirs, op) -> None:
    reg = _registered(tmp_path, model_dirs)
    _rewrite(reg, "2", "tie.skops", _untrusted_skops(tmp_path))
    before = _state(reg.root)
    with pytest.raises(RegistryError, match=r"m v2 refused: .*outside the allow-list: collections\.Counter"):
        getattr(reg, op)("m", "2")
    _rewrite(reg, "2", "sqpe.skops", b"not a zip file")
    before = _state(reg.root)
    with pytest.raises(RegistryError, match=r"m v2 refused: BadZipFile"):
        getattr(reg, op)("m", "2")
    assert _state(reg.root) == before and reg.champion("m") is None and reg.challenger("m") is None


def test_rollback_to_a_damaged_champion_is_refused(tmp_path: Path, model_dirs) -> None:
    reg = _registered(tmp_path, model_dirs)
    reg.promote("m", "1")
    reg.promote("m", "2")
    (reg.root / "m" / "1" / "model.json").write_text("{}")
    before = _state(reg.root)
    with pytest.raises(RegistryError, match=r"m v1 refused: .*model\.json: sha256"):
        reg.rollback("m")
    assert _state(reg.root) == before and reg.champion("m").version == "2"


def test_record_without_a_complete_manifest_is_refused(tmp_path: Path, model_dirs) -> None:
    reg = _registered(tmp_path, model_dirs, 1)
    index = json.loads((reg.root / "index.json").read_text())
    index["models"]["m:1"]["files"] = {}  # nothing to check against: must not mean "everything passes"
    (reg.root / "index.json").write_text(json.dumps(index))
    with pytest.raises(RegistryError, match=r"its record has no sha256 for sqpe\.skops, tie\.skops, model\.json"):
        reg.promote("m", "1")
    assert reg.champion("m") is None


def test_load_failures_are_both_registry_errors_and_untrusted_artifacts(tmp_path: Path, model_dirs) -> None:
    reg = _registered(tmp_path, model_dirs, 1)
    _rewrite(reg, "1", "sqpe.skops", b"not a zip file")
    with pytest.raises(ArtifactError) as err:
        reg.load("m", "1")
    assert isinstance(err.value, RegistryError) and isinstance(err.value, UntrustedArtifact)
    assert "\n" not in str(err.value)


def test_register_refuses_artifacts_a_worker_could_not_load(tmp_path: Path, model_dirs) -> None:
    src = tmp_path / "src"
    shutil.copytree(model_dirs[0], src)
    (src / "sqpe.skops").write_text("a text file, not a skops zip")
    reg = Registry(tmp_path / "reg")
    with pytest.raises(RegistryError, match=r"refused: BadZipFile"):
        reg.register(src, "m")
    (src / "sqpe.skops").write_bytes(_untrusted_skops(tmp_path))
    with pytest.raises(RegistryError, match=r"outside the allow-list: collections\.Counter"):
        reg.register(src, "m")
    assert [p.name for p in reg.root.iterdir() if p.name != "index.lock"] == [], "nothing copied in or recorded"


# -- names and versions ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused_in_one_line(name: str) -> None:
    with pytest.raises(RegistryError, match="invalid model name") as err:
        validate_name(name)
    assert "\n" not in str(err.value).replace(repr(name), "")


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_names_pass(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("version", ["", "0", "01", "v1", "../1", "1/..", "1.0", "-1", "1\n", "1" * 10])
def test_bad_versions_are_refused(tmp_path: Path, version: str) -> None:
    with pytest.raises(RegistryError, match="invalid version"):
        validate_version(version)
    reg = Registry(tmp_path)
    for op in (reg.get, reg.promote, reg.set_challenger, reg.demote, reg.archive, reg.load):
        with pytest.raises(RegistryError, match="invalid version"):
            op("m", version)


@pytest.mark.parametrize("name", ["../../outside", "/ABS", "", ".."])
def test_register_with_a_bad_name_touches_no_file(tmp_path: Path, model_dirs, name: str) -> None:
    root = tmp_path / "a" / "reg"
    reg = Registry(root)
    name = name.replace("/ABS", str(tmp_path / "victim"))
    (tmp_path / "victim" / "1").mkdir(parents=True)
    (tmp_path / "victim" / "1" / "keep.txt").write_text("mine")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(RegistryError, match="invalid model name"):
        reg.register(model_dirs[0], name)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "victim" / "1" / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("op", ["champion", "challenger", "list", "history", "rollback"])
def test_every_name_entry_point_validates(tmp_path: Path, op: str) -> None:
    with pytest.raises(RegistryError, match="invalid model name"):
        getattr(Registry(tmp_path), op)("../x")


def test_a_model_directory_that_links_outside_the_root_is_refused(tmp_path: Path, model_dirs) -> None:
    reg = Registry(tmp_path / "reg")
    outside = tmp_path / "outside"
    (outside / "1").mkdir(parents=True)
    (outside / "1" / "keep.txt").write_text("mine")
    (reg.root / "m").symlink_to(outside, target_is_directory=True)
    with pytest.raises(RegistryError, match="resolves outside the registry root"):
        reg.register(model_dirs[0], "m")
    assert [p.name for p in (outside / "1").iterdir()] == ["keep.txt"], "nothing deleted or written outside"
    assert reg.list() == []


def test_names_lists_every_registered_model(tmp_path: Path, model_dirs) -> None:
    reg = Registry(tmp_path)
    assert reg.names() == []
    for name in ("sqpe", "velo", "sqpe"):
        reg.register(model_dirs[0], name)
    assert reg.names() == ["sqpe", "velo"]


def test_a_corrupt_index_is_a_registry_error(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_text('{"models": {')
    with pytest.raises(RegistryError, match=r"index\.json is not valid JSON"):
        Registry(tmp_path).list()
