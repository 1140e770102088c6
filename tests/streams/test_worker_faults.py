"""The fault-injection harness (``bench/faults.py``), each scenario at a small
size, on real processes: its own broker and Redis, real ``velo worker``
processes killed with SIGKILL. Every acknowledged message must end as a
prediction or a dead letter (lost = 0), valid cards must never be
dead-lettered, and de-duplication by request_id leaves one prediction a card.
In market_kill, a worker killed mid-way through the races' market paths
gives every prediction the rules call for, with the same request_ids as
computed offline, and no other.
"""

from __future__ import annotations

import pytest

from bench.faults import run_scenario

pytestmark = pytest.mark.integration

SMALL = {
    "poison": 60,
    "redis": 200,
    "worker_kill": 120,
    "no_champion": 30,
    "broker_restart": 40,
    "two_workers": 160,
    "market_kill": 16,
}


@pytest.mark.parametrize("scenario", list(SMALL))
def test_nothing_is_lost(scenario: str, model_dirs, tmp_path) -> None:
    t = run_scenario(scenario, model_dirs[0], tmp_path, SMALL[scenario])
    print(t)
    assert t.sent > 0
    assert t.lost == 0, t
    assert t.misfiled == 0, t
    assert t.duplicates == 0, t
    assert t.predicted == t.valid, t
    if scenario == "market_kill":  # predictions are the unit: every expected request_id seen, no other
        assert t.dead_lettered == 0 and t.redelivered >= 0, t
        return
    assert t.dead_lettered == t.sent - t.valid, t
    if scenario == "no_champion":
        assert t.notes[0].startswith("0 of"), t.notes


def test_market_kill_with_market_states_written_behind(model_dirs, tmp_path, monkeypatch) -> None:
    """VELO_STATE_FLUSH_MS > 0 holds a batch's states in memory and commits it
    only after the flush: a kill mid-way must still give every expected
    request_id once."""
    monkeypatch.setenv("VELO_STATE_FLUSH_MS", "10")
    t = run_scenario("market_kill", model_dirs[0], tmp_path, SMALL["market_kill"])
    print(t)
    assert t.sent > 0 and t.lost == 0 and t.misfiled == 0 and t.duplicates == 0, t
    assert t.predicted == t.valid and t.dead_lettered == 0, t
