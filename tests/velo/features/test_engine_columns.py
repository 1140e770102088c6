"""Feature columns are matched to their definitions by name, never by position."""

from __future__ import annotations

import numpy as np
import pytest

from velo.features.engine import by_name


def test_columns_follow_the_definitions_order_whatever_order_they_were_computed_in() -> None:
    got = by_name({"b": np.array([2.0, 4.0]), "a": np.array([1.0, 3.0])}, ["a", "b"])
    np.testing.assert_array_equal(got, [[1.0, 2.0], [3.0, 4.0]])


def test_a_missing_or_undefined_column_fails_and_says_which() -> None:
    with pytest.raises(RuntimeError, match=r"missing \['c'\], undefined \['x'\]"):
        by_name({"a": np.zeros(2), "x": np.zeros(2)}, ["a", "c"])
