"""SQPE, TIE, NDS, orchestrator and staking on the simulator and synthetic data."""

from __future__ import annotations

import dataclasses

import numpy as np
import orjson
import pytest
from sklearn.base import clone

from schemas import MarketUpdate
from velo.backtest.metrics import race_scores
from velo.engines.nds import NDS, SIGNALS, market_probs
from velo.engines.orchestrator import TERMS, Orchestrator
from velo.engines.race import normalise_scores, race_index
from velo.engines.sqpe import SQPE
from velo.engines.staking import Staking
from velo.engines.tie import TIE, tie_label
from velo.features.definitions import SQPE_FEATURES, TIE_FEATURES
from velo.features.offline import build_training_set
from velo.markets.state import RaceMarket
from velo.sim import SimConfig, simulate


@pytest.fixture(scope="module")
def frame():
    sim = simulate(SimConfig(seed=21, days=240, n_horses=900))
    return build_training_set(sim.events())


def test_sqpe_is_a_sklearn_estimator_and_has_skill(frame) -> None:
    cut = frame["off_time"].quantile(0.7)
    tr, te = frame[frame.off_time < cut], frame[frame.off_time >= cut]
    model = clone(SQPE(max_iter=80)).fit(tr[SQPE_FEATURES].to_numpy(), tr["won"].to_numpy())
    race = race_index(te["race_id"].to_numpy())
    p = model.predict_race(te[SQPE_FEATURES].to_numpy(), race)
    np.testing.assert_allclose(np.bincount(race, weights=p), 1.0)
    assert model.predict_proba(te[SQPE_FEATURES].to_numpy()).shape == (len(te), 2)
    assert race_scores(p, te["won"].to_numpy(), te["race_id"].to_numpy())["pseudo_r2"] > 0.05
    assert SQPE(max_iter=7).get_params()["max_iter"] == 7


def test_sqpe_race_part(frame) -> None:
    """Fitted with races, SQPE adds the race-relative conditional logit; a
    card scored alone gets the same numbers as in a batch."""
    tr, te = (
        frame[frame["off_time"] < frame["off_time"].quantile(0.7)],
        frame[frame["off_time"] >= frame["off_time"].quantile(0.7)],
    )
    X, race = tr[SQPE_FEATURES].to_numpy(), race_index(tr["race_id"].to_numpy())
    plain = SQPE(max_iter=40).fit(X, tr["won"].to_numpy())
    model = SQPE(max_iter=40).fit(X, tr["won"].to_numpy(), race)
    assert plain.race_weights_ is None and model.race_weights_.shape == (1 + 2 * len(SQPE_FEATURES),)
    np.testing.assert_array_equal(plain.predict_proba(X), model.predict_proba(X))  # the same booster
    Xt, rt = te[SQPE_FEATURES].to_numpy(), race_index(te["race_id"].to_numpy())
    p = model.predict_race(Xt, rt)
    np.testing.assert_allclose(np.bincount(rt, weights=p), 1.0)
    first = rt == 0
    np.testing.assert_array_equal(model.predict_race(Xt[first], rt[first]), p[first])
    assert not np.allclose(p, plain.predict_race(Xt, rt))


def test_tie_label_and_fit(frame) -> None:
    y = tie_label(frame)
    assert set(np.unique(y)) == {0, 1} and 0.05 < y.mean() < 0.6
    model = TIE().fit(frame[TIE_FEATURES].to_numpy(), y)
    p = model.predict_proba(frame[TIE_FEATURES].to_numpy())[:, 1]
    assert ((p > 0) & (p < 1)).all()
    assert set(model.coefficients(TIE_FEATURES)) == set(TIE_FEATURES)


