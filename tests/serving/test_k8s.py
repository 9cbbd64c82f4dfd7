"""deploy/k8s/: valid against the Kubernetes schemas (offline: kubernetes-validate bundles them),
and consistent with the app and the image: the probe paths are routes of the app that answer
without the bearer token, the container port is the Dockerfile's CMD port, and the env-var
contract names a model the loader accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from fastapi.testclient import TestClient

from mmp.core.config import load_params
from mmp.core.settings import ServingSettings
from mmp.serving.app import create_app
from mmp.serving.loader import model_spec
from tests.cli.test_serve import dockerfile_cmd
from tests.conftest import ROOT

K8S = ROOT / "deploy" / "k8s"


def manifests() -> dict[str, dict[str, Any]]:
    docs = [doc for file in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(file.read_text()) if doc]
    return {doc["kind"]: doc for doc in docs}


def container() -> dict[str, Any]:
    (only,) = manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    return only


@pytest.mark.parametrize("kind", ["Deployment", "Service", "HorizontalPodAutoscaler"])
def test_manifests_are_valid_against_the_kubernetes_schemas(kind: str) -> None:
    doc = manifests()[kind]
    # strict: an unknown or misspelt field (say `readinesProbe`) fails instead of being ignored
    kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
    assert doc["metadata"]["name"] == "mmp-serve"


def test_a_misspelt_field_is_caught_offline() -> None:
    doc = manifests()["Deployment"]
    doc["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_service_hpa_and_deployment_point_at_each_other_and_the_image_port() -> None:
    docs, serve = manifests(), container()
    labels = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert docs["Service"]["spec"]["selector"].items() <= labels.items()
    assert docs["Deployment"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    target = docs["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", docs["Deployment"]["metadata"]["name"])
    ports = {p["name"]: p["containerPort"] for p in serve["ports"]}
    cmd = dockerfile_cmd()
    assert ports == {"http": int(cmd[cmd.index("--port") + 1])}
    assert docs["Service"]["spec"]["ports"][0]["targetPort"] in ports
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert serve[probe]["httpGet"]["port"] in ports, probe
    assert {"requests", "limits"} <= serve["resources"].keys()


def test_the_env_contract_names_the_default_recipes_registered_model_and_the_token_is_a_secret() -> None:
    env = {e["name"]: e for e in container()["env"]}
    assert env["MMP_API_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "mmp-serve", "key": "api-token"}
    assert "value" not in env["MMP_API_TOKEN"], "the token never sits in the manifest"
    plain = {name: e["value"] for name, e in env.items() if "value" in e}
    name = load_params(Path(ROOT / "params.yaml")).model_name
    assert model_spec(None, plain) == f"models:/{name}@champion"


def test_probe_paths_are_app_routes_that_answer_without_the_token(package_dir: Path) -> None:
    """Kubelet probes send no Authorization header: with MMP_API_TOKEN set, /ready and /health
    must still answer 200 (and /predict must not)."""
    app = create_app(str(package_dir), settings=ServingSettings(), env={"MMP_API_TOKEN": "s3cret"})
    routes = {route.path for route in app.routes}  # type: ignore[attr-defined]
    serve = container()
    paths = {probe: serve[probe]["httpGet"]["path"] for probe in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert paths == {"startupProbe": "/ready", "readinessProbe": "/ready", "livenessProbe": "/health"}
    client = TestClient(app)
    for path in set(paths.values()):
        assert path in routes
        assert client.get(path).status_code == 200, path
    assert client.get("/ready").json()["ready"] is True
    assert client.post("/predict", json={}).status_code == 401
