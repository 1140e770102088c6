"""Benter's second stage: a conditional logit over the engines and the market.

    final_i ∝ exp(α·log p_sqpe_i + β·log p_market_i + γ·tie_i + δ·nds_i)

fitted by maximum likelihood of the winners on *out-of-sample* first-stage
predictions. Races without a market probability use a second fit without the
β term (the fundamental-only combination).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from velo.engines.race import EPS, normalise_scores

TERMS = ["alpha_log_sqpe", "beta_log_market", "gamma_tie", "delta_nds"]


def _design(p_sqpe: np.ndarray, p_market: np.ndarray, tie: np.ndarray, nds: np.ndarray) -> np.ndarray:
    return np.column_stack([
        np.log(np.clip(p_sqpe, EPS, 1.0)),
        np.log(np.clip(np.nan_to_num(p_market, nan=1.0), EPS, 1.0)),
        tie,
        nds,
    ])  # fmt: skip


def _fit(X: np.ndarray, won: np.ndarray, race: np.ndarray, l2: float) -> np.ndarray:
    n_races = race.max() + 1
    winners = np.bincount(race, weights=won, minlength=n_races)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = X @ w
        top = np.full(n_races, -np.inf)
        np.maximum.at(top, race, s)
        e = np.exp(s - top[race])
        z = np.bincount(race, weights=e, minlength=n_races)
        logz = np.log(z) + top
        ll = (won * s).sum() - (winners * logz).sum()
        p = e / z[race]
        grad = X.T @ won - X.T @ (p * winners[race])
        return -ll / n_races + l2 * w @ w, -grad / n_races + 2 * l2 * w

    w0 = np.zeros(X.shape[1])
    w0[0] = 1.0
    res = minimize(loss, w0, jac=True, method="L-BFGS-B")
    return res.x


class Orchestrator:
    """Fit on out-of-sample engine outputs; predict final probabilities."""

    def __init__(self, l2: float = 1e-4) -> None:
        self.l2 = l2

    def fit(self, p_sqpe, p_market, tie, nds, won, race) -> Orchestrator:
        X = _design(p_sqpe, p_market, tie, nds)
        has_mkt = self._race_has_market(p_market, race)
        self.with_market_ = None
        if has_mkt.any():
            rows = has_mkt[race]
            self.with_market_ = _fit(X[rows], won[rows], _reindex(race[rows]), self.l2)
        cols = [0, 2, 3]
        w = _fit(X[:, cols], won, race, self.l2)
        self.without_market_ = np.array([w[0], 0.0, w[1], w[2]])
        return self

    @staticmethod
    def _race_has_market(p_market: np.ndarray, race: np.ndarray) -> np.ndarray:
        missing = np.bincount(race, weights=np.isnan(p_market).astype(float), minlength=race.max() + 1)
        return missing == 0

    def predict(self, p_sqpe, p_market, tie, nds, race) -> np.ndarray:
        X = _design(p_sqpe, p_market, tie, nds)
        has_mkt = self._race_has_market(p_market, race)[race]
        w = np.where(has_mkt[:, None], self.with_market_ if self.with_market_ is not None else self.without_market_,
                     self.without_market_)  # fmt: skip
        return normalise_scores((X * w).sum(axis=1), race)

    def coefficients(self) -> dict[str, dict[str, float] | None]:
        def named(w: np.ndarray | None) -> dict[str, float] | None:
            return None if w is None else dict(zip(TERMS, np.round(w, 4).tolist(), strict=True))

        return {"with_market": named(self.with_market_), "without_market": named(self.without_market_)}


def _reindex(race: np.ndarray) -> np.ndarray:
    _, inv = np.unique(race, return_inverse=True)
    return inv
