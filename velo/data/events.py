"""Canonical rows -> the event streams the engine consumes.

Per race: market snapshots, then the ``RaceCard`` at decision time
(``off_time - DECISION_LEAD``), then the market's suspension at the off, then
the ``RaceResult`` after it. The card carries ``price_pre`` (known at decision
time); ``price_final`` travels only in the result, as the official starting
price.

The suspension is what an exchange sends at the jump. It carries no price;
it is the race's market clock reaching the off, which is when the worker
makes the race's final prediction (at the decision checkpoint, with the
prices before it; see :mod:`velo.markets.repredict`). One update, for the
card's first runner, stands for the whole market.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import pandas as pd

from schemas import ContractError, MarketUpdate, RaceCard, RaceResult
from schemas.base import Contract
from schemas.race_card import Race, Runner
from schemas.race_result import Finisher
from velo.data.canonical import parse_list
from velo.data.report import LoadReport

DECISION_LEAD = timedelta(minutes=1)
RESULT_DELAY = timedelta(minutes=10)

Kind = Literal["market", "card", "result"]
_KIND_ORDER = {"market": 0, "card": 1, "result": 2}


@dataclass(order=True, frozen=True)
class Event:
    """One message with its event time; sorts by time, then market < card < result."""

    time: datetime
    order: int
    seq: int
    kind: Kind = field(compare=False)
    key: str = field(compare=False)
    message: Contract = field(compare=False)


def _card(race_id: str, rows: list[dict], off: datetime, priced: bool = True) -> RaceCard:
    first = rows[0]
    race = Race(
        race_id=race_id,
        off_time=off,
        course=first["course"],
        distance_m=int(first["distance_m"]),
        going=first["going"],
        race_class=first["race_class"],
        surface=first["surface"],
        race_type=first["race_type"],
        prize=first["prize"],
    )
    runners = [
        Runner(
            runner_id=r["runner_id"],
            name=r["horse_name"],
            draw=r["draw"],
            weight_carried=r["weight_carried"],
            age=r["age"],
            sex=r["sex"],
            rating=r["rating"],
            jockey_id=r["jockey_id"],
            trainer_id=r["trainer_id"],
            gear=r["gear"],
            price=r["price_pre"] if priced else None,
            body_weight=r.get("body_weight"),
        )
        for r in rows
        if not r["non_runner"]
    ]
    return RaceCard(race=race, runners=runners)


def _result(race_id: str, rows: list[dict], off: datetime) -> RaceResult:
    ran = [r for r in rows if not r["non_runner"]]
    positions = [r["result"] for r in ran]
    if 1 not in positions:
        # Sources that give only the winner mark it through ``won``.
        positions = [1 if r["won"] == 1 else p for r, p in zip(ran, positions, strict=True)]
    finishers = [
        Finisher(
            runner_id=r["runner_id"],
            position=p,
            sp=r["price_final"],
            finish_time=r.get("finish_time"),
            beaten_lengths=r.get("beaten_lengths"),
            running_positions=parse_list(r.get("running_positions"), True),
            sectional_times=parse_list(r.get("sectional_times")),
        )
        for r, p in zip(ran, positions, strict=True)
    ]
    non_runners = [r["runner_id"] for r in rows if r["non_runner"]]
    return RaceResult(race_id=race_id, off_time=off, finishers=finishers, non_runners=non_runners)


def _price(value: object) -> float | None:
    """A price usable in a MarketUpdate: (1, 1000], else None (missing, blank
    or not a number: a source's optional column says nothing)."""
    try:
        price = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return price if 1.0 < price <= 1000.0 else None


def _snapshot_updates(race_id: str, rows: list[dict], decision: datetime) -> list[tuple[datetime, MarketUpdate]]:
    """One market snapshot per runner at decision time: ``price_pre`` as the
    best back, and the best lay where the source has it at the same moment.

    Betfair ANZ's ``WIN_PREPLAY_*`` columns (last traded, volume, max/min,
    average) cover trading up to the actual jump, which is after the decision
    (the scheduled off): they are carried in the canonical file for analysis
    but never become market events, so they cannot reach NDS or a bet price.
    """
    out = []
    t = decision - timedelta(seconds=1)
    for r in rows:
        back = _price(r["price_pre"])
        if r["non_runner"] or back is None:
            continue
        lay = _price(r.get("bf_lay_pre"))
        lay = lay if lay is not None and lay >= back else None
        out.append(
            (t, MarketUpdate(race_id=race_id, runner_id=r["runner_id"], publish_time=t, back_price=back, lay_price=lay))
        )
    return out


def suspension(card: RaceCard) -> MarketUpdate:
    """The market suspended at the off (see the module doc)."""
    return MarketUpdate(
        race_id=card.race_id, runner_id=card.runners[0].runner_id, publish_time=card.race.off_time, status="SUSPENDED"
    )


def _records(df: pd.DataFrame) -> list[dict]:
    """Rows as plain dicts with None for missing: far faster than pandas rows."""
    obj = df.astype(object)
    obj = obj.where(df.notna(), None)
    recs = obj.to_dict("records")
    for r in recs:
        for k, v in r.items():
            if isinstance(v, np.integer):
                r[k] = int(v)
            elif isinstance(v, np.floating):
                r[k] = float(v)
    return recs


def iter_race_events(
    df: pd.DataFrame,
    report: LoadReport | None = None,
    ticks: pd.DataFrame | None = None,
    card_lead: timedelta | None = None,
) -> Iterator[Event]:
    """Events race by race (not globally sorted; see :func:`build_events`).

    ``ticks`` (from the simulator) replaces the snapshot market updates with a
    full price path: columns race_id, runner_id, publish_time, back_price,
    lay_price, last_traded_price, traded_volume.

    ``card_lead`` publishes each card that long before the off, as racing
    does (cards come out hours or days ahead), instead of at decision time.
    Such a card carries no prices, since it was printed before the market
    formed: the market updates bring them, and the race is predicted again as
    they do (see :mod:`velo.markets.repredict`).
    """
    report = report or LoadReport(source="events")
    tick_groups: dict[str, list[dict]] = {}
    if ticks is not None:
        for t in _records(ticks):
            tick_groups.setdefault(t["race_id"], []).append(t)
    races: dict[str, list[dict]] = {}
    for r in _records(df):
        races.setdefault(r["race_id"], []).append(r)
    seq = 0
    for race_id, rows in races.items():
        off = rows[0]["off_time"].to_pydatetime().astimezone(UTC)
        decision = off - DECISION_LEAD
        try:
            card = _card(race_id, rows, off, priced=card_lead is None)
        except ContractError as exc:
            report.skip(f"race {race_id}", f"no valid card: {exc}", rows=len(rows))
            continue
        if ticks is not None:
            updates = [
                (
                    t["publish_time"].to_pydatetime(),
                    MarketUpdate(
                        race_id=race_id,
                        runner_id=t["runner_id"],
                        publish_time=t["publish_time"].to_pydatetime(),
                        back_price=t["back_price"],
                        lay_price=t["lay_price"],
                        last_traded_price=t["last_traded_price"],
                        traded_volume=t["traded_volume"],
                    ),
                )
                for t in tick_groups.get(race_id, [])
            ]
        else:
            updates = _snapshot_updates(race_id, rows, decision)
        for t, upd in updates:
            seq += 1
            yield Event(t, _KIND_ORDER["market"], seq, "market", race_id, upd)
        seq += 1
        yield Event(decision if card_lead is None else off - card_lead, _KIND_ORDER["card"], seq, "card", race_id, card)
        seq += 1
        yield Event(off, _KIND_ORDER["market"], seq, "market", race_id, suspension(card))
        try:
            result = _result(race_id, rows, off)
        except ContractError as exc:
            report.skip(f"race {race_id}", f"no valid result: {exc}", rows=0)
            continue
        seq += 1
        yield Event(off + RESULT_DELAY, _KIND_ORDER["result"], seq, "result", race_id, result)


def build_events(
    df: pd.DataFrame,
    report: LoadReport | None = None,
    ticks: pd.DataFrame | None = None,
    card_lead: timedelta | None = None,
) -> list[Event]:
    """All events of a canonical frame in event-time order."""
    return sorted(iter_race_events(df, report, ticks, card_lead))
