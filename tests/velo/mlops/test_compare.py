"""Comparison and promotion on simulator data where the truth is known.

Figures quoted in docs/mlops.md come from these tests (printed with -s).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from schemas import PredictionLog
from velo.backtest.metrics import race_scores
from velo.mlops.compare import compare, per_race_logloss, write
from velo.mlops.labelled import LabelledLogError, labelled_frame, read_labelled
from velo.mlops.policy import PromotionPolicy

from .world import labelled, scored, write_log

#: The stated number of races within which the truly better challenger is found.
RACES_NEEDED = 300
POLICY = PromotionPolicy(min_races=RACES_NEEDED, min_improvement=0.0, confidence=0.95)
COLS = ["sqpe_prob", "tie_intent", "final_prob", "market_prob", "stake_fraction"]


def test_per_race_logloss_agrees_with_race_scores() -> None:
    rng = np.random.default_rng(0)
    race = np.repeat([f"r{i}" for i in range(300)], 8)
    p = rng.dirichlet(np.ones(8), 300).ravel()
    won = np.zeros(len(p))
    won[np.arange(300) * 8 + rng.integers(0, 8, 300)] = 1
    won[5] = 1  # a dead heat in race 0
    p[20] = np.nan  # race 2 is left out
    ll = per_race_logloss(p, won, race)
    assert len(ll) == 299 and "r2" not in ll.index
    assert ll.mean() == pytest.approx(race_scores(p, won, race)["logloss"], rel=1e-12)


def test_truly_better_challenger_is_found_within_the_stated_races(tmp_path) -> None:
    test, champ, chall = scored()
    # through the real log files: prediction rows, then outcome rows
    write_log(tmp_path / "logs", {"1": champ, "2": chall}, test)
    frame = read_labelled(tmp_path / "logs", "velo")
    races = pd.unique(frame["race_id"])
    assert len(races) == test["race_id"].nunique()
    full = compare(frame, "velo", "1", "2")
    assert POLICY.decide(full).action == "promote", full.test
    # the first RACES_NEEDED races in time order are enough
    first = compare(frame[frame["race_id"].isin(set(races[:RACES_NEEDED]))], "velo", "1", "2")
    decision = POLICY.decide(first)
    print(f"\nfirst {RACES_NEEDED} races: {decision.reason}")
    assert decision.action == "promote"
    # and in disjoint blocks of RACES_NEEDED races (power, not one lucky window)
    blocks = [set(races[b : b + RACES_NEEDED]) for b in range(0, len(races) - RACES_NEEDED + 1, RACES_NEEDED)]
    actions = [POLICY.decide(compare(frame[frame["race_id"].isin(b)], "velo", "1", "2", with_betting=False)).action
               for b in blocks]  # fmt: skip
    print(f"disjoint blocks of {RACES_NEEDED}: {actions}")
    assert actions.count("promote") >= len(actions) - 1 and len(actions) >= 4
    # fewer races than the policy needs: keep, whatever the evidence
    few = compare(frame[frame["race_id"].isin(set(races[:100]))], "velo", "1", "2")
    assert POLICY.decide(few).action == "keep" and "only 100 races" in POLICY.decide(few).reason
    # the reverse question: the champion is confidently worse -> it would be archived as a challenger
    assert POLICY.decide(compare(frame, "velo", "2", "1")).action == "archive"
    s1, s2 = full.summaries
    assert s2.scores["logloss"] < s1.scores["logloss"] and s2.scores["pseudo_r2"] > s1.scores["pseudo_r2"]
    assert s1.scores["n_races"] == s2.scores["n_races"] == full.test.n_races
    assert s1.betting is not None and s1.betting["flat"]["bets"] > 0 and 0 <= s1.ece < 0.1
    files = write(full, tmp_path / "out", POLICY.decide(full).to_dict())
    assert all(f.stat().st_size > 1000 for f in files)


def test_equal_models_are_rarely_promoted() -> None:
    """False-promotion rate under equal models, over many seeds.

    Equal by construction: for each race a coin decides whether "v1" logs the
    champion's or the challenger's prediction (and "v2" the other), so neither
    is better in expectation, yet per-race differences are as large and
    heavy-tailed as between real models. Each seed draws new coins and a new
    sample of RACES_NEEDED races.
    """
    test, champ, chall = scored()
    races = test["race_id"].to_numpy()
    unique = pd.unique(races)
    seeds, promoted = 100, 0
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        pick = set(rng.choice(unique, RACES_NEEDED, replace=False))
        heads = pd.Series(rng.random(len(unique)) < 0.5, index=unique).reindex(races).to_numpy()[:, None]
        a = pd.DataFrame(np.where(heads, champ[COLS], chall[COLS]), columns=COLS)
        b = pd.DataFrame(np.where(heads, chall[COLS], champ[COLS]), columns=COLS)
        keep = np.isin(races, list(pick))
        frame = labelled({"1": a[keep].reset_index(drop=True), "2": b[keep].reset_index(drop=True)},
                         test[keep].reset_index(drop=True))  # fmt: skip
        c = compare(frame, "velo", "1", "2", n_boot=1000, seed=seed, with_betting=False)
        promoted += POLICY.decide(c).action == "promote"
    print(f"\nequal models: promoted {promoted}/{seeds} at 95% (nominal 5%)")
    assert promoted <= 8
    # literally the same model twice: never promoted
    same = labelled({"1": chall, "2": chall}, test)
    c = compare(same, "velo", "1", "2")
    assert c.test.mean_improvement == 0 and POLICY.decide(c).action == "keep"


def _row(**kw) -> PredictionLog:
    base = dict(timestamp=datetime(2025, 1, 1, 12, tzinfo=UTC), request_id="q1", race_id="r1", horse_id="h1",
                model_name="m", model_version="1", is_champion=True)  # fmt: skip
    return PredictionLog(**{**base, **kw})


def test_labelled_frame_joins_dedupes_and_handles_missing_results() -> None:
    t = datetime(2025, 1, 1, 12, tzinfo=UTC)
    rows = []
    for v in ("1", "2"):
        for h, p in (("h1", 0.6), ("h2", 0.3), ("h3", 0.1)):
            rows.append(_row(model_version=v, horse_id=h, final_prob=p, is_champion=v == "1"))
            rows.append(_row(model_version=v, horse_id=h, final_prob=p, is_champion=v == "1"))  # redelivered
        # h3 was withdrawn: no outcome row; it did not win
        rows += [
            _row(model_version=v, horse_id="h1", won=False, result_position=2, timestamp=t + timedelta(hours=1)),
            _row(model_version=v, horse_id="h2", won=True, result_position=1, timestamp=t + timedelta(hours=1)),
        ]
        # a race whose result never arrived
        rows.append(_row(model_version=v, race_id="r2", request_id="q2", final_prob=1.0))
    frame = labelled_frame(rows, "m")
    assert sorted(frame["race_id"].unique()) == ["r1"] and len(frame) == 6
    assert frame.loc[frame["horse_id"] == "h3", "won"].eq(0).all()
    assert frame.loc[frame["horse_id"] == "h2", "won"].eq(1).all()
    with pytest.raises(LabelledLogError, match=r"version 3 .*versions with outcomes: 1, 2"):
        compare(frame, "m", "1", "3")
    with pytest.raises(LabelledLogError, match="same version"):
        compare(frame, "m", "1", "1")
    assert labelled_frame(rows, "other").empty