def test_orchestrator_recovers_known_coefficients() -> None:
    rng = np.random.default_rng(0)
    races, size = 4000, 10
    race = np.repeat(np.arange(races), size)
    p_sqpe = normalise_scores(rng.normal(0, 1, races * size), race)
    p_mkt = normalise_scores(rng.normal(0, 1, races * size), race)
    tie, nds = rng.random(races * size), rng.uniform(-1, 1, races * size)
    truth = np.array([0.6, 0.8, 0.5, -0.4])
    score = truth[0] * np.log(p_sqpe) + truth[1] * np.log(p_mkt) + truth[2] * tie + truth[3] * nds
    p = normalise_scores(score, race)
    won = np.zeros(races * size)
    for r in range(races):
        won[r * size + rng.choice(size, p=p[r * size : (r + 1) * size])] = 1
    orch = Orchestrator(l2=0.0).fit(p_sqpe, p_mkt, tie, nds, won, race)
    np.testing.assert_allclose(orch.with_market_[:4], truth, atol=0.12)
    assert (orch.with_market_[4:] == 0).all()  # no market shape given: its terms stay out
    final = orch.predict(p_sqpe, p_mkt, tie, nds, race)
    np.testing.assert_allclose(np.bincount(race, weights=final), 1.0)
    no_mkt = orch.predict(p_sqpe, np.full_like(p_mkt, np.nan), tie, nds, race)
    np.testing.assert_allclose(np.bincount(race, weights=no_mkt), 1.0)
    assert list(orch.coefficients()["with_market"]) == TERMS


def _update(t: float, runner: str, back: float, volume: float = 0.0) -> MarketUpdate:
    from datetime import UTC, datetime

    return MarketUpdate(race_id="r", runner_id=runner, publish_time=datetime.fromtimestamp(t, UTC),
                        back_price=back, traded_volume=volume)  # fmt: skip


def test_nds_signals_are_bounded_and_signed() -> None:
    m = RaceMarket("r")
    for t, a, b in [(0, 5.0, 3.0), (1000, 4.0, 3.2), (1500, 2.5, 3.8)]:
        m.apply(_update(t, "a", a, 100 * t))
        m.apply(_update(t, "b", b, 10 * t))
    m.apply(_update(100, "a", 9.0))  # stale: older than the newest, ignored
    s = NDS().signals(m, ["a", "b", "x"], at=1600)
    assert np.all(np.abs(s) <= 1)
    assert s[0, 0] > 0 and s[1, 0] < 0, "a shortened (steam), b drifted"
    assert s[0, 1] > 0, "a shortened late"
    assert np.all(s[2] == 0), "no data, no signal"
    combined = NDS().combine(s)
    assert np.all(np.abs(combined) <= 1)
    assert m.runners["a"].price == 2.5
    restored = RaceMarket.from_dict(m.to_dict())
    assert restored == m and m.encode() == orjson.dumps(dataclasses.asdict(m))  # the stored form is unchanged
    np.testing.assert_array_equal(NDS().signals(restored, ["a", "b", "x"], 1600), s)


def test_the_spread_signal_is_the_back_lay_gap() -> None:
    from datetime import UTC, datetime

    m = RaceMarket("r")
    at = datetime.fromtimestamp(10, UTC)
    for runner, back, lay in (("tight", 4.0, 4.1), ("thin", 4.0, 6.0), ("one-sided", 4.0, None)):
        m.apply(MarketUpdate(race_id="r", runner_id=runner, publish_time=at, back_price=back, lay_price=lay))
    spread = NDS().signals(m, ["tight", "thin", "one-sided"], at=20)[:, SIGNALS.index("spread")]
    assert -0.1 < spread[0] < 0 and spread[1] < -0.8 and spread[2] == 0
    old = NDS(weights=(0.5, 0.8, 0.3, 0.2))  # a model saved before the spread existed
    np.testing.assert_array_equal(old.combine(np.ones((1, len(SIGNALS)))), NDS().combine(np.ones((1, len(SIGNALS)))))


def test_market_probs_remove_the_overround() -> None:
    m = RaceMarket("r")
    m.apply(_update(0, "a", 2.0))
    p = market_probs(m, ["a", "b"], [None, 2.0])
    np.testing.assert_allclose(p, [0.5, 0.5])
    assert np.isnan(market_probs(None, ["a", "b"], [2.0, None])).all()


