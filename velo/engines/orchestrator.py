"""Benter's second stage: a conditional logit over the engines and the market.

    final_i ∝ exp(α·log p_sqpe_i + β·log p_market_i + γ·tie_i + δ·nds_i
                  + θ·spread_i + φ·log p_market_i·spread_i + ψ·log p_market_i·overround)

fitted by maximum likelihood of the winners on *out-of-sample* first-stage
predictions. Races without a market probability use a second fit without the
β term (the fundamental-only combination).

With a market, the combination must not be worse than the market alone, so
three candidates are compared by a time-ordered cross-validation over the
fitting races (expanding window: fit on the earlier folds, score the next):

- ``market``: the market as it is (β = 1, the rest 0);
- ``market_power``: β alone, the market to a power: β > 1 sharpens it, which
  corrects the favourite-longshot bias (longshots overbet);
- ``market_signals``: β with the decision-time shape of the market (NDS's
  back-lay spread, and the spread and the book percentage as tempers on β):
  what the market itself says about how far its price may still move;
- ``full``: every term.

A candidate replaces a simpler one only if it scores better out of sample by
at least ``margin`` in mean winner log-likelihood per race, and, with
``min_z`` > 0, by that many standard errors of the per-race gains (on
Betfair ANZ the market to a power won two months' CV by a few 1e-4 and then
lost to the market in both). ``min_z`` is 0 by default: at 1, the
simulator's truly better challenger, fitted on a few weeks of races, fell
back to the market like its champion, so the two could no longer be told
apart. The chosen candidate is refitted on every fitting race. When the engines add nothing the model is the
market (or its power), and no edge, hence no stake, comes out of it.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from velo.engines.conditional_logit import fit_conditional_logit, race_log_likelihoods
from velo.engines.race import EPS, normalise_scores
from velo.markets.signals import SIGNALS

TERMS = ["alpha_log_sqpe", "beta_log_market", "gamma_tie", "delta_nds", "theta_spread",
         "phi_log_market_x_spread", "psi_log_market_x_overround"]  # fmt: skip
_SPREAD, _OVERROUND = SIGNALS.index("spread"), SIGNALS.index("overround")


def _design(
    p_sqpe: np.ndarray, p_market: np.ndarray, tie: np.ndarray, nds: np.ndarray, signals: np.ndarray | None = None
) -> np.ndarray:
    """One column per term of TERMS; ``signals`` are the NDS signal columns
    (None: no market shape, the last three terms are 0)."""
    log_market = np.log(np.clip(np.nan_to_num(p_market, nan=1.0), EPS, 1.0))
    if signals is None:
        spread = overround = np.zeros(len(log_market))
    else:
        spread, overround = signals[:, _SPREAD], signals[:, _OVERROUND]
    return np.column_stack(
        [
            np.log(np.clip(p_sqpe, EPS, 1.0)),
            log_market,
            tie,
            nds,
            spread,
            log_market * spread,
            log_market * overround,
        ]
    )


def _fit(X: np.ndarray, won: np.ndarray, race: np.ndarray, l2: float) -> np.ndarray:
    w0 = np.zeros(X.shape[1])
    w0[0] = 1.0
    return fit_conditional_logit(X, won, race, l2, w0)


#: The candidates with a market, simplest first: name -> the design columns fitted (None: fixed weights).
CANDIDATES: dict[str, list[int] | None] = {"market": None, "market_power": [1], "market_signals": [1, 4, 5, 6],
                                           "full": [0, 1, 2, 3, 4, 5, 6]}  # fmt: skip
_MARKET = np.eye(len(TERMS))[1]


class Orchestrator(BaseEstimator):
    """Fit on out-of-sample engine outputs; predict final probabilities.

    A scikit-learn estimator in its parameters (``get_params``, ``clone``),
    though its fit and predict take the engines' columns, not one ``X``."""

    def __init__(self, l2: float = 1e-4, folds: int = 4, margin: float = 1e-4, min_z: float = 0.0) -> None:
        self.l2 = l2
        self.folds = folds
        self.margin = margin
        self.min_z = min_z

    def _fit_candidate(self, name: str, X: np.ndarray, won: np.ndarray, race: np.ndarray) -> np.ndarray:
        cols = CANDIDATES[name]
        if cols is None:
            return _MARKET.copy()
        w = np.zeros(X.shape[1])
        w[cols] = _fit(X[:, cols], won, race, self.l2) if cols != [1] else _fit_power(X[:, 1], won, race)
        return w

    def _choose(self, X: np.ndarray, won: np.ndarray, race: np.ndarray) -> tuple[str, dict[str, float | None]]:
        """The candidate to use, by time-ordered CV, and each one's CV score."""
        n_races = race.max() + 1
        edges = np.linspace(0, n_races, self.folds + 1).astype(int)
        scores: dict[str, float | None] = dict.fromkeys(CANDIDATES)
        if n_races < 4 * self.folds:
            return "market", scores
        per_race: dict[str, list[np.ndarray]] = {name: [] for name in CANDIDATES}
        for k in range(1, self.folds):
            fit_rows = race < edges[k]
            test_rows = (race >= edges[k]) & (race < edges[k + 1])
            test_race = race[test_rows] - edges[k]
            for name in CANDIDATES:
                w = self._fit_candidate(name, X[fit_rows], won[fit_rows], race[fit_rows])
                per_race[name].append(race_log_likelihoods(X[test_rows], w, won[test_rows], test_race))
        held = {name: np.concatenate(parts) for name, parts in per_race.items()}
        means = {name: round(float(ll.mean()), 6) for name, ll in held.items()}
        chosen = "market"
        for name in ("market_power", "market_signals", "full"):
            gain = held[name] - held[chosen]
            se = float(gain.std(ddof=1) / np.sqrt(len(gain))) if len(gain) > 1 else np.inf
            if means[name] > means[chosen] + self.margin and gain.mean() > self.min_z * se:
                chosen = name
        scored: dict[str, float | None] = dict(means)
        return chosen, scored

    def fit(self, p_sqpe, p_market, tie, nds, won, race, signals=None) -> Orchestrator:
        """``race`` numbers the races in time order (0 = earliest), as the
        training pipeline's time-sorted rows give them; ``signals`` are the
        NDS signal columns."""
        X = _design(p_sqpe, p_market, tie, nds, signals)
        has_mkt = self._race_has_market(p_market, race)
        self.with_market_ = None
        self.chosen_ = None
        self.cv_scores_: dict[str, float | None] = {}
        if has_mkt.any():
            rows = has_mkt[race]
            r = _reindex(race[rows])
            self.chosen_, self.cv_scores_ = self._choose(X[rows], won[rows], r)
            self.with_market_ = self._fit_candidate(self.chosen_, X[rows], won[rows], r)
        cols = [0, 2, 3]
        self.without_market_ = np.zeros(len(TERMS))
        self.without_market_[cols] = _fit(X[:, cols], won, race, self.l2)
        return self

    @staticmethod
    def _race_has_market(p_market: np.ndarray, race: np.ndarray) -> np.ndarray:
        missing = np.bincount(race, weights=np.isnan(p_market).astype(float), minlength=race.max() + 1)
        return missing == 0

    def predict(self, p_sqpe, p_market, tie, nds, race, signals=None) -> np.ndarray:
        X = _design(p_sqpe, p_market, tie, nds, signals)
        has_mkt = self._race_has_market(p_market, race)[race]
        without = _terms(self.without_market_)
        with_market = without if self.with_market_ is None else _terms(self.with_market_)
        w = np.where(has_mkt[:, None], with_market, without)
        return normalise_scores((X * w).sum(axis=1), race)

    def coefficients(self) -> dict[str, dict[str, float] | None]:
        def named(w: np.ndarray | None) -> dict[str, float] | None:
            return None if w is None else dict(zip(TERMS, np.round(w, 4).tolist(), strict=True))

        return {
            "with_market": named(self.with_market_),
            "without_market": named(self.without_market_),
            "chosen": getattr(self, "chosen_", None),
            "cv_mean_ll": getattr(self, "cv_scores_", {}),
        }


def _terms(w: np.ndarray) -> np.ndarray:
    """Weights over every term: a model saved before the market-shape terms
    existed has fewer, and they weigh 0 in it."""
    out = np.zeros(len(TERMS))
    out[: len(w)] = w
    return out


def _fit_power(log_market: np.ndarray, won: np.ndarray, race: np.ndarray) -> float:
    """β of the market-power model (no penalty: one parameter, many races)."""
    return float(_fit(log_market[:, None], won, race, 0.0)[0])


def _reindex(race: np.ndarray) -> np.ndarray:
    _, inv = np.unique(race, return_inverse=True)
    return inv
