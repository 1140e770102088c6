"""Canonical file -> training frame (features, market view, labels), cached.

The cache key is the data file's sha256 plus a hash of the feature code, so
a change to either rebuilds it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd

from velo.data import canonical
from velo.data.events import build_events
from velo.data.report import LoadReport
from velo.features.offline import build_training_set
from velo.training.artifacts import sha256_file

# every module a training frame's numbers can depend on: a whole package, so
# a new module (the form book was one) cannot be missed from the key
_FEATURE_CODE = ["features", "data", "markets", "engines/nds.py", "../schemas"]


def feature_code_hash() -> str:
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for rel in _FEATURE_CODE:
        path = (root / rel).resolve()
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(f.relative_to(root.parent).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    return Path(os.environ.get("VELO_CACHE_DIR", Path.home() / ".cache" / "velo"))


def load_training_frame(path: Path, progress: bool = False, use_cache: bool = True) -> tuple[pd.DataFrame, dict]:
    """Returns the frame and provenance: data sha256, row counts, date range."""
    path = Path(path)
    data_sha = sha256_file(path)
    key = f"features-{data_sha[:16]}-{feature_code_hash()}.parquet"
    cached = cache_dir() / key
    report: LoadReport | None = None
    if use_cache and cached.exists():
        frame = pd.read_parquet(cached)
    else:
        df, report = canonical.read(path)
        frame = build_training_set(build_events(df, report), progress=progress)
        if use_cache:
            cached.parent.mkdir(parents=True, exist_ok=True)
            frame.to_parquet(cached, index=False)
    info = {
        "data_file": str(path),
        "data_sha256": data_sha,
        "rows": len(frame),
        "races": int(frame["race_id"].nunique()),
        "from": str(frame["off_time"].min()),
        "to": str(frame["off_time"].max()),
        "load_report": report.summary() if report else "(features from cache)",
    }
    return frame, info