def test_staking_backs_only_with_an_edge_and_caps() -> None:
    st = Staking(threshold=0.05, kelly_fraction=0.5, cap=0.02)
    stakes = st.stakes(np.array([0.5, 0.5, 0.2, 0.9]), np.array([3.0, 2.0, np.nan, 10.0]))
    assert stakes[0] == pytest.approx(0.02)  # edge 0.5, kelly 0.25 * 0.5 capped
    assert stakes[1] == 0 and stakes[2] == 0
    assert stakes[3] == pytest.approx(0.02)


def test_staking_counts_commission_and_skips_long_shots() -> None:
    st = Staking(threshold=0.0, kelly_fraction=1.0, cap=1.0, commission=0.05, max_price=50.0)
    # 0.51 at evens: a 2% edge gross, a loss after 5% commission
    assert st.stakes(np.array([0.51]), np.array([2.0]))[0] == 0
    stake = st.stakes(np.array([0.6]), np.array([2.0]))[0]
    assert stake == pytest.approx((0.6 * 1.95 - 1) / 0.95)
    assert st.stakes(np.array([0.05]), np.array([101.0]))[0] == 0, "no bets beyond max_price"
    # an arbitrage book (1/3 + 1/4 < 1: a runner withdrawn after the prices were taken) gets no bets
    # and a full book (1/1.4 + 1/3.5 = 1) is bet as before
    prob, price = np.array([0.7, 0.3, 0.8, 0.2]), np.array([3.0, 4.0, 1.4, 3.5])
    stake = st.stakes(prob, price, np.array([0, 0, 1, 1]))
    assert stake[0] == 0 and st.stakes(prob, price)[0] > 0
    assert stake[2] > 0 and stake[2] == st.stakes(prob, price)[2]


def test_tie_numpy_equals_the_sklearn_pipeline(frame) -> None:
    """TIE scores with numpy; the fitted pipeline is the reference, NaNs included."""
    X = frame[TIE_FEATURES].to_numpy(dtype=float).copy()
    model = TIE().fit(X, tie_label(frame))
    X[::4, 1] = np.nan
    X[1::5, :] = np.nan
    np.testing.assert_array_equal(model.predict_proba(X), model.model_.predict_proba(X))


