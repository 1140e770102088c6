from __future__ import annotations

import json
from pathlib import Path

from schemas import CONTRACTS
from schemas.jsonschema import JSON_DIR, render, stale_files, write


def test_committed_json_schemas_are_current() -> None:
    assert stale_files() == [], "run `velo schemas` (or `make schemas`) and commit schemas/json/"


def test_staleness_is_detected(tmp_path: Path) -> None:
    write(tmp_path)
    assert stale_files(tmp_path) == []
    victim = tmp_path / "race_card.v1.json"
    doc = json.loads(victim.read_text())
    doc["properties"].pop("runners")
    victim.write_text(json.dumps(doc))
    (tmp_path / "old.v0.json").write_text("{}")
    assert stale_files(tmp_path) == ["race_card.v1.json", "old.v0.json"]


def test_one_schema_per_contract_with_required_fields() -> None:
    files = render()
    assert len(files) == len(CONTRACTS)
    card = json.loads(files["race_card.v1.json"])
    assert {"race", "runners"} <= set(card["required"])
    assert (JSON_DIR / "prediction_log.v1.json").exists()
    log = json.loads(files["prediction_log.v1.json"])
    assert set(log["properties"]) == {
        "schema_version", "timestamp", "request_id", "race_id", "horse_id", "model_name", "model_version",
        "is_champion", "sqpe_prob", "tie_intent", "final_prob", "result_position", "won",
        # optional additions within v1 (decision-time market view and recommendation, for compare/monitor)
        "market_prob", "price", "stake_fraction",
    }  # fmt: skip
    assert not {"market_prob", "price", "stake_fraction"} & set(log.get("required", []))
