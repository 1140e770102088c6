from __future__ import annotations

import orjson
import pytest

from schemas import CONTRACTS, ContractError, RaceCard, RaceResult
from schemas.examples import EXAMPLES


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_every_contract_round_trips_through_bytes(name: str) -> None:
    msg = EXAMPLES[name]
    data = msg.encode()
    assert isinstance(data, bytes)
    assert orjson.loads(data)["schema_version"] == 1
    assert type(msg).decode(data) == msg


def test_errors_name_the_field_and_the_reason() -> None:
    card = orjson.loads(EXAMPLES["race_card"].encode())
    card["runners"][1]["price"] = 0.5
    del card["race"]["course"]
    with pytest.raises(ContractError) as info:
        RaceCard.decode(orjson.dumps(card))
    fields = {e.field: e.reason for e in info.value.errors}
    assert "runners.1.price" in fields and "greater than 1" in fields["runners.1.price"]
    assert "race.course" in fields and "required" in fields["race.course"].lower()
    assert "runners.1.price" in str(info.value)


def test_naive_off_time_is_refused_and_aware_is_normalised_to_utc() -> None:
    card = orjson.loads(EXAMPLES["race_card"].encode())
    card["race"]["off_time"] = "2025-03-08T13:30:00"
    with pytest.raises(ContractError, match=r"race\.off_time"):
        RaceCard.decode(orjson.dumps(card))
    card["race"]["off_time"] = "2025-03-08T13:30:00+08:00"
    assert RaceCard.decode(orjson.dumps(card)).race.off_time.isoformat() == "2025-03-08T05:30:00+00:00"


def test_unknown_schema_version_is_refused() -> None:
    card = orjson.loads(EXAMPLES["race_card"].encode())
    card["schema_version"] = 2
    with pytest.raises(ContractError, match="schema_version"):
        RaceCard.decode(orjson.dumps(card))


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    card = orjson.loads(EXAMPLES["race_card"].encode())
    card["race"]["weather"] = "fine"
    assert RaceCard.decode(orjson.dumps(card)) == EXAMPLES["race_card"]


def test_duplicate_runner_is_refused() -> None:
    card = orjson.loads(EXAMPLES["race_card"].encode())
    card["runners"].append(card["runners"][0])
    with pytest.raises(ContractError, match="appears more than once"):
        RaceCard.decode(orjson.dumps(card))


def test_result_dead_heat_and_consistency() -> None:
    res = orjson.loads(EXAMPLES["race_result"].encode())
    res["finishers"][1]["position"] = 1
    dead_heat = RaceResult.decode(orjson.dumps(res))
    assert dead_heat.dead_heat and sorted(dead_heat.winners) == ["h101", "h102"]
    res["non_runners"] = ["h101"]
    with pytest.raises(ContractError, match="both finished and non-runner"):
        RaceResult.decode(orjson.dumps(res))
    res["non_runners"] = []
    for f in res["finishers"]:
        f["position"] = 2
    with pytest.raises(ContractError, match="no finisher has position 1"):
        RaceResult.decode(orjson.dumps(res))


def test_non_object_and_non_json_inputs_get_a_message_level_error() -> None:
    for raw in (b"", b"[1,2]", b"not json", b"\xff\xfe", b"null"):
        with pytest.raises(ContractError) as info:
            RaceCard.decode(raw)
        assert info.value.errors[0].field == "(message)"


def test_dead_letter_carries_arbitrary_bytes_as_base64() -> None:
    dl = EXAMPLES["dead_letter"]
    wire = orjson.loads(dl.encode())
    assert isinstance(wire["original"], str)
    assert type(dl).decode(dl.encode()).original == b'{"race": 1}\xff'
