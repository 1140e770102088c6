"""What an artifact folder's integrity needs, without the libraries that load
its models: checksums and the refusal, so that the registry's bookkeeping
(``velo models list``, ``register``'s checksums) does not import
scikit-learn and skops."""

from __future__ import annotations

import hashlib
from pathlib import Path


class UntrustedArtifact(RuntimeError):
    """An artifact that needs types outside the allow-list, or fails its checksum."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
