"""No Docker engine runs here, so the compose file's wiring is checked by reading it."""

from __future__ import annotations

from pathlib import Path

import yaml

from velo.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_present_and_images_official() -> None:
    services = _compose()["services"]
    assert {"kafka", "redis", "worker"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["worker"]["build"]["dockerfile"] == "infra/Dockerfile"
    assert (ROOT / services["worker"]["build"]["dockerfile"]).exists()


def test_kafka_runs_in_kraft_mode() -> None:
    env = _compose()["services"]["kafka"]["environment"]
    assert "broker" in env["KAFKA_PROCESS_ROLES"] and "controller" in env["KAFKA_PROCESS_ROLES"]
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@kafka:")


def test_worker_is_wired_through_velo_settings() -> None:
    services = _compose()["services"]
    worker = services["worker"]
    env = worker["environment"]
    # Every VELO_* variable must be a real setting, and must parse.
    fields = {f"VELO_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= fields, set(env) - fields
    settings = Settings(**{k.removeprefix("VELO_").lower(): v for k, v in env.items()})
    # The bootstrap address is what Kafka advertises, and Redis is the redis service.
    advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"].split("://", 1)[1]
    assert settings.bootstrap_servers == advertised
    assert settings.redis_url.startswith("redis://redis:")
    deps = worker["depends_on"]
    assert deps["kafka"]["condition"] == "service_healthy"
    assert deps["redis"]["condition"] == "service_healthy"
    assert services["topics"]["command"] == ["velo", "topics", "create"]
    assert services["topics"]["environment"] == env


def test_dockerfile_installs_the_package_and_runs_the_worker() -> None:
    text = (ROOT / "infra" / "Dockerfile").read_text()
    assert "pip install" in text and 'CMD ["velo", "worker"]' in text


def test_worker_http_is_reachable_through_the_published_port() -> None:
    worker = _compose()["services"]["worker"]
    assert worker["environment"]["VELO_WEB_HOST"] == "0.0.0.0"
    # published on the host's loopback only: the worker's HTTP has no authentication yet
    assert worker["ports"] == ["127.0.0.1:6066:6066"]
    assert "/health" in " ".join(worker["healthcheck"]["test"])
