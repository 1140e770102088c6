from __future__ import annotations

import pytest
from pydantic import ValidationError

from velo.config import Settings


def test_defaults_point_at_the_embedded_stack() -> None:
    s = Settings()
    assert s.bootstrap_servers == "127.0.0.1:9092"
    assert s.redis_url.startswith("redis://127.0.0.1:")
    assert s.topics["race-cards"] == s.topics["market-updates"] == s.topics["race-results"]
    assert s.topics["registry-events"] == 1


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VELO_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("VELO_TOPIC_RACE_CARDS", "cards-v2")
    monkeypatch.setenv("VELO_PARTITIONS", "12")
    s = Settings()
    assert s.bootstrap_servers == "kafka:9092"
    assert s.topics["cards-v2"] == 12
    assert s.env()["VELO_TOPIC_RACE_CARDS"] == "cards-v2"


def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VELO_PARTITIONS", "zero")
    with pytest.raises(ValidationError, match="partitions"):
        Settings()


def test_secrets_are_hidden_in_reprs_and_urls_but_handed_to_child_processes() -> None:
    from velo.config import redacted

    s = Settings(api_keys="k-1,k-2", redis_url="redis://:hunter2@redis:6379/0")
    assert "k-1" not in repr(s)
    assert s.env()["VELO_API_KEYS"] == "k-1,k-2"
    assert "VELO_OPS_PORT" not in s.env()  # unset stays unset, not "None"
    assert redacted(s.redis_url) == "redis://:***@redis:6379/0"
    assert redacted("rediss://default:pw@r.example:6380/1?ssl_ca_certs=/ca.pem") == (
        "rediss://default:***@r.example:6380/1?ssl_ca_certs=/ca.pem"
    )
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