def test_sqpe_fits_when_a_feature_is_known_only_in_one_calibration_fold() -> None:
    """A UK/Irish exchange set (winners-only results) crashed the fit with
    scikit-learn's "window shape cannot be larger than input array shape": a
    column all missing within one fold's training rows, though not overall."""
    rng = np.random.default_rng(0)
    n = 600
    X = rng.normal(size=(n, 3))
    X[: n - n // 3 + 10, 2] = np.nan  # known only in the last calibration fold
    y = (rng.random(n) < 0.1).astype(int)
    model = SQPE(max_iter=10, calibration_folds=3).fit(X, y)
    p = model.predict_proba(X)[:, 1]
    assert np.isfinite(p).all()
    assert model.empty_columns_.tolist() == [False, False, True]


def _winners(p: np.ndarray, race: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    won = np.zeros(len(p))
    for r in range(race.max() + 1):
        won[r * size + rng.choice(size, p=p[r * size : (r + 1) * size])] = 1
    return won


def test_orchestrator_falls_back_to_the_market_when_the_engines_add_nothing() -> None:
    rng = np.random.default_rng(1)
    races, size = 3000, 10
    race = np.repeat(np.arange(races), size)
    p_mkt = normalise_scores(rng.normal(0, 1, races * size), race)
    won = _winners(p_mkt, race, size, rng)  # the market is the truth
    noise = normalise_scores(rng.normal(0, 1, races * size), race)
    tie, nds = rng.random(races * size), rng.uniform(-1, 1, races * size)
    orch = Orchestrator().fit(noise, p_mkt, tie, nds, won, race)
    assert orch.chosen_ in ("market", "market_power"), orch.cv_scores_
    final = orch.predict(noise, p_mkt, tie, nds, race)
    assert np.abs(final - p_mkt).max() < 0.05


def test_orchestrator_corrects_a_favourite_longshot_bias_with_a_power() -> None:
    rng = np.random.default_rng(2)
    races, size = 3000, 10
    race = np.repeat(np.arange(races), size)
    truth = normalise_scores(rng.normal(0, 1.2, races * size), race)
    p_mkt = normalise_scores(np.log(truth) / 1.3, race)  # longshots overbet: the market is too flat
    won = _winners(truth, race, size, rng)
    noise = normalise_scores(rng.normal(0, 1, races * size), race)
    orch = Orchestrator().fit(noise, p_mkt, np.zeros(races * size), np.zeros(races * size), won, race)
    assert orch.chosen_ == "market_power", orch.cv_scores_
    assert 1.15 < orch.with_market_[1] < 1.45
    assert orch.cv_scores_["market_power"] > orch.cv_scores_["market"]


def test_orchestrator_reads_the_spread_when_it_anticipates_the_move() -> None:
    """A thin market's price (wide back-lay spread) still moves before the
    off; here the runners with a wide spread drift, so the truth is the market
    less a spread penalty, which only the market-shape candidate can learn."""
    rng = np.random.default_rng(3)
    races, size = 3000, 10
    race = np.repeat(np.arange(races), size)
    p_mkt = normalise_scores(rng.normal(0, 1, races * size), race)
    signals = np.zeros((races * size, len(SIGNALS)))
    signals[:, SIGNALS.index("spread")] = -rng.random(races * size)
    won = _winners(normalise_scores(np.log(p_mkt) + 1.0 * signals[:, SIGNALS.index("spread")], race), race, size, rng)
    zeros = np.zeros(races * size)
    noise = normalise_scores(rng.normal(0, 1, races * size), race)
    orch = Orchestrator().fit(noise, p_mkt, zeros, zeros, won, race, signals)
    assert orch.chosen_ == "market_signals", orch.cv_scores_
    assert 0.6 < orch.with_market_[TERMS.index("theta_spread")] < 1.4
    plain = Orchestrator().fit(noise, p_mkt, zeros, zeros, won, race)  # without the signals it cannot
    assert plain.chosen_ in ("market", "market_power"), plain.cv_scores_
    with_shape = orch.predict(noise, p_mkt, zeros, zeros, race, signals)
    assert race_scores(with_shape, won, race)["logloss"] < race_scores(p_mkt, won, race)["logloss"]


def test_an_orchestrator_saved_before_the_market_shape_terms_still_predicts() -> None:
    race = np.repeat(np.arange(3), 4)
    p = normalise_scores(np.arange(12.0), race)
    orch = Orchestrator()
    orch.with_market_, orch.without_market_ = np.array([0.0, 1.0, 0.0, 0.0]), np.array([1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(orch.predict(p, p, np.zeros(12), np.zeros(12), race, np.ones((12, len(SIGNALS)))), p)


def test_orchestrator_wants_a_gain_beyond_its_standard_error() -> None:
    """The same real but small favourite-longshot bias on few races: chosen
    with no standard-error rule, refused when the gain must be far beyond its
    standard error, and the market alone left (no edge, no stakes)."""
    rng = np.random.default_rng(4)
    races, size = 600, 10
    race = np.repeat(np.arange(races), size)
    truth = normalise_scores(rng.normal(0, 1.2, races * size), race)
    p_mkt = normalise_scores(np.log(truth) / 1.3, race)
    won = _winners(truth, race, size, rng)
    noise = normalise_scores(rng.normal(0, 1, races * size), race)
    zeros = np.zeros(races * size)
    loose = Orchestrator(min_z=0.0).fit(noise, p_mkt, zeros, zeros, won, race)
    assert loose.chosen_ == "market_power", loose.cv_scores_
    strict = Orchestrator(min_z=50.0).fit(noise, p_mkt, zeros, zeros, won, race)
    assert strict.chosen_ == "market", strict.cv_scores_
    assert np.allclose(strict.predict(noise, p_mkt, zeros, zeros, race), p_mkt)
