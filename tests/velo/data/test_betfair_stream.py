from __future__ import annotations

import gzip
from pathlib import Path

from velo.data import betfair_stream


def test_horse_win_market_parses(shared_data: Path) -> None:
    path = shared_data / "betfair_stream_samples" / "BASIC-1.132153978.gz"
    updates, report = betfair_stream.load(path)
    assert report.rows_read == 480 and report.rows_skipped == 0
    assert {u.race_id for u in updates} == {"bf-132153978"}
    assert len({u.runner_id for u in updates}) >= 12
    times = [u.publish_time for u in updates]
    assert times == sorted(times)
    assert any(u.in_play for u in updates) and not updates[0].in_play
    assert all(u.last_traded_price is None or u.last_traded_price > 1 for u in updates)


def test_full_ladder_market_has_best_back_below_best_lay(shared_data: Path) -> None:
    updates, _ = betfair_stream.load(shared_data / "betfair_stream_samples" / "SELF-1.181223995.gz")
    both = [u for u in updates if u.back_price and u.lay_price]
    assert len(both) > 1000
    assert all(u.back_price <= u.lay_price for u in both)


def test_malformed_lines_are_reported_and_skipped(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "betfair_stream_samples" / "BASIC-1.132153978.gz"
    with gzip.open(src, "rt") as f:
        lines = f.read().splitlines()
    lines.insert(3, "{truncated")
    lines.insert(10, '{"op": "status"}')
    bad = tmp_path / "BASIC-1.132153978"
    bad.write_text("\n".join(lines) + "\n")
    good, _ = betfair_stream.load(src)
    got, report = betfair_stream.load(bad)
    assert report.rows_skipped == 2
    assert any("line 4: not valid JSON" in p for p in report.problems)
    assert any("line 11: not a market change message" in p for p in report.problems)
    assert got == good


def test_a_truncated_recording_keeps_what_it_read_and_says_why(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "betfair_stream_samples" / "BASIC-1.132153978.gz"
    cut = tmp_path / "cut.gz"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    whole, _ = betfair_stream.load(src)
    got, report = betfair_stream.load(cut)
    assert 0 < len(got) < len(whole)
    assert [u.encode() for u in got] == [u.encode() for u in whole[: len(got)]]
    assert any("the rest could not be read" in p for p in report.problems)
