"""Check an artifact directory the way a worker will load it.

The registry refuses to register, crown or shadow anything a worker could not
load: every file's sha256 must match the record's manifest, and the estimators
must load with the skops allow-list (``velo.training.artifacts``). Any failure,
from a checksum mismatch to a file that is not a zip at all, becomes one
``ArtifactError`` with a one-line reason, so the CLI can print it and a worker
can report it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from velo.registry.errors import RegistryError
from velo.registry.record import ModelRecord
from velo.training.files import UntrustedArtifact

if TYPE_CHECKING:
    from velo.engines.model import VeloModel

ARTIFACT_FILES = ("sqpe.skops", "tie.skops", "model.json")


class ArtifactError(RegistryError, UntrustedArtifact):
    """An artifact that fails its checksum or the allow-listed load.

    Both a RegistryError (the CLI reports it) and an UntrustedArtifact (what
    loaders already catch), so neither kind of caller needs to change.
    """


def manifest_sha256(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, UntrustedArtifact) else text


def load_checked(directory: Path, what: str, checksums: dict[str, str] | None = None) -> VeloModel:
    """Load ``directory`` as a worker would (checksums first when given); ArtifactError if it cannot be."""
    try:
        from velo.training.artifacts import load_model  # scikit-learn and skops: only when a model is loaded

        return load_model(Path(directory), checksums)
    except Exception as exc:  # anything that stops a worker loading it is a refusal, with its reason
        raise ArtifactError(f"{what} refused: {_one_line(exc)}") from exc


def verify_record(directory: Path, rec: ModelRecord) -> VeloModel:
    """Check ``rec``'s manifest is complete and self-consistent, then load ``directory`` against it."""
    what = f"{rec.name} v{rec.version}"
    missing = [f for f in ARTIFACT_FILES if f not in rec.files]
    if missing:
        raise ArtifactError(f"{what} refused: its record has no sha256 for {', '.join(missing)}; register it again")
    if manifest_sha256(rec.files) != rec.artifact_sha256:
        raise ArtifactError(f"{what} refused: its file checksums do not match the recorded manifest sha256")
    return load_checked(directory, what, rec.files)
