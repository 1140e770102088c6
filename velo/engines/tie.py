"""TIE: trainer intent, an L2 logistic regression over the 7 TIE features.

Label: the runner *beat its market expectation*, i.e. finished ahead of its
rank in the market (1 = favourite) by the race's final price. Where only the
winner is known (Betfair ANZ), the label is "won and was not the favourite".
The label uses the race's outcome and final price, as labels must; neither is
ever a feature.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


def tie_label(frame: pd.DataFrame) -> np.ndarray:
    """1 where the runner beat its market rank; needs race_id, position, won, price_final."""
    price = frame["price_final"].fillna(frame["price_final"].max() or 1000.0)
    rank = price.groupby(frame["race_id"]).rank(method="min")
    position = frame["position"]
    has_order = position.notna().groupby(frame["race_id"]).transform("sum") >= 3
    beat = np.where(has_order, position.fillna(99) < rank, (frame["won"] == 1) & (rank > 1))
    return beat.astype(int)


class TIE(ClassifierMixin, BaseEstimator):
    def __init__(self, C: float = 1.0, max_iter: int = 500) -> None:
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: np.ndarray, y: np.ndarray) -> TIE:
        y = np.asarray(y, dtype=int)
        self.classes_ = np.array([0, 1])
        if len(np.unique(y)) < 2:
            # no label variation (e.g. a file without any prices): a constant,
            # which cancels out of every race in the orchestrator
            self.model_ = None
            self.constant_ = float(y.mean()) if len(y) else 0.0
            return self
        self.model_ = Pipeline(
            [
                (
                    "impute",
                    SimpleImputer(strategy="constant", fill_value=0.0, add_indicator=True, keep_empty_features=True),
                ),
                ("scale", StandardScaler()),
                ("logit", LogisticRegression(C=self.C, max_iter=self.max_iter)),
            ]
        )
        self.model_.fit(np.asarray(X, dtype=float), y)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """The fitted pipeline's probabilities, computed with numpy.

        Imputing, scaling and the logistic are a few array operations, but
        the scikit-learn pipeline spent about 0.5 ms a call checking its
        inputs, the most of TIE's cost on one race. These are the same
        operations in the same order (a test checks equality with the pipeline).
        """
        X = np.asarray(X, dtype=float)
        if self.model_ is None:
            p = np.full(len(X), self.constant_)
            return np.column_stack([1 - p, p])
        imp, scale, logit = (self.model_.named_steps[k] for k in ("impute", "scale", "logit"))
        missing = np.isnan(X)
        Z = np.where(missing, np.asarray(imp.statistics_, dtype=float), X)
        if imp.add_indicator:
            Z = np.hstack([Z, missing[:, imp.indicator_.features_].astype(Z.dtype)])
        Z -= scale.mean_
        Z /= scale.scale_
        p = expit((Z @ logit.coef_.T + logit.intercept_).reshape(-1))
        return np.stack([1 - p, p], axis=1)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The likelier class per runner, so scikit-learn's ``score`` and
        model-selection tools work; the orchestrator uses the probabilities."""
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]

    def coefficients(self, names: list[str]) -> dict[str, float]:
        if self.model_ is None:
            return dict.fromkeys(names, 0.0)
        coef = self.model_.named_steps["logit"].coef_[0]
        return dict(zip(names, coef[: len(names)].round(4).tolist(), strict=True))
