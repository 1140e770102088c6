"""Race state in the blob store, and the copy this process keeps of it."""

from __future__ import annotations

from datetime import timedelta

from schemas.examples import market_update, race_card
from velo.features.memory_store import MemoryStore
from velo.markets.repredict import RaceEmitter, RepredictPolicy, card_hash
from velo.markets.store import MarketStore


class Counting(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get_blobs(self, keys):
        self.reads += 1
        return super().get_blobs(keys)


def _folded(markets: MarketStore):
    card = race_card()
    markets.save([], pending=False, cards=[card])
    [st] = markets.load([card.race_id])
    em = RaceEmitter(RepredictPolicy(), card.race_id, st.card, st.market, st.emit)
    em.on_card(card, card_hash(card))
    em.on_update(market_update())
    st.market = em.market
    markets.save([st])
    return card, st


def test_a_saved_state_is_answered_from_memory_as_a_copy_and_read_again_once_forgotten() -> None:
    blobs = Counting()
    markets = MarketStore(blobs)
    card, saved = _folded(markets)
    before = blobs.reads
    [got] = markets.load([card.race_id])
    assert blobs.reads == before  # from memory
    assert got.market.encode() == saved.market.encode() and got.emit == saved.emit and got.card == card
    got.market.apply(market_update().model_copy(update={"back_price": 9.0}))
    got.emit.seq += 5
    [again] = markets.load([card.race_id])
    assert again.market.encode() == saved.market.encode() and again.emit.seq == saved.emit.seq
    markets.forget()
    [fresh] = MarketStore(blobs).load([card.race_id])
    [reread] = markets.load([card.race_id])
    assert blobs.reads > before
    assert reread.market.encode() == fresh.market.encode() == saved.market.encode()
    assert reread.emit == fresh.emit


def test_a_new_card_or_a_save_without_pending_is_read_again() -> None:
    blobs = Counting()
    markets = MarketStore(blobs)
    card, saved = _folded(markets)
    markets.save([saved], pending=False)
    before = blobs.reads
    markets.load([card.race_id])
    assert blobs.reads == before + 1


def test_write_behind_holds_market_states_until_a_flush_and_a_save_with_emissions_writes_them() -> None:
    blobs = MemoryStore()
    markets = MarketStore(blobs, write_behind=True)
    card, saved = _folded(markets)
    assert markets.unflushed
    assert MarketStore(blobs).load([card.race_id])[0].market is None  # not in the store yet
    [held] = markets.load([card.race_id])
    assert held.market.encode() == saved.market.encode()  # this process answers with it
    assert markets.get_many([card.race_id])[0].encode() == saved.market.encode()
    markets.flush()
    assert not markets.unflushed
    assert MarketStore(blobs).load([card.race_id])[0].market.encode() == saved.market.encode()

    # held again; a save that carries a pending emission writes it through, with what was held
    other = race_card().model_copy(update={"race": race_card().race.model_copy(update={"race_id": "other"})})
    markets.save([], pending=False, cards=[other])
    [a] = markets.load([card.race_id])
    later = market_update().publish_time + timedelta(minutes=1)
    a.market.apply(market_update().model_copy(update={"back_price": 7.0, "publish_time": later}))
    markets.save([a])
    [b] = markets.load(["other"])
    em = RaceEmitter(RepredictPolicy(), "other", b.card, b.market, b.emit)
    b.pending = [em.on_card(other, card_hash(other))]
    markets.save([b])
    assert not markets.unflushed
    [fa, fb] = MarketStore(blobs).load([card.race_id, "other"])
    assert fa.market.encode() == a.market.encode()
    assert [e.sequence for e in fb.pending] == [0]


def test_forgetting_writes_what_is_held_first() -> None:
    blobs = MemoryStore()
    markets = MarketStore(blobs, write_behind=True)
    card, saved = _folded(markets)
    markets.forget()
    assert not markets.unflushed
    assert MarketStore(blobs).load([card.race_id])[0].market.encode() == saved.market.encode()
