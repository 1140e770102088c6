"""Predictions from Python, with no Kafka and no HTTP.

    from velo.oracle import Oracle
    oracle = Oracle("velo", history=load_dataset("canonical", "hk.parquet").events())
    prediction = oracle.predict(card)          # a schemas.Prediction

``model`` is any model reference the CLI takes (``velo``, ``velo@challenger``,
``velo/3`` or a folder written by ``velo train``). Features need history:
``history`` (events in time order, as ``Dataset.events()`` gives them) is
applied to an in-process feature store first, or pass ``store`` to read the
features a worker keeps in Redis (``RedisStore.from_url``). The card is
scored by the same code as the worker's ``POST /predict`` (features as of the
card's cutoff, the card's own prices as its market), and is not remembered.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from schemas import Prediction, RaceCard, RaceResult
from velo.config import Settings
from velo.features.engine import FeatureEngine
from velo.features.memory_store import MemoryStore
from velo.features.store import FeatureStore
from velo.registry import Registry
from velo.registry.refs import resolve
from velo.serving.scorer import card_inputs, score_cards


class Oracle:
    """One model and a feature store, ready to predict cards."""

    def __init__(
        self,
        model: str = "velo",
        *,
        history: Iterable[Any] = (),
        store: FeatureStore | None = None,
        registry_dir: str | Path | None = None,
    ) -> None:
        registry = Registry(registry_dir or Settings().registry_dir)
        self.ref = resolve(model, registry)
        self.model = self.ref.load(registry)
        self.engine = FeatureEngine(store if store is not None else MemoryStore())
        self.learn(history)

    def learn(self, events: Iterable[Any]) -> None:
        """Apply past cards and results (events, or the messages themselves)."""
        for event in events:
            message = getattr(event, "message", event)
            if isinstance(message, RaceCard):
                self.engine.remember(message)
            elif isinstance(message, RaceResult):
                self.engine.on_result(message)

    def predict(self, card: RaceCard | dict | str | bytes) -> Prediction:
        """The model's prediction for ``card`` (a RaceCard, or its JSON as a
        dict, str or bytes, validated as at the edge: ContractError if bad)."""
        if not isinstance(card, RaceCard):
            card = RaceCard.validate_obj(card) if isinstance(card, dict) else RaceCard.decode(card)
        feats = self.engine.features_many([card])
        version = self.ref.version or "0"
        return score_cards(card_inputs([card], feats, [None]), self.model, version)[0].contract()


def predict(card: RaceCard | dict | str | bytes, model: str = "velo", **options: Any) -> Prediction:
    """``Oracle(model, **options).predict(card)``, for a single card."""
    return Oracle(model, **options).predict(card)
