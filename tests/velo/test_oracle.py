"""The Python API: the worker's own scoring, with history applied in-process."""

from __future__ import annotations

import numpy as np
import pytest

from schemas import ContractError, Prediction
from velo.features.memory_store import MemoryStore
from velo.oracle import Oracle, predict
from velo.serving.service import WorkerService
from velo.sim import SimConfig, simulate
from velo.training.artifacts import load_model


@pytest.fixture(scope="module")
def events():
    return simulate(SimConfig(seed=71, days=16, n_horses=150)).events()


def test_a_card_is_scored_as_the_worker_scores_it(events, model_dirs) -> None:
    card_event = [e for e in events if e.kind == "card"][-1]
    last, history = card_event.message, [e for e in events if e.time < card_event.time]
    oracle = Oracle(str(model_dirs[0]), history=history)
    got = oracle.predict(last)
    assert isinstance(got, Prediction) and [r.runner_id for r in got.runners] == [r.runner_id for r in last.runners]
    assert sum(r.final_prob for r in got.runners) == pytest.approx(1.0)

    class Held:  # the worker's model holder, with the same model
        champion = type("Loaded", (), {"record": type("R", (), {"name": "velo", "version": "0"}),
                                       "model": load_model(model_dirs[0])})  # fmt: skip
        challenger = None

    store = MemoryStore()
    Oracle(str(model_dirs[0]), history=history, store=store)  # the same history into a store the worker reads
    served = WorkerService(store, Held(), "velo").predict(last)
    a, b = [r.final_prob for r in got.runners], [r.final_prob for r in served.runners]
    np.testing.assert_array_equal(a, b)
    # history matters: with none, the form features are empty and the probabilities differ
    cold = Oracle(str(model_dirs[0])).predict(last.encode())
    assert [r.sqpe_prob for r in cold.runners] != [r.sqpe_prob for r in got.runners]


def test_predict_takes_json_and_refuses_a_bad_card(events, model_dirs) -> None:
    card = next(e.message for e in events if e.kind == "card")
    assert predict(card.model_dump(mode="json"), model=str(model_dirs[0])).race_id == card.race_id
    with pytest.raises(ContractError):
        predict({"race": {}}, model=str(model_dirs[0]))
