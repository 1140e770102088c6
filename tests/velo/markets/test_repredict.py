"""Re-prediction rules: material moves, debounce, checkpoints, final, redelivery."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas import MarketUpdate, RaceCard
from schemas.examples import race_card
from velo.markets.repredict import (
    EmitState,
    RaceEmitter,
    RepredictPolicy,
    book_view,
    card_hash,
    choose,
    parse_choice,
)

CARD = race_card()
OFF = CARD.race.off_time


def _upd(minutes_before: float, runner: int = 0, back: float | None = 3.0, status: str = "OPEN") -> MarketUpdate:
    at = OFF - timedelta(minutes=minutes_before)
    rid = CARD.runners[runner].runner_id
    return MarketUpdate(race_id=CARD.race_id, runner_id=rid, publish_time=at, back_price=back, status=status)


def _emitter(policy: RepredictPolicy | None = None, card: RaceCard | None = CARD) -> RaceEmitter:
    em = RaceEmitter(policy or RepredictPolicy(), CARD.race_id, None, None)
    if card is not None:
        em.on_card(card, card_hash(card))
    return em


def test_a_material_move_predicts_again_once_its_moment_is_complete_and_a_small_one_does_not() -> None:
    em = _emitter()
    assert em.state.seq == 0
    assert em.on_update(_upd(30, back=CARD.runners[0].price * 1.001)) == []  # a tick: not material
    assert em.on_update(_upd(29, back=1.5)) == []  # the moment at T-29m may have more runners to come
    assert em.on_update(_upd(29, runner=1, back=CARD.runners[1].price)) == []
    [e] = em.on_update(_upd(28, runner=1, back=CARD.runners[1].price))  # T-29m is complete
    assert (e.sequence, e.trigger, e.final) == (1, "market", False)
    assert e.market_time == (OFF - timedelta(minutes=29)).timestamp()


def test_a_moment_of_known_size_is_judged_when_its_last_update_is_in_with_the_same_emissions() -> None:
    def path(sized: bool) -> list[MarketUpdate]:
        moments = [(30, 1.5), (29, 4.0), (12, 1.8), (5, 2.6), (0, None)]
        ups = []
        for minutes, back in moments:
            for runner in (0, 1):
                u = _upd(minutes, runner=runner, back=back if runner == 0 else CARD.runners[1].price)
                ups.append(u.model_copy(update={"moment_size": 2}) if sized else u)
        return ups

    sized, plain = _emitter(RepredictPolicy(debounce_s=0.0)), _emitter(RepredictPolicy(debounce_s=0.0))
    got_sized = [sized.on_update(u) for u in path(True)]
    got_plain = [plain.on_update(u) for u in path(False)]
    assert got_sized[1] and got_sized[1][0].market_time == (OFF - timedelta(minutes=30)).timestamp()
    assert not got_plain[1]  # without a size, T-30m waits for the next moment's first update

    # the same predictions in the same order, each one update earlier
    def flat(runs: list) -> list:
        return [(e.sequence, e.trigger, e.final, e.market_time, e.market.to_dict()) for r in runs for e in r]

    assert flat(got_sized) == flat(got_plain)
    assert sum(map(len, got_sized)) >= 4
    # a size says when to judge, not what: more updates than it says still fold in, and one short waits
    em = _emitter(RepredictPolicy(debounce_s=0.0))
    assert em.on_update(_upd(20, back=1.5).model_copy(update={"moment_size": 3})) == []
    assert em.on_update(_upd(20, runner=1, back=2.0).model_copy(update={"moment_size": 3})) == []
    assert em.state.unjudged


def test_moves_within_the_debounce_wait_and_the_next_one_after_it_catches_up() -> None:
    em = _emitter(RepredictPolicy(debounce_s=120.0))
    same = CARD.runners[1].price
    em.on_update(_upd(30, back=1.5))
    assert len(em.on_update(_upd(29.5, back=5.0))) == 1  # T-30m judged: a move
    assert em.on_update(_upd(28, runner=1, back=same)) == []  # T-29.5m: 30 s after the last, held back
    [e] = em.on_update(_upd(27, runner=1, back=same))  # T-28m: 120 s after, still moved vs the last
    assert e.trigger == "market" and e.market.runners[CARD.runners[0].runner_id].price == 5.0


def test_checkpoints_fire_before_the_first_later_update_with_the_state_up_to_them() -> None:
    em = _emitter()
    assert em.on_update(_upd(15, back=2.0)) == []
    out = em.on_update(_upd(1.5, back=CARD.runners[1].price, runner=1))  # T-15m judged; passes T-10m and T-2m
    assert [(e.trigger, e.final) for e in out] == [("market", False), ("checkpoint", False), ("checkpoint", False)]
    assert all(e.market_time == (OFF - timedelta(minutes=15)).timestamp() for e in out)
    [final] = em.on_update(_upd(0, back=None, status="SUSPENDED"))
    assert (final.trigger, final.final, final.sequence) == ("checkpoint", True, 4)
    assert final.market_time == (OFF - timedelta(minutes=1.5)).timestamp()
    # nothing after the final, however the market moves
    assert em.on_update(_upd(-1, back=9.0)) == [] and em.on_update(_upd(-2, back=1.2)) == []
    assert [e.sequence for e in [*out, final]] == [1, 2, 3, 4]


def test_the_wall_clock_judges_a_quiet_moment_and_fires_due_checkpoints() -> None:
    em = _emitter()
    em.on_update(_upd(15, back=2.0))
    quiet = (OFF - timedelta(minutes=15)).timestamp()
    assert em.tick(quiet + 0.1) == []  # not judged unless the caller saw the market go quiet
    [move] = em.tick(quiet + 1.0, judge=True)
    assert move.trigger == "market"
    assert [e.final for e in em.tick(OFF.timestamp())] == [False, False, True]


def test_checkpoints_before_the_card_are_skipped_and_a_late_card_is_final() -> None:
    em = _emitter(card=None)
    assert em.on_update(_upd(20, back=2.0)) == []  # no card: nothing to predict
    assert em.on_update(_upd(0.5, back=2.0)) == []
    e = em.on_card(CARD, card_hash(CARD))
    assert (e.sequence, e.trigger, e.final) == (0, "card", True)


def test_a_redelivered_card_gets_its_first_answer_and_a_new_card_a_new_sequence() -> None:
    em = _emitter()
    first = em.state.card_emission
    em.on_update(_upd(30, back=1.5))
    em.on_update(_upd(29, back=1.5))
    assert em.on_card(CARD, card_hash(CARD)) is first
    changed = CARD.model_copy(update={"runners": CARD.runners[:-1]})
    again = em.on_card(changed, card_hash(changed))
    assert (again.sequence, again.trigger) == (2, "card")


def test_the_state_round_trips_and_refolding_the_same_updates_triggers_nothing() -> None:
    em = _emitter(RepredictPolicy(debounce_s=0.0))
    ups = [_upd(40, back=1.5), _upd(35, back=4.0), _upd(9, back=2.2), _upd(3, runner=1, back=1.9)]
    made = em.on_updates(ups)
    assert len(made) >= 3
    state = EmitState.from_dict(em.state.to_dict())
    assert state == em.state
    again = RaceEmitter(em.policy, CARD.race_id, CARD, em.market, state)
    assert again.on_updates(ups) == []


def test_disabled_means_one_final_prediction_per_card() -> None:
    em = _emitter(RepredictPolicy(enabled=False))
    assert em.state.card_emission.final
    assert em.on_updates([_upd(30, back=1.5), _upd(0, back=None, status="SUSPENDED")]) == []


def test_book_view_uses_the_card_price_where_the_market_has_none() -> None:
    probs, book = book_view(None, CARD)
    inv = [1 / r.price for r in CARD.runners]
    assert book == pytest.approx(sum(inv))
    assert probs == pytest.approx([x / sum(inv) for x in inv])


def test_choose_last_first_and_seconds_before_the_off() -> None:
    cands = [(0, None), (1, 100.0), (2, 500.0), (3, 900.0)]
    assert choose(cands, 1000.0, "last") == 3
    assert choose(cands, 1000.0, "first") == 0
    assert choose(cands, 1000.0, parse_choice("450")) == 2
    assert choose(cands, 1000.0, parse_choice("600")) == 1
    assert choose(cands[1:], 1000.0, parse_choice("950")) is None
    with pytest.raises(ValueError, match="not a prediction choice"):
        parse_choice("latest")
