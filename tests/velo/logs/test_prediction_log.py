from __future__ import annotations

from pathlib import Path

from schemas.examples import prediction_log
from velo.logs.prediction_log import PredictionLogSink, read_log


def test_batches_rotate_by_size_and_readers_survive_a_torn_tail(tmp_path: Path) -> None:
    sink = PredictionLogSink(tmp_path, max_bytes=600)
    row = prediction_log()
    for _ in range(6):
        assert sink.write_batch([row, row]) == 2
    files = sorted(tmp_path.glob("*.jsonl"))
    assert len(files) > 1, "rotated by size"
    assert all(f.name.startswith("predictions-") for f in files)
    # a crash mid-write leaves a line without its newline; a bad line is skipped too
    with open(files[-1], "ab") as f:
        f.write(b"not json\n")
        f.write(row.encode()[:40])
    rows = list(read_log(tmp_path))
    assert len(rows) == 12 and all(r == row for r in rows)
