"""File-backed registry under ``VELO_REGISTRY_DIR``.

Layout::

    index.json        every ModelRecord, plus per-name champion history (source of truth)
    history.jsonl     append-only audit: one line per change
    outbox.jsonl      RegistryEvents to broadcast, numbered; published.json holds the last sent
    <name>/<version>/ the artifact files

Every change takes ``index.lock`` (a file lock, safe across processes), reads
the index, checks the transition, writes the new index to a temporary file and
atomically replaces it, then appends to the history and the outbox, all under
the lock. The index is the source of truth; events only tell workers to look
again, so a lost or late event can delay a swap but never make it wrong, and a
worker that starts (or missed events) simply reads the index.

Names and versions are validated before any file is touched, and every
directory the registry writes, deletes or loads is checked to resolve to
``<root>/<name>/<version>``. A version is verified (checksums and the
allow-listed load) when it is registered and again before it becomes champion
or challenger, so the index never names a model a worker cannot load.
"""

from __future__ import annotations

import builtins
import getpass
import json
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout

from schemas import RegistryEvent
from velo.registry.errors import RegistryError
from velo.registry.names import validate_name, validate_version
from velo.registry.record import ModelRecord
from velo.registry.verify import ARTIFACT_FILES, load_checked, manifest_sha256, verify_record
from velo.training.files import sha256_file

if TYPE_CHECKING:
    from velo.engines.model import VeloModel

__all__ = ["ARTIFACT_FILES", "Registry", "manifest_sha256"]

