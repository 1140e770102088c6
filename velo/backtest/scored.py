"""Reports for predictions that were already made by one fixed model.

The walk-forward backtest retrains each period; this scores predictions as
they were served: read back from the predictions topic after a replay, or
computed offline by the same model on the same events. Both go through
:func:`report`, so the two can be compared number for number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from schemas import Prediction, RaceResult
from velo.backtest.walkforward import market_final_prob, score
from velo.data.events import Event
from velo.engines.model import VeloModel
from velo.features.offline import build_training_set
from velo.markets.repredict import Choice, RepredictPolicy, choose
from velo.training.splits import period_label

#: Columns of a scored frame, one row per runner.
COLUMNS = ["race_id", "runner_id", "off_time", "final_prob", "sqpe_prob", "tie_intent", "nds_signal",
           "market_prob", "stake_fraction", "price_pre", "position", "won", "price_final"]  # fmt: skip


def from_messages(
    predictions: Iterable[Prediction], results: Iterable[RaceResult], choice: Choice = "last"
) -> tuple[pd.DataFrame, dict]:
    """Join served predictions with results. Redeliveries share a request_id
    and count once; of a race's predictions, the one ``choice`` names is
    scored (:func:`velo.markets.repredict.choose`: by default the last before
    the off). Returns the frame and counts of what was dropped."""
    by_request: dict[str, Prediction] = {}
    for p in predictions:
        by_request.setdefault(p.request_id, p)
    by_race: dict[str, list[Prediction]] = {}
    for p in by_request.values():
        by_race.setdefault(p.race_id, []).append(p)
    res = {r.race_id: r for r in results}
    rows = []
    unchosen = 0
    for race_id, preds in by_race.items():
        r = res.get(race_id)
        if r is None:
            continue
        pick = choose(
            [(p.sequence, None if p.market_time is None else p.market_time.timestamp()) for p in preds],
            r.off_time.timestamp(),
            choice,
        )
        if pick is None:
            unchosen += 1
            continue
        p = preds[pick]
        fin = {f.runner_id: f for f in r.finishers}
        for rp in p.runners:
            # a runner missing from the result (withdrawn late) did not win,
            # as in the offline training set
            f = fin.get(rp.runner_id)
            position = np.nan if f is None or f.position is None else f.position
            sp = np.nan if f is None or f.sp is None else f.sp
            rows.append(
                (
                    race_id,
                    rp.runner_id,
                    pd.Timestamp(r.off_time),
                    rp.final_prob,
                    rp.sqpe_prob,
                    rp.tie_intent,
                    rp.nds_signal,
                    np.nan if rp.market_prob is None else rp.market_prob,
                    rp.recommendation.stake_fraction,
                    np.nan if rp.price is None else rp.price,
                    position,
                    int(position == 1),
                    sp,
                )
            )
    counts = {
        "predictions_read": len(by_request),
        "races_predicted": len(by_race),
        "races_with_result": len({r[0] for r in rows}),
        "races_without_result": len(set(by_race) - set(res)),
        "races_without_a_prediction_chosen": unchosen,
    }
    return _tidy(pd.DataFrame(rows, columns=COLUMNS)), counts


def offline(
    model: VeloModel, events: Sequence[Event], policy: RepredictPolicy | None = None, choice: Choice = "last"
) -> pd.DataFrame:
    """The same model on the same events, computed without Kafka: for each
    race, the prediction ``choice`` names, as the worker would make it."""
    return predicted(model, build_training_set(list(events), policy=policy, choice=choice))


def predicted(model: VeloModel, frame: pd.DataFrame) -> pd.DataFrame:
    """``offline`` for a training set already built from the events. Only a
    final prediction keeps its stakes, as in the stream."""
    out = model.predict_frame(frame)
    frame = frame.assign(**{c: out[c].to_numpy() for c in out.columns if c not in ("race_id", "runner_id")})
    if "final" in frame:
        frame["stake_fraction"] = np.where(frame["final"].to_numpy(dtype=bool), frame["stake_fraction"], 0.0)
    frame["won"] = frame["won"].astype(int)
    return _tidy(frame[COLUMNS])


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    frame["off_time"] = pd.to_datetime(frame["off_time"], utc=True)
    return frame.sort_values(["off_time", "race_id", "runner_id"], kind="stable").reset_index(drop=True)


def report(frame: pd.DataFrame, period: str = "month", commission: float = 0.05) -> dict:
    """The backtest report's shape (overall, per period, curves) for served
    predictions: model, SQPE and market side by side on the same races."""
    if frame.empty:
        raise ValueError("no predictions with results to score")
    frame = frame.assign(market_final_prob=market_final_prob(frame))
    labels = period_label(frame["off_time"], period)
    periods = []
    for p in sorted(labels.unique()):
        part = frame[labels == p]
        rep = {"period": p, "test_from": str(part["off_time"].min()), **score(part, part, commission)}
        rep.pop("_curves", None)
        periods.append(rep)
    overall = score(frame, frame, commission)
    curves = overall.pop("_curves", None)
    return {
        "overall": overall,
        "periods": periods,
        "settings": {"period": period, "mode": "served predictions"},
        "_curves": curves,
    }
