"""A fitted HistGradientBoostingClassifier's trees as flat arrays, evaluated
all at once with numpy.

scikit-learn predicts tree by tree in a Python loop, which costs about 15 µs a
tree whatever the number of rows: 300 trees are 4-5 ms for one 14-runner race,
more than everything else the stream does for a card. Here every tree takes a
step down together, one numpy operation per depth level (the trees of SQPE
are at most 6 deep), so one race costs a few hundred microseconds.

The comparisons and the order of the sum are the ones scikit-learn uses
(``x <= threshold``, NaN follows ``missing_go_to_left``, the baseline plus
each tree in turn), so the result is the same to the last bit; a test checks
it against ``decision_function``.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier


class CompiledForest:
    """Raw scores (``decision_function``) of a fitted binary HGB classifier
    with numeric features only."""

    def __init__(self, model: HistGradientBoostingClassifier) -> None:
        predictors = [iteration[0] for iteration in model._predictors]
        if any(len(iteration) != 1 for iteration in model._predictors):
            raise ValueError("only binary classifiers (one tree per iteration) can be compiled")
        if any(p.nodes["is_categorical"].any() for p in predictors):
            raise ValueError("categorical splits are not supported")
        n_trees = len(predictors)
        width = max(len(p.nodes) for p in predictors)
        self.feature = np.zeros((n_trees, width), dtype=np.intp)
        self.threshold = np.zeros((n_trees, width))
        self.missing_left = np.zeros((n_trees, width), dtype=bool)
        self.left = np.zeros((n_trees, width), dtype=np.intp)
        self.right = np.zeros((n_trees, width), dtype=np.intp)
        self.is_leaf = np.ones((n_trees, width), dtype=bool)
        self.value = np.zeros((n_trees, width))
        for t, p in enumerate(predictors):
            nodes = p.nodes
            k = len(nodes)
            self.feature[t, :k] = nodes["feature_idx"]
            self.threshold[t, :k] = nodes["num_threshold"]
            self.missing_left[t, :k] = nodes["missing_go_to_left"].astype(bool)
            self.left[t, :k] = nodes["left"]
            self.right[t, :k] = nodes["right"]
            self.is_leaf[t, :k] = nodes["is_leaf"].astype(bool)
            self.value[t, :k] = nodes["value"]
        self.depth = int(max(p.nodes["depth"].max() for p in predictors)) if predictors else 0
        # Flat views for the walk: a node is tree * width + index, a leaf's
        # children are itself (so finished trees stay put without a mask),
        # and 1-d ``take`` replaces 2-d fancy indexing, twice as fast.
        base = (np.arange(n_trees) * width)[:, None]
        here = np.arange(width)[None, :]
        self._roots = base[:, 0].copy()
        self._feature = self.feature.ravel()
        self._threshold = self.threshold.ravel()
        self._missing_left = self.missing_left.ravel()
        self._left = (np.where(self.is_leaf, here, self.left) + base).ravel()
        self._right = (np.where(self.is_leaf, here, self.right) + base).ravel()
        self._value = self.value.ravel()
        self.baseline = float(np.asarray(model._baseline_prediction).ravel()[0])
        self.n_trees = n_trees

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float64)
        n, n_features = X.shape
        if not n:
            return np.zeros(0)
        flat_x = X.ravel()
        row_start = (np.arange(n) * n_features)[:, None]
        node = np.broadcast_to(self._roots, (n, self.n_trees))
        for _ in range(self.depth):
            x = flat_x.take(row_start + self._feature.take(node))
            go_left = x <= self._threshold.take(node)
            missing = np.isnan(x)
            if missing.any():
                go_left = np.where(missing, self._missing_left.take(node), go_left)
            node = np.where(go_left, self._left.take(node), self._right.take(node))
        values = self._value.take(node)
        # the baseline, then each tree in turn: cumsum adds strictly in order
        raw = np.concatenate([np.full((n, 1), self.baseline), values], axis=1)
        return np.cumsum(raw, axis=1)[:, -1]
