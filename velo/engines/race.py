"""Helpers for per-race probability vectors (rows grouped by race)."""

from __future__ import annotations

import numpy as np

EPS = 1e-6


def race_index(race_ids: np.ndarray) -> np.ndarray:
    """0..k-1 race numbers in order of first appearance."""
    _, first, inv = np.unique(race_ids, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inv]


def normalise_scores(scores: np.ndarray, race: np.ndarray) -> np.ndarray:
    """Softmax of scores within each race (a conditional logit)."""
    s = np.asarray(scores, dtype=float)
    top = np.full(race.max() + 1, -np.inf)
    np.maximum.at(top, race, s)
    e = np.exp(s - top[race])
    return e / np.bincount(race, weights=e)[race]


def normalise_odds(q: np.ndarray, race: np.ndarray) -> np.ndarray:
    """Independent win probabilities -> probabilities summing to 1 per race,
    normalised on the log-odds scale: p_i ∝ q_i / (1 - q_i)."""
    q = np.clip(q, EPS, 1 - EPS)
    return normalise_scores(np.log(q) - np.log1p(-q), race)
