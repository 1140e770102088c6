"""JSONL prediction log: rotated by size and UTC day, flushed per batch.

Each batch is written with one ``write`` of whole lines and fsynced. A crash
can at worst leave a final line without its newline; :func:`read_log` skips
such a tail (and any line that does not parse), so readers never break.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson

from schemas import ContractError, PredictionLog


class PredictionLogSink:
    def __init__(self, directory: str | Path, max_bytes: int = 64 * 1024 * 1024, prefix: str = "predictions") -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.prefix = prefix
        self._path: Path | None = None

    def _target(self, now: datetime) -> Path:
        day = now.strftime("%Y-%m-%d")
        current = self._path
        if (
            current is not None
            and current.name.startswith(f"{self.prefix}-{day}-")
            and current.exists()
            and current.stat().st_size < self.max_bytes
        ):
            return current
        n = 0
        while True:
            path = self.dir / f"{self.prefix}-{day}-{n:04d}.jsonl"
            if not path.exists() or path.stat().st_size < self.max_bytes:
                self._path = path
                return path
            n += 1

    def write_batch(self, rows: Iterable[PredictionLog]) -> int:
        data = b"".join(r.encode() + b"\n" for r in rows)
        if not data:
            return 0
        path = self._target(datetime.now(UTC))
        with open(path, "ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return data.count(b"\n")


def read_log(directory: str | Path) -> Iterator[PredictionLog]:
    """Every complete, valid row in every log file, oldest file first."""
    for path in sorted(Path(directory).glob("*.jsonl")):
        with open(path, "rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    break  # a torn tail from a crash
                try:
                    yield PredictionLog.decode(line)
                except (ContractError, orjson.JSONDecodeError):
                    continue
