"""The Kubernetes manifests in infra/k8s validate against the API's schemas
offline (kubernetes-validate, strict: an unknown field fails), and agree
with the code: every VELO_* variable is a setting, the probes ask the ops
port's views, and the names that refer to each other match."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from streams.app import worker_group
from velo.config import Settings

K8S = Path(__file__).resolve().parents[1] / "infra" / "k8s"
#: the oldest Kubernetes the manifests promise to work on
VERSION = "1.29.0"


def _docs() -> dict[str, dict]:
    out = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            out[doc["kind"]] = doc
    return out


DOCS = _docs()


def test_kustomization_lists_every_manifest() -> None:
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


@pytest.mark.parametrize("kind", sorted(DOCS))
def test_each_manifest_validates_strictly(kind: str) -> None:
    kubernetes_validate.validate(DOCS[kind], VERSION, strict=True)


def test_a_broken_manifest_would_fail() -> None:
    bad = yaml.safe_load(yaml.safe_dump(DOCS["Deployment"]))
    bad["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSION, strict=True)


def test_every_variable_is_a_setting_and_secrets_stay_in_the_secret() -> None:
    fields = {f"VELO_{name.upper()}" for name in Settings.model_fields}
    config, secret = DOCS["ConfigMap"]["data"], DOCS["Secret"]["stringData"]
    assert set(config) <= fields, set(config) - fields
    assert {k for k in secret if k.startswith("VELO_")} <= fields
    for name in ("VELO_API_KEYS", "VELO_KAFKA_SASL_PASSWORD", "VELO_REDIS_URL"):
        assert name in secret and name not in config
    Settings(**{k[5:].lower(): v for k, v in config.items()})  # the ConfigMap's values validate


def test_probes_ports_and_names_agree() -> None:
    deploy, service = DOCS["Deployment"], DOCS["Service"]
    pod = deploy["spec"]["template"]
    container = pod["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["ops"] == int(DOCS["ConfigMap"]["data"]["VELO_OPS_PORT"])
    assert container["args"][-1] == str(ports["api"])
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "ops"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "ops"}
    labels = pod["metadata"]["labels"]
    for selector in (service["spec"]["selector"], DOCS["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= labels.items()
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= set(ports)
    hpa = DOCS["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == deploy["metadata"]["name"]
    lag = hpa["metrics"][0]["external"]["metric"]["selector"]["matchLabels"]
    assert lag == {"consumergroup": worker_group("velo"), "topic": Settings().topic_race_cards}
    assert hpa["maxReplicas"] <= int(DOCS["ConfigMap"]["data"]["VELO_PARTITIONS"])
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert (
        volumes["registry"]["persistentVolumeClaim"]["claimName"] == DOCS["PersistentVolumeClaim"]["metadata"]["name"]
    )
    assert "ReadWriteMany" in DOCS["PersistentVolumeClaim"]["spec"]["accessModes"]
    mounted = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert DOCS["ConfigMap"]["data"]["VELO_REGISTRY_DIR"].startswith(mounted["registry"])
    assert DOCS["ConfigMap"]["data"]["VELO_KAFKA_SSL_CAFILE"].startswith(mounted["kafka-ca"])