#: Copied in with the artifacts when present.
EXTRA_FILES = ("metadata.json", "metrics.json", "reference.json")


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Registry:
    def __init__(self, root: str | Path, lock_timeout: float = 30.0) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._real_root = self.root.resolve()
        self._lock = FileLock(str(self.root / "index.lock"), timeout=lock_timeout)

    # -- storage -------------------------------------------------------
    def _read_index(self) -> dict[str, Any]:
        path = self.root / "index.json"
        if not path.exists():
            return {"models": {}, "champions": {}}
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise RegistryError(f"{path} is not valid JSON ({exc}); restore it from a backup") from None

    def _dir(self, name: str, version: str) -> Path:
        """``<root>/<name>/<version>``, refused unless it provably resolves there (no traversal, no symlink out)."""
        validate_name(name)
        validate_version(version)
        path = self.root / name / version
        if path.resolve() != self._real_root / name / version:
            raise RegistryError(f"{path} resolves outside the registry root {self._real_root}; refusing to use it")
        return path

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            with self._lock:
                yield
        except Timeout:
            raise RegistryError(
                f"the registry {self.root} is locked by another process (index.lock); try again"
            ) from None

    def _write_index(self, index: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".index-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(index, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / "index.json")

    def _append(self, name: str, line: dict[str, Any]) -> None:
        with open(self.root / name, "a") as f:
            f.write(json.dumps(line, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())

    @contextmanager
    def _change(self) -> Iterator[dict[str, Any]]:
        """The index to change; written back only if the block finishes (a refusal records nothing)."""
        with self._locked():
            index = self._read_index()
            yield index
            self._write_index(index)

    @staticmethod
    def _key(name: str, version: str) -> str:
        return f"{name}:{version}"

    def _get(self, index: dict[str, Any], name: str, version: str) -> ModelRecord:
        validate_name(name)
        validate_version(version)
        raw = index["models"].get(self._key(name, version))
        if raw is None:
            known = sorted(v["version"] for v in index["models"].values() if v["name"] == name)
            hint = f"; known versions: {', '.join(known)}" if known else f"; no model named {name!r}"
            raise RegistryError(f"{name} version {version} is not registered{hint}")
        return ModelRecord(**raw)

    @staticmethod
    def _with_role(index: dict[str, Any], name: str, role: str) -> list[ModelRecord]:
        return [ModelRecord(**r) for r in index["models"].values() if r["name"] == name and r["role"] == role]

    def _put(self, index: dict[str, Any], rec: ModelRecord) -> None:
        index["models"][self._key(rec.name, rec.version)] = rec.model_dump()

    def _record_change(self, action: str, rec: ModelRecord, detail: str = "") -> RegistryEvent:
        """History line and outbox event; called under the lock."""
        event = RegistryEvent(
            event_id=uuid.uuid4().hex,
            model_name=rec.name,
            version=rec.version,
            action=action,
            stage=rec.stage,
            role=rec.role,
            artifact_uri=rec.artifact_uri,
            artifact_sha256=rec.artifact_sha256,
            time=datetime.now(UTC),
        )
        self._append(
            "history.jsonl",
            {
                "time": event.time.isoformat(),
                "action": action,
                "name": rec.name,
                "version": rec.version,
                "stage": rec.stage,
                "role": rec.role,
                "detail": detail,
                "by": f"{getpass.getuser()}@{socket.gethostname()}:{os.getpid()}",
            },
        )
        seq = self._next_seq()
        self._append("outbox.jsonl", {"seq": seq, "event": json.loads(event.encode())})
        return event

    def _next_seq(self) -> int:
        path = self.root / "outbox.jsonl"
        if not path.exists():
            return 1
        last = 0
        with open(path) as f:
            for line in f:
                if line.strip():
                    last = json.loads(line)["seq"]
        return last + 1

    # -- reads ---------------------------------------------------------
    def get(self, name: str, version: str) -> ModelRecord:
        return self._get(self._read_index(), name, version)

    def names(self) -> list[str]:
        """Every model name with at least one registered version, sorted."""
        return sorted({r["name"] for r in self._read_index()["models"].values()})

    def list(self, name: str | None = None) -> list[ModelRecord]:
        if name is not None:
            validate_name(name)
        recs = [ModelRecord(**r) for r in self._read_index()["models"].values()]
        recs = [r for r in recs if name is None or r.name == name]
        return sorted(recs, key=lambda r: (r.name, int(r.version) if r.version.isdigit() else r.version))

    def champion(self, name: str) -> ModelRecord | None:
        return next((r for r in self.list(name) if r.role == "champion"), None)

    def challenger(self, name: str) -> ModelRecord | None:
        return next((r for r in self.list(name) if r.role == "challenger"), None)

    def history(self, name: str | None = None) -> builtins.list[dict[str, Any]]:  # list is the method above
        if name is not None:
            validate_name(name)
        path = self.root / "history.jsonl"
        if not path.exists():
            return []
        lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        return [x for x in lines if name is None or x["name"] == name]

    def outbox(self, after: int = 0) -> builtins.list[tuple[int, RegistryEvent]]:
        path = self.root / "outbox.jsonl"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            if line.strip():
                item = json.loads(line)
                if item["seq"] > after:
                    out.append((item["seq"], RegistryEvent.validate_obj(item["event"])))
        return out

    def published_seq(self) -> int:
        path = self.root / "published.json"
        return json.loads(path.read_text())["seq"] if path.exists() else 0

    def mark_published(self, seq: int) -> None:
        with self._locked():
            if seq > self.published_seq():
                tmp = self.root / ".published.tmp"
                tmp.write_text(json.dumps({"seq": seq}))
                os.replace(tmp, self.root / "published.json")

    # -- lifecycle -----------------------------------------------------
    def register(self, model_dir: str | Path, name: str, metrics: dict[str, Any] | None = None) -> ModelRecord:
        """Copy a trained model directory in as the next version, in staging.

        The copy is made in a hidden staging directory inside the root and
        verified there (what is stored is what was checked) before the version
        is numbered and the directory renamed into place.
        """
        validate_name(name)
        src = Path(model_dir)
        missing = [f for f in ARTIFACT_FILES if not (src / f).is_file()]
        if missing:
            raise RegistryError(f"{src} is not a trained model directory: missing {', '.join(missing)}")
        try:
            meta = json.loads((src / "metadata.json").read_text()) if (src / "metadata.json").exists() else {}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RegistryError(f"{src / 'metadata.json'} is not valid JSON: {exc}") from None
        if not isinstance(meta, dict):
            raise RegistryError(f"{src / 'metadata.json'} is not a JSON object")
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".register-"))
        try:
            for f in (*ARTIFACT_FILES, *EXTRA_FILES):
                if (src / f).exists():
                    shutil.copy2(src / f, staging / f)
            files = {f: sha256_file(staging / f) for f in ARTIFACT_FILES}
            load_checked(staging, f"{src} (as {name})", files)  # refuse anything a worker could not load
            with self._change() as index:
                versions = [int(r["version"]) for r in index["models"].values() if r["name"] == name]
                version = str(max(versions, default=0) + 1)
                dest = self._dir(name, version)
                if dest.exists():  # left by a register that died before writing the index
                    shutil.rmtree(dest)
                dest.parent.mkdir(exist_ok=True)
                os.replace(staging, dest)
                rec = self._record(name, version, dest, files, meta, metrics)
                self._put(index, rec)
                self._record_change("register", rec)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return rec

    @staticmethod
    def _record(
        name: str, version: str, dest: Path, files: dict[str, str], meta: dict[str, Any], metrics: dict[str, Any] | None
    ) -> ModelRecord:
        data = meta.get("data", {})
        return ModelRecord(
            name=name,
            version=version,
            metrics=metrics or meta.get("fit", {}),
            feature_hash=meta.get("features", {}).get("sha256", ""),
            data_range={"from": data.get("train_from"), "to": data.get("train_to")},
            data_sha256=data.get("data_sha256", ""),
            git_commit=meta.get("git_commit", ""),
            library_versions=meta.get("versions", {}),
            created=_now(),
            artifact_uri=dest.resolve().as_uri(),
            artifact_sha256=manifest_sha256(files),
            artifact_size=sum((dest / f).stat().st_size for f in ARTIFACT_FILES),
            files=files,
        )

    def set_challenger(self, name: str, version: str) -> ModelRecord:
        with self._change() as index:
            rec = self._get(index, name, version)
            if rec.stage != "staging":
                raise RegistryError(f"{name} v{version} is {rec.stage}; only a staging model can be the challenger")
            self._verify(rec)
            for other in self._with_role(index, name, "challenger"):
                if other.version != version:
                    other.role = "none"
                    self._put(index, other)
            rec.role = "challenger"
            self._put(index, rec)
            self._record_change("set_challenger", rec)
        return rec

    def promote(self, name: str, version: str) -> ModelRecord:
        """Make a staging model the champion; the previous champion is archived."""
        with self._change() as index:
            rec = self._get(index, name, version)
            if rec.role == "champion":
                raise RegistryError(f"{name} v{version} is already the champion")
            if rec.stage != "staging":
                raise RegistryError(
                    f"{name} v{version} is {rec.stage}; only a staging model can be promoted "
                    "(use rollback to restore an earlier champion)"
                )
            self._verify(rec)
            self._crown(index, rec, "promote")
        return rec

    def _crown(self, index: dict[str, Any], rec: ModelRecord, action: str) -> None:
        for other in self._with_role(index, rec.name, "champion"):
            other.stage, other.role = "archived", "none"
            self._put(index, other)
            self._record_change("archive", other, detail=f"replaced by v{rec.version}")
        rec.stage, rec.role = "production", "champion"
        self._put(index, rec)
        index["champions"].setdefault(rec.name, []).append(rec.version)
        self._record_change(action, rec)

    def demote(self, name: str, version: str) -> ModelRecord:
        """Take the champion out of production (back to staging); no champion remains."""
        with self._change() as index:
            rec = self._get(index, name, version)
            if rec.role != "champion":
                raise RegistryError(f"{name} v{version} is not the champion; only the champion can be demoted")
            rec.stage, rec.role = "staging", "none"
            self._put(index, rec)
            self._record_change("demote", rec)
        return rec

    def archive(self, name: str, version: str) -> ModelRecord:
        with self._change() as index:
            rec = self._get(index, name, version)
            if rec.role == "champion":
                raise RegistryError(f"{name} v{version} is the champion; promote another or demote it first")
            if rec.stage == "archived":
                raise RegistryError(f"{name} v{version} is already archived")
            rec.stage, rec.role = "archived", "none"
            self._put(index, rec)
            self._record_change("archive", rec)
        return rec

    def rollback(self, name: str) -> ModelRecord:
        """The previous champion returns; the current one is archived."""
        validate_name(name)
        with self._change() as index:
            crowned = index["champions"].get(name, [])
            current = next(iter(self._with_role(index, name, "champion")), None)
            earlier = [v for v in crowned if current is None or v != current.version]
            if not earlier:
                raise RegistryError(f"{name} has no earlier champion to roll back to")
            back = self._get(index, name, earlier[-1])
            self._verify(back)
            # drop the current champion from the crown history so a second rollback goes further back
            if current is not None and crowned and crowned[-1] == current.version:
                crowned.pop()
            if crowned and crowned[-1] == back.version:
                crowned.pop()  # _crown appends it again
            self._crown(index, back, "rollback")
        return back

    # -- loading -------------------------------------------------------
    def _verify(self, rec: ModelRecord) -> VeloModel:
        return verify_record(self._dir(rec.name, rec.version), rec)

    def load(self, name: str, version: str) -> VeloModel:
        """Verify every file's sha256 against the record, then load with the allow-list.

        Raises ArtifactError (a RegistryError and an UntrustedArtifact) when
        the files do not match or do not load.
        """
        return self._verify(self.get(name, version))
