"""SQPE: calibrated gradient-boosted win probabilities from fundamentals.

HistGradientBoostingClassifier (shallow trees, many small steps) with an
isotonic calibration learnt from time-ordered out-of-fold scores, then
normalised within each race on the log-odds scale. Prediction cost grows with
the number of trees (sklearn walks them one by one), which is why one booster,
not one per fold, serves predictions.
"""

from __future__ import annotations

import weakref

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import KFold

from velo.engines.forest import CompiledForest
from velo.engines.race import normalise_odds


class SQPE(ClassifierMixin, BaseEstimator):
    """Rows must be in time order: calibration folds are contiguous blocks."""

    def __init__(
        self,
        max_iter: int = 300,
        learning_rate: float = 0.04,
        max_leaf_nodes: int = 7,
        min_samples_leaf: int = 300,
        l2_regularization: float = 1.0,
        calibration_folds: int = 3,
        random_state: int = 0,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.calibration_folds = calibration_folds
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> SQPE:
        base = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
        )
        X = np.asarray(X, dtype=float)
        self.empty_columns_ = self._empty_columns(X)
        # ensemble=False: the isotonic map is fitted on out-of-fold scores, but
        # one booster (fitted on all rows) serves predictions, so a race costs
        # one pass over the trees instead of one per fold
        self.model_ = CalibratedClassifierCV(base, method="isotonic", cv=KFold(self.calibration_folds),
                                             ensemble=False)  # fmt: skip
        self.model_.fit(self._prepare(X), np.asarray(y, dtype=int))
        self.classes_ = self.model_.classes_
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def _empty_columns(self, X: np.ndarray) -> np.ndarray:
        """Features to hold at 0 in fit and predict: those all missing in the
        rows of any booster fitted here, which the binner cannot handle. A
        feature the source never has (draw in Betfair ANZ) is all missing; one
        it has only lately (winners-only results in a UK/Irish set) is all
        missing in the training rows of the last calibration fold."""
        known = ~np.isnan(X)
        empty = ~known.any(axis=0)
        for train, _ in KFold(self.calibration_folds).split(X):
            empty |= ~known[train].any(axis=0)
        return empty

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        X = np.array(X, dtype=float)
        X[:, self.empty_columns_] = 0.0
        return X

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Independent calibrated P(win) per runner (not yet normalised by race).

        The same numbers as ``self.model_.predict_proba``, through the compiled
        trees (see velo.engines.forest) and the fitted isotonic map.
        """
        X = self._prepare(X)
        fast = _compiled(self.model_)
        if fast is None:
            return self.model_.predict_proba(X)
        forest, calibrator = fast
        p = _isotonic(calibrator, forest.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict_race(self, X: np.ndarray, race: np.ndarray) -> np.ndarray:
        """Win probabilities that sum to 1 within each race."""
        return normalise_odds(self.predict_proba(X)[:, 1], race)

    def base_estimators(self) -> list[HistGradientBoostingClassifier]:
        """The boosted models inside the calibration folds (for SHAP)."""
        return [c.estimator for c in self.model_.calibrated_classifiers_]


_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _isotonic(calibrator: IsotonicRegression, scores: np.ndarray) -> np.ndarray:
    """``calibrator.predict(scores)`` for the 1-d float scores of our own
    trees: the same clip and the same fitted interpolation, without
    scikit-learn's input checks, which were most of a single card's
    calibration time."""
    f = getattr(calibrator, "f_", None)
    if calibrator.out_of_bounds != "clip" or f is None or scores.dtype != calibrator.X_thresholds_.dtype:
        return calibrator.predict(scores)
    return np.asarray(f(np.clip(scores.reshape(-1), calibrator.X_min_, calibrator.X_max_)), dtype=scores.dtype)


def _compiled(model: CalibratedClassifierCV) -> tuple[CompiledForest, object] | None:
    """The compiled trees and the isotonic map of a binary, single-booster
    calibrated model (ensemble=False), built once per fitted model; None for
    any other shape, which then goes through scikit-learn."""
    if model not in _COMPILED:
        cal = model.calibrated_classifiers_
        ok = len(cal) == 1 and len(cal[0].calibrators) == 1 and list(model.classes_) == [0, 1]
        try:
            _COMPILED[model] = (CompiledForest(cal[0].estimator), cal[0].calibrators[0]) if ok else None
        except ValueError:
            _COMPILED[model] = None
    return _COMPILED[model]
