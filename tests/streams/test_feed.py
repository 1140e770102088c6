"""velo feed: recorded Betfair streams through the real broker, and the live
path up to the socket."""

from __future__ import annotations

import asyncio
import gzip
import uuid
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from schemas import MarketUpdate
from streams.feed import BetfairCredentials, market_events
from streams.topic_reader import read_topic
from velo.cli.main import main
from velo.data import betfair_stream
from velo.data.betfair_stream import BookReader, RaceIds, update_listener
from velo.stack import EmbeddedStack

FILES = ("BASIC-1.132153978.gz", "1.197931750.gz", "1.197931751.gz")


def _table(updates: list[MarketUpdate]) -> pd.DataFrame:
    """As ``velo data convert --source stream`` builds its table, in one order."""
    t = pd.DataFrame([u.model_dump(mode="python") for u in updates])
    return t.sort_values(["race_id", "runner_id", "publish_time", "traded_volume"], kind="stable",
                         ignore_index=True)  # fmt: skip


def test_a_fed_recording_is_what_data_convert_writes(stack: EmbeddedStack, shared_data: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """All four recordings (22,734 stream lines) published through the real
    broker and read back equal the table ``velo data convert`` writes for the
    same folder and race-id choice."""
    settings = stack.settings(topic_market_updates=f"feed-{uuid.uuid4().hex[:8]}")
    for k, v in settings.env().items():
        monkeypatch.setenv(k, v)
    folder = str(shared_data / "betfair_stream_samples")
    fed = CliRunner().invoke(main, ["feed", "betfair-stream", "--input", folder, "--race-ids", "definition"])
    assert fed.exit_code == 0, fed.output
    out = tmp_path / "updates.parquet"
    conv = CliRunner().invoke(main, ["data", "convert", "--source", "stream", "--input", folder, "--output", str(out),
                                     "--race-ids", "definition"])  # fmt: skip
    assert conv.exit_code == 0, conv.output
    got = asyncio.run(read_topic(settings, settings.topic_market_updates, MarketUpdate))
    written = [MarketUpdate.validate_obj(_row(r)) for r in pd.read_parquet(out).to_dict("records")]
    assert len(got) == len(written) > 20_000
    pd.testing.assert_frame_equal(_table(got), _table(written))
    assert "hamilton-20170614T1855Z" in {u.race_id for u in got}
    assert f"published {len(got):,} market updates" in fed.output


def _row(r: dict) -> dict:
    """A parquet row back into a message: NaN is a missing value, times are UTC datetimes."""
    out = {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
    out["publish_time"] = pd.Timestamp(out["publish_time"]).to_pydatetime()
    out["in_play"] = bool(out["in_play"])
    return out


def test_the_live_listener_gives_the_recordings_updates(shared_data: Path) -> None:
    """Everything up to the socket: the lines a live stream would deliver go
    through the live listener (as betfairlightweight's socket calls it), and
    give exactly the updates of reading the recording."""
    path = shared_data / "betfair_stream_samples" / "1.197931750.gz"
    recorded, _ = betfair_stream.load(path)
    got: list[MarketUpdate] = []
    listener = update_listener(BookReader(), got.extend)
    listener.register_stream(0, "marketSubscription")  # what subscribe_to_markets does, with the stream's id
    listener.on_data('{"op":"connection","connectionId":"002-051134157842-432409"}')
    with gzip.open(path, "rt") as f:
        for line in f:
            listener.on_data(line.rstrip("\n"))
    assert [u.encode() for u in got] == [u.encode() for u in recorded]


def test_market_events_keep_publish_time_order() -> None:
    updates, _ = betfair_stream.load([])
    assert market_events(updates) == []


def test_missing_credentials_are_one_line_naming_them(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="VELO_BETFAIR_PASSWORD, VELO_BETFAIR_APP_KEY"):
        BetfairCredentials.from_env({"VELO_BETFAIR_USERNAME": "u"})
    with pytest.raises(ValueError, match="is not a folder"):
        env = {"VELO_BETFAIR_USERNAME": "u", "VELO_BETFAIR_PASSWORD": "p", "VELO_BETFAIR_APP_KEY": "k"}
        BetfairCredentials.from_env({**env, "VELO_BETFAIR_CERTS": str(tmp_path / "nope")})
    res = CliRunner().invoke(main, ["feed", "betfair"], env={"VELO_BETFAIR_USERNAME": ""})
    assert res.exit_code != 0 and "Betfair credentials missing" in res.output and "Traceback" not in res.output


def test_race_ids_by_definition_and_by_mapping(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "betfair_stream_samples" / "BASIC-1.132153978.gz"
    by_def, _ = betfair_stream.load(path, RaceIds("definition"))
    assert {u.race_id for u in by_def} == {"hamilton-20170614T1855Z"}
    mapping = tmp_path / "map.csv"
    mapping.write_text("market_id,race_id\n1.132153978,HAM-2017-06-14-R7\n")
    by_map, _ = betfair_stream.load(path, RaceIds.from_file(mapping))
    assert {u.race_id for u in by_map} == {"HAM-2017-06-14-R7"}
    assert [u.model_copy(update={"race_id": "x"}) for u in by_map] == [u.model_copy(update={"race_id": "x"})
                                                                       for u in by_def]  # fmt: skip
    other = tmp_path / "other.csv"
    other.write_text("market_id,race_id\n1.999,elsewhere\n")
    none, report = betfair_stream.load(path, RaceIds.from_file(other))
    assert none == [] and report.rows_skipped == 1
    assert "market 1.132153978: no race id for this market (race ids by mapping)" in report.problems[0]
    bad = tmp_path / "bad.csv"
    bad.write_text("market,race\n1.1,x\n")
    with pytest.raises(ValueError, match="needs columns market_id and race_id"):
        RaceIds.from_file(bad)
