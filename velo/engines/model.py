"""The full model: SQPE, TIE, NDS and the orchestrator, used on a frame of
runners. The stream passes one race; the backtest passes thousands; the code
is the same."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sklearn

from velo.engines.nds import NDS
from velo.engines.orchestrator import Orchestrator
from velo.engines.race import race_index
from velo.engines.sqpe import SQPE
from velo.engines.staking import Staking
from velo.engines.tie import TIE
from velo.features.definitions import SQPE_FEATURES, TIE_FEATURES
from velo.markets.view import MARKET_COLUMNS


@dataclass
class VeloModel:
    sqpe: SQPE
    tie: TIE
    orchestrator: Orchestrator
    nds: NDS = field(default_factory=NDS)
    staking: Staking = field(default_factory=Staking)
    name: str = "velo"
    version: str = "0"

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-runner engine outputs and final probabilities.

        ``frame`` holds the feature columns, ``market_prob``, the NDS signal
        columns, ``race_id`` and ``price_pre`` (the decision-time price used
        for the recommendation).
        """
        price = frame["price_pre"].to_numpy(dtype=float) if "price_pre" in frame else np.full(len(frame), np.nan)
        out = self.predict_arrays(
            race_index(frame["race_id"].to_numpy()),
            frame[SQPE_FEATURES].to_numpy(dtype=float),
            frame[TIE_FEATURES].to_numpy(dtype=float),
            frame[MARKET_COLUMNS].to_numpy(dtype=float),
            price,
        )
        return pd.DataFrame(
            {"race_id": frame["race_id"].to_numpy(), "runner_id": frame["runner_id"].to_numpy(), **out},
            index=frame.index,
        )

    def predict_arrays(
        self, race: np.ndarray, sqpe: np.ndarray, tie: np.ndarray, market: np.ndarray, price: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The same computation on bare arrays, for the stream's hot path,
        where building a DataFrame per card cost more than the models.

        ``race`` numbers the rows' races 0..k-1; ``market`` is the market
        probability followed by the NDS signal columns.
        """
        # sklearn's input checks cost more than the trees on one race (3 ms of
        # 5); the arrays here are built by our own code, and the NaNs they may
        # hold are handled by HGB and TIE's imputer, which do not rely on them.
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            p_sqpe = self.sqpe.predict_race(sqpe, race)
            intent = self.tie.predict_proba(tie)[:, 1]
        nds = self.nds.combine(market[:, 1:])
        p_market = market[:, 0]
        final = self.orchestrator.predict(p_sqpe, p_market, intent, nds, race, market[:, 1:])
        return {
            "sqpe_prob": p_sqpe,
            "tie_intent": intent,
            "nds_signal": nds,
            "market_prob": p_market,
            "final_prob": final,
            "stake_fraction": self.staking.stakes(final, price, race),
        }
