"""The stream's array scorer against the offline training-set path."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from schemas import Prediction, PredictionLog, RaceCard
from velo.engines.model import VeloModel
from velo.features.engine import FeatureEngine
from velo.features.memory_store import MemoryStore
from velo.features.offline import build_training_set, replay
from velo.markets.repredict import Emission, card_digest
from velo.markets.state import RaceMarket
from velo.serving.scorer import card_inputs, log_rows, request_id, score_cards
from velo.sim import SimConfig, simulate
from velo.training.artifacts import load_model


@pytest.fixture(scope="module")
def model(model_dirs) -> VeloModel:
    return load_model(model_dirs[0])


@pytest.fixture(scope="module")
def cards_and_feats():
    events = simulate(SimConfig(seed=63, days=6, n_horses=120)).events()
    feats = replay(events, FeatureEngine(MemoryStore()))
    cards = [e.message for e in events if e.kind == "card"]
    markets: dict[str, RaceMarket] = {}
    for e in events:  # every market update precedes its race's card
        if e.kind == "market":
            markets.setdefault(e.key, RaceMarket(e.key)).apply(e.message)
    return cards[-20:], feats[-20:], [markets.get(c.race_id) for c in cards[-20:]], build_training_set(events)


def test_batched_arrays_equal_the_offline_training_set(model, cards_and_feats) -> None:
    cards, feats, markets, frame = cards_and_feats
    assert all(m is not None for m in markets)
    preds = score_cards(card_inputs(cards, feats, markets), model, "7")
    assert len(preds) == len(cards)
    for card, pred in zip(cards, preds, strict=True):
        want = model.predict_frame(frame[frame["race_id"] == card.race_id]).set_index("runner_id")
        want = want.loc[[r.runner_id for r in card.runners]]
        got = pred.columns["final_prob"]
        np.testing.assert_allclose(got, want["final_prob"].to_numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(pred.columns["sqpe_prob"], want["sqpe_prob"], rtol=0, atol=1e-12)
        assert pred.runner_ids == list(want.index)
        assert [r.final_prob for r in pred.contract().runners] == got
        assert abs(sum(got) - 1) < 1e-9
        assert pred.request_id == request_id(card) and pred.model_version == "7"


def test_sklearn_shortcut_keeps_the_values_with_missing_features(model, cards_and_feats) -> None:
    """predict_arrays skips sklearn's finiteness checks; NaN features must
    still be imputed exactly as without the shortcut."""
    cards, feats, _, _ = cards_and_feats
    inputs = card_inputs(cards, feats, [None] * len(cards))
    inputs.tie[::3, :] = np.nan
    inputs.sqpe[::2, 5] = np.nan
    fast = model.predict_arrays(inputs.race, inputs.sqpe, inputs.tie, inputs.market, inputs.price)
    slow_tie = model.tie.predict_proba(inputs.tie)[:, 1]
    slow_sqpe = model.sqpe.predict_race(inputs.sqpe, inputs.race)
    assert np.isfinite(fast["tie_intent"]).all()
    np.testing.assert_array_equal(fast["tie_intent"], slow_tie)
    np.testing.assert_array_equal(fast["sqpe_prob"], slow_sqpe)


def test_redelivered_card_keeps_its_request_id(cards_and_feats) -> None:
    card = cards_and_feats[0][0]
    again = RaceCard.decode(card.encode())
    assert request_id(again) == request_id(card)


def test_unvalidated_construction_equals_the_validated_contract(model, cards_and_feats) -> None:
    """Predictions are written as documents and log rows built without
    re-validation when every number is in bounds; they must be exactly what
    validation would build, byte for byte."""
    cards, feats, markets, _ = cards_and_feats
    emissions = [Emission(c.race_id, 3, "market", m, final=False) for c, m in zip(cards, markets, strict=True)]
    for inputs in (card_inputs(cards, feats, markets), card_inputs(cards, feats, markets, emissions)):
        for pred in score_cards(inputs, model, "7"):
            validated = Prediction(**{k: v for k, v in pred.doc.items() if k != "schema_version"})
            again = Prediction.decode(pred.encode())
            assert again == validated == pred.contract()
            assert again.encode() == validated.encode() == pred.encode()
    for pred in score_cards(card_inputs(cards, feats, markets), model, "7"):
        contract = pred.contract()
        for row, runner in zip(log_rows(pred, True), contract.runners, strict=True):
            validated = PredictionLog(timestamp=contract.created_at, request_id=contract.request_id,
                                      race_id=contract.race_id, horse_id=runner.runner_id, model_name="velo",
                                      model_version="7", is_champion=True, sqpe_prob=runner.sqpe_prob,
                                      tie_intent=runner.tie_intent, final_prob=runner.final_prob,
                                      market_prob=runner.market_prob, price=runner.price,
                                      stake_fraction=runner.recommendation.stake_fraction)  # fmt: skip
            assert row == validated
            assert row.encode() == validated.encode() == PredictionLog.decode(row.encode()).encode()


def test_out_of_bounds_output_is_still_refused(model, cards_and_feats, monkeypatch) -> None:
    """A model answer outside the contract (here NaN) raises as it did before
    the shortcut, so the service dead-letters that card."""
    cards, feats, markets, _ = cards_and_feats
    real = model.predict_arrays

    def broken(*args):
        out = real(*args)
        out["final_prob"] = out["final_prob"].copy()
        out["final_prob"][0] = np.nan
        return out

    monkeypatch.setattr(model, "predict_arrays", broken)
    with pytest.raises(ValidationError):
        score_cards(card_inputs(cards[:1], feats[:1], markets[:1]), model, "7")


def test_a_card_digest_computed_once_gives_every_model_the_same_request_ids(model, cards_and_feats) -> None:
    """The worker hashes each card once and hands the digest to both models'
    request ids; they must be the ids computed from the card itself."""
    cards, feats, markets, _ = cards_and_feats
    emissions = [Emission(c.race_id, 2, "market", m, final=True) for c, m in zip(cards, markets, strict=True)]
    want = [request_id(c, e) for c, e in zip(cards, emissions, strict=True)]
    inputs = card_inputs(cards, feats, markets, emissions, [card_digest(c) for c in cards])
    champion, shadow = score_cards(inputs, model, "7"), score_cards(inputs, model, "8")
    assert [p.request_id for p in champion] == [p.request_id for p in shadow] == want
    assert [p.request_id for p in score_cards(card_inputs(cards, feats, markets, emissions), model, "7")] == want
