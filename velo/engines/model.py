"""The full model: SQPE, TIE, NDS and the orchestrator, used on a frame of
runners. The stream passes one race; the backtest passes thousands; the code
is the same."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from velo.engines.nds import NDS, NDS_COLUMNS
from velo.engines.orchestrator import Orchestrator
from velo.engines.race import race_index
from velo.engines.sqpe import SQPE
from velo.engines.staking import Staking
from velo.engines.tie import TIE
from velo.features.definitions import SQPE_FEATURES, TIE_FEATURES


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

        ``frame`` holds the 44 feature columns, ``market_prob``, the NDS signal
        columns, ``race_id`` and ``price_pre`` (the decision-time price used
        for the recommendation).
        """
        race = race_index(frame["race_id"].to_numpy())
        p_sqpe = self.sqpe.predict_race(frame[SQPE_FEATURES].to_numpy(), race)
        tie = self.tie.predict_proba(frame[TIE_FEATURES].to_numpy())[:, 1]
        nds = self.nds.combine(frame[NDS_COLUMNS].to_numpy())
        p_market = frame["market_prob"].to_numpy(dtype=float)
        final = self.orchestrator.predict(p_sqpe, p_market, tie, nds, race)
        price = frame["price_pre"].to_numpy(dtype=float) if "price_pre" in frame else np.full(len(frame), np.nan)
        stake = self.staking.stakes(final, price)
        return pd.DataFrame(
            {
                "race_id": frame["race_id"].to_numpy(),
                "runner_id": frame["runner_id"].to_numpy(),
                "sqpe_prob": p_sqpe,
                "tie_intent": tie,
                "nds_signal": nds,
                "market_prob": p_market,
                "final_prob": final,
                "stake_fraction": stake,
            },
            index=frame.index,
        )
