"""The conditional logit: a softmax over each race's runners, fitted by the
likelihood of its winners (McFadden; Bolton and Chapman brought it to racing).

Both stages use it: SQPE's race-relative part and the orchestrator. Races are
numbered 0..k-1 in ``race``; ``won`` may hold dead heats (fractions summing to
1 per race).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize


def fit_conditional_logit(
    X: np.ndarray, won: np.ndarray, race: np.ndarray, l2: float, w0: np.ndarray | None = None
) -> np.ndarray:
    """Weights maximising the mean winner log-likelihood per race, less
    ``l2 * |w|²``."""
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

    start = np.zeros(X.shape[1]) if w0 is None else np.asarray(w0, dtype=float)
    return minimize(loss, start, jac=True, method="L-BFGS-B").x


def race_log_likelihoods(X: np.ndarray, w: np.ndarray, won: np.ndarray, race: np.ndarray) -> np.ndarray:
    """Each race's winner log-likelihood under weights ``w`` (0 for a race
    without a winner)."""
    s = X @ w
    n_races = race.max() + 1
    top = np.full(n_races, -np.inf)
    np.maximum.at(top, race, s)
    logz = np.log(np.bincount(race, weights=np.exp(s - top[race]), minlength=n_races)) + top
    winners = np.bincount(race, weights=won, minlength=n_races)
    return np.bincount(race, weights=won * s, minlength=n_races) - winners * logz


def mean_log_likelihood(X: np.ndarray, w: np.ndarray, won: np.ndarray, race: np.ndarray) -> float:
    """Mean winner log-likelihood per race of weights ``w``."""
    return float(race_log_likelihoods(X, w, won, race).mean())


def race_zscores(X: np.ndarray, race: np.ndarray, clip: float = 4.0) -> np.ndarray:
    """Each column standardised within each race ((x - race mean) / race sd,
    over the runners that have it), 0 where missing or constant in the race,
    then one column per feature marking it missing. What a runner has
    against its field, which a model of runners one at a time cannot see."""
    X = np.asarray(X, dtype=float)
    n = race.max() + 1
    known = ~np.isnan(X)
    x = np.where(known, X, 0.0)
    count = np.zeros((n, X.shape[1]))
    total = np.zeros((n, X.shape[1]))
    square = np.zeros((n, X.shape[1]))
    np.add.at(count, race, known)
    np.add.at(total, race, x)
    np.add.at(square, race, x * x)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        sd = np.sqrt(np.maximum(square / count - mean * mean, 0.0))
        z = (x - mean[race]) / sd[race]
    z = np.where(known & (sd[race] > 1e-9), np.clip(z, -clip, clip), 0.0)
    return np.hstack([z, (~known).astype(float)])
