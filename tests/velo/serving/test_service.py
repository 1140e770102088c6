"""The worker's decisions without Kafka: every message ends as a prediction,
applied state or a rejection, and a poison never takes its neighbours down."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import orjson
import pytest
import redis

from schemas import RaceCard
from schemas.examples import market_update, race_card, race_result
from velo.engines.model import VeloModel
from velo.features.memory_store import MemoryStore
from velo.serving.faults import NotReady, is_transient
from velo.serving.inbound import Inbound
from velo.serving.service import WorkerService
from velo.training.artifacts import load_model


@pytest.fixture(scope="module")
def model(model_dirs) -> VeloModel:
    return load_model(model_dirs[0])


def _models(model: VeloModel | None, challenger: VeloModel | None = None) -> SimpleNamespace:
    def loaded(m: VeloModel | None, version: str):
        return None if m is None else SimpleNamespace(record=SimpleNamespace(name="velo", version=version), model=m)

    return SimpleNamespace(champion=loaded(model, "1"), challenger=loaded(challenger, "2"))


def _card(race_id: str) -> RaceCard:
    card = race_card()
    return card.model_copy(update={"race": card.race.model_copy(update={"race_id": race_id})})


def _result(race_id: str):
    return race_result().model_copy(update={"race_id": race_id})


_offsets = iter(range(10**9))


def _msg(value: bytes | None, topic: str = "race-cards") -> Inbound:
    return Inbound(value=value, key=b"k", topic=topic, partition=0, offset=next(_offsets))


def test_valid_cards_each_get_one_prediction(model) -> None:
    svc = WorkerService(MemoryStore(), _models(model), "velo")
    msgs = [_msg(_card(f"r{i}").encode()) for i in range(5)]
    scored = svc.score_cards(msgs)
    assert scored.rejected == []
    assert [p.race_id for p in scored.predictions] == [f"r{i}" for i in range(5)]
    assert scored.sources == msgs
    assert all(len(w) > 0 for w in scored.encoded)


def test_undecodable_cards_are_rejected_with_a_reason_and_the_rest_scored(model) -> None:
    svc = WorkerService(MemoryStore(), _models(model), "velo")
    bad = [_msg(b"not json"), _msg(None), _msg(b'{"schema_version": 1}'), _msg(b"[1,2]")]
    good = [_msg(_card("ok1").encode()), _msg(_card("ok2").encode())]
    scored = svc.score_cards([bad[0], good[0], bad[1], bad[2], good[1], bad[3]])
    assert [p.race_id for p in scored.predictions] == ["ok1", "ok2"]
    assert [r.message for r in scored.rejected] == bad
    assert all(r.reason for r in scored.rejected)
    assert "not valid JSON" in scored.rejected[0].reason


def test_a_decoder_that_raises_anything_rejects_only_that_message(model, monkeypatch) -> None:
    """The overflow seen from outside (an extreme off time) raised OverflowError
    out of the decoder and crashed the agent with its whole batch."""
    real = RaceCard.decode

    def decode(data):
        if b"boom" in data:
            raise OverflowError("date value out of range")
        return real(data)

    monkeypatch.setattr(RaceCard, "decode", staticmethod(decode))
    svc = WorkerService(MemoryStore(), _models(model), "velo")
    boom = _msg(_card("boom").encode())
    scored = svc.score_cards([_msg(_card("a").encode()), boom, _msg(_card("b").encode())])
    assert [p.race_id for p in scored.predictions] == ["a", "b"]
    assert [(r.message, r.reason) for r in scored.rejected] == [(boom, "could not decode: OverflowError: date value "
                                                                       "out of range")]  # fmt: skip


def _failing_on(real, race_id: str, why: str):
    """``real`` over a batch of cards, raising ValueError(why) if ``race_id`` is among them."""

    def wrapped(cards, **kwargs):
        if any(c.race_id == race_id for c in cards):
            raise ValueError(why)
        return real(cards, **kwargs)

    return wrapped


def test_a_card_that_fails_scoring_is_isolated_from_its_batch(model, monkeypatch) -> None:
    svc = WorkerService(MemoryStore(), _models(model), "velo")
    monkeypatch.setattr(svc.engine, "features_many",
                        _failing_on(svc.engine.features_many, "poison", "cannot build features"))  # fmt: skip
    poison = _msg(_card("poison").encode())
    scored = svc.score_cards([_msg(_card("a").encode()), poison, _msg(_card("b").encode())])
    assert [p.race_id for p in scored.predictions] == ["a", "b"]
    assert len(scored.rejected) == 1 and scored.rejected[0].message == poison
    assert scored.rejected[0].reason == "scoring failed: ValueError: cannot build features"


def test_a_card_whose_waiting_result_cannot_be_applied_leaves_its_neighbours_applied(model, monkeypatch) -> None:
    """A result that came before its card is applied once the card's
    prediction is out; a card that fails there is logged, and the waiting
    results of the rest of its batch are still applied."""
    svc = WorkerService(MemoryStore(), _models(model), "velo")
    races = ("a", "odd", "b")
    svc.apply_results([_msg(_result(r).encode(), "race-results") for r in races])
    monkeypatch.setattr(svc.engine, "remember_many", _failing_on(svc.engine.remember_many, "odd", "cannot keep it"))
    scored = svc.score_cards([_msg(_card(r).encode()) for r in races])
    assert len(scored.predictions) == 3
    svc.shadow_and_log(scored)
    waiting = [r for r in races if svc.store.get_blob(f"result:{r}") is not None]
    assert waiting == ["odd"]


def test_an_oversized_prediction_is_rejected_not_published(model) -> None:
    svc = WorkerService(MemoryStore(), _models(model), "velo", max_prediction_bytes=100)
    scored = svc.score_cards([_msg(_card("a").encode())])
    assert scored.predictions == []
    assert "exceeds the output limit" in scored.rejected[0].reason


class _DownStore(MemoryStore):
    def read(self, queries):
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_a_redis_outage_is_raised_for_the_caller_to_wait_out(model) -> None:
    svc = WorkerService(_DownStore(), _models(model), "velo")
    with pytest.raises(redis.exceptions.ConnectionError) as info:
        svc.score_cards([_msg(_card("a").encode())])
    assert is_transient(info.value)


def test_no_champion_means_not_ready_never_a_rejection(model) -> None:
    svc = WorkerService(MemoryStore(), _models(None), "velo")
    with pytest.raises(NotReady, match="no champion loaded for velo"):
        svc.score_cards([_msg(_card("a").encode())])
    # undecodable messages need no champion to be rejected
    assert len(svc.score_cards([_msg(b"x")]).rejected) == 1


def test_a_market_move_after_the_card_predicts_the_race_again(model) -> None:
    store = MemoryStore()
    svc = WorkerService(store, _models(model), "velo")
    card = race_card()
    # 20 minutes before the off (no checkpoint passed), a big move
    upd = market_update().model_copy(update={"publish_time": card.race.off_time - timedelta(minutes=20),
                                             "back_price": 1.8, "lay_price": 1.85})  # fmt: skip
    before = svc.score_cards([_msg(card.encode())]).predictions[0].contract()
    assert (before.sequence, before.trigger, before.final, before.market_time) == (0, "card", False, None)
    # the next moment's update completes the first: then its move is judged
    later = upd.model_copy(update={"publish_time": upd.publish_time + timedelta(seconds=1), "back_price": 1.8})
    applied = svc.apply_market_updates([_msg(upd.encode(), "market-updates"), _msg(b"{}", "market-updates"),
                                        _msg(later.encode(), "market-updates")])  # fmt: skip
    assert applied.applied == 2 and len(applied.rejected) == 1
    [after] = [p.contract() for p in applied.scored.predictions]
    assert (after.sequence, after.trigger, after.market_time) == (1, "market", upd.publish_time)
    runner = next(r for r in after.runners if r.runner_id == upd.runner_id)
    assert runner.price == upd.back_price
    assert runner.price != next(r for r in before.runners if r.runner_id == upd.runner_id).price
    assert applied.emitted == {card.race_id: [1]}
    svc.published(applied.emitted)
    # the same card again is a redelivery: the same answer, not a new sequence number
    again = svc.score_cards([_msg(card.encode())]).predictions[0].contract()
    assert (again.request_id, again.sequence) == (before.request_id, 0)


def _outcomes(rows) -> set[tuple[str, str, bool]]:
    return {(r.request_id, r.horse_id, r.is_champion) for r in rows if r.result_position is not None}


@pytest.mark.parametrize("result_first", [False, True])
def test_outcome_rows_whichever_arrives_first(model, result_first: bool) -> None:
    """Before the fix, a result that arrived before its card's prediction was
    logged gave no outcome rows at all (1,636 of 6,348 races after a replay)."""
    svc = WorkerService(MemoryStore(), _models(model, challenger=model), "velo")
    card, result = race_card(), race_result()
    rows = []
    if result_first:
        rows += svc.apply_results([_msg(result.encode(), "race-results")]).log_rows
        assert rows == []
    scored = svc.score_cards([_msg(card.encode())])
    rows += svc.shadow_and_log(scored)
    if not result_first:
        rows += svc.apply_results([_msg(result.encode(), "race-results")]).log_rows
    rid = scored.predictions[0].request_id
    want = {(rid, f.runner_id, champ) for f in result.finishers for champ in (True, False)}
    assert _outcomes(rows) == want
    predicted = [r for r in rows if r.result_position is None]
    assert len(predicted) == 2 * len(card.runners)  # champion and shadow rows


def test_results_apply_state_once_and_reject_the_invalid(model) -> None:
    store = MemoryStore()
    svc = WorkerService(store, _models(model), "velo")
    svc.score_cards([_msg(race_card().encode())])
    msgs = [_msg(race_result().encode(), "race-results"), _msg(b'{"race_id": 1}', "race-results")]
    first = svc.apply_results(msgs)
    again = svc.apply_results(msgs[:1])  # a redelivery
    assert (first.applied, len(first.rejected), again.applied) == (1, 1, 1)
    assert orjson.loads(store.get_blob(f"final:{race_result().race_id}"))["race_id"] == race_result().race_id


def _market_path(seed: int = 3):
    """One simulated race: its card, then its market path (six snapshots a
    runner, from an hour before the off), then the suspension at the off."""
    from velo.sim.simulator import SimConfig, simulate

    events = simulate(SimConfig(seed=seed, days=2, n_horses=60, races_per_meeting=1)).events()
    race = next(e.key for e in events if e.kind == "card")
    card = next(e.message for e in events if e.kind == "card" and e.key == race)
    updates = sorted((e.message for e in events if e.kind == "market" and e.key == race),
                     key=lambda u: u.publish_time)  # fmt: skip
    return card, updates


@pytest.mark.parametrize("batch", [1, 5, 1000])
def test_a_market_path_yields_a_sequence_whose_market_probabilities_match_the_state_each_names(model, batch) -> None:
    from velo.engines.nds import market_probs
    from velo.markets.state import RaceMarket

    card, updates = _market_path()
    assert updates[-1].status == "SUSPENDED" and len(updates) > 30
    svc = WorkerService(MemoryStore(), _models(model), "velo")
    preds = [p.contract() for p in svc.score_cards([_msg(card.encode())]).predictions]
    for i in range(0, len(updates), batch):
        applied = svc.apply_market_updates([_msg(u.encode(), "market-updates") for u in updates[i : i + batch]])
        assert applied.rejected == []
        preds += [p.contract() for p in applied.scored.predictions]
        svc.published(applied.emitted)
    assert [p.sequence for p in preds] == list(range(len(preds)))
    assert preds[0].trigger == "card" and {p.trigger for p in preds[1:]} <= {"market", "checkpoint"}
    assert sum(p.trigger == "checkpoint" for p in preds) == 3
    assert [p.final for p in preds] == [False] * (len(preds) - 1) + [True]
    assert sum(p.trigger == "market" for p in preds) >= 2
    ids = [r.runner_id for r in card.runners]
    for p in preds:
        # the state it names: every update up to its market_time, folded afresh
        state = None
        if p.market_time is not None:
            state = RaceMarket(card.race_id)
            for u in updates:
                if u.publish_time <= p.market_time:
                    state.apply(u)
        want = market_probs(state, ids, [r.price for r in card.runners])
        got = [r.market_prob for r in p.runners]
        assert got == pytest.approx(want.tolist(), abs=1e-12), (p.sequence, p.trigger)
        assert all(r.recommendation.stake_fraction == 0 for r in p.runners) or p.final
    final = preds[-1]
    assert final.market_time < card.race.off_time - timedelta(seconds=60)  # decision-time prices


def test_a_crash_after_the_state_is_written_makes_the_same_predictions_again(model) -> None:
    """The emissions stay pending until published: a worker that dies in
    between leaves them for the next, which makes them again with the same
    request_ids; the redelivered updates trigger nothing new, and the ones
    after them get the ids an uninterrupted worker gives."""
    card, updates = _market_path()
    msgs = [_msg(u.encode(), "market-updates") for u in updates]

    def started(store: MemoryStore) -> WorkerService:
        svc = WorkerService(store, _models(model), "velo")
        svc.score_cards([_msg(card.encode())])
        return svc

    reference = started(MemoryStore())
    want = [
        p.request_id
        for i in range(0, 40, 10)
        for p in reference.apply_market_updates(msgs[i : i + 10]).scored.predictions
    ]
    store = MemoryStore()
    first = started(store)
    lost = first.apply_market_updates(msgs[:25]).scored.predictions  # never published: the worker dies here
    assert lost
    second = WorkerService(store, _models(model), "velo")
    again = second.apply_market_updates(msgs[:25])  # the same messages, redelivered
    assert [p.request_id for p in again.scored.predictions] == [p.request_id for p in lost]
    second.published(again.emitted)
    assert second.apply_market_updates(msgs[:25]).scored.predictions == []
    rest = second.apply_market_updates(msgs[25:40]).scored.predictions
    assert [p.request_id for p in lost + rest] == want


def test_a_batch_retried_after_no_champion_makes_its_predictions(model) -> None:
    """The restarted worker of market_kill had no champion for its first
    batch: the state was written, the emissions left pending, and the retry
    must make them (it once took them for its own, in flight, and lost 3)."""
    card, updates = _market_path()
    msgs = [_msg(u.encode(), "market-updates") for u in updates[:30]]
    reference = WorkerService(MemoryStore(), _models(model), "velo")
    reference.score_cards([_msg(card.encode())])
    want = [p.request_id for p in reference.apply_market_updates(msgs).scored.predictions]
    models = _models(model)
    svc = WorkerService(MemoryStore(), models, "velo")
    svc.score_cards([_msg(card.encode())])
    champion, models.champion = models.champion, None
    with pytest.raises(NotReady):
        svc.apply_market_updates(msgs)
    models.champion = champion
    assert [p.request_id for p in svc.apply_market_updates(msgs).scored.predictions] == want
