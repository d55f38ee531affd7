"""deploy/kubernetes/api.yaml: the read API's Deployment and Service, valid Kubernetes
objects wired to what `invoicer api` does (its command, ports, probes, settings), as
locked down as the worker's, selecting only the API's pods."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy_files import KUBERNETES, load_yaml_documents
from tests.unit.test_deploy import KUBERNETES_VERSIONS, container, manifests
from worker.http import LIVENESS_PATH, READINESS_PATH
from worker.settings import Settings

API_MANIFESTS = KUBERNETES / "api.yaml"


def api_objects() -> dict[str, dict[str, Any]]:
    return {document["kind"]: document for document in load_yaml_documents(API_MANIFESTS)}


def api_container() -> dict[str, Any]:
    [only] = api_objects()["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert isinstance(only, dict)
    return only


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_api_objects_are_valid_kubernetes_objects(version: str) -> None:
    objects = api_objects()
    assert set(objects) == {"Deployment", "Service"}
    for document in objects.values():
        kubernetes_validate.validate(document, version, strict=True)


def test_the_api_runs_the_same_image_with_its_own_command_and_secret() -> None:
    api = api_container()
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    assert "api.yaml" in kustomization["resources"]
    assert api["image"] == container("Deployment")["image"]
    assert api["args"] == ["api"]
    assert api["envFrom"] == container("Deployment")["envFrom"]
    secrets = {v["name"]: v["valueFrom"]["secretKeyRef"] for v in api["env"]}
    assert set(secrets) == {"INVOICER_DATABASE_URL", "INVOICER_API_TOKENS"}
    assert {secret["name"] for secret in secrets.values()} == {"invoicer-api"}
    assert (
        secrets["INVOICER_DATABASE_URL"]
        != container("Deployment")["env"][0]["valueFrom"]["secretKeyRef"]
    ), "the API reads as its own, read-only role"
    assert "INVOICER_API_TOKENS" not in manifests()["ConfigMap"]["data"]


def test_the_api_serves_and_is_probed_where_it_answers() -> None:
    api = api_container()
    config = manifests()["ConfigMap"]["data"]
    ports = {port["name"]: port["containerPort"] for port in api["ports"]}
    assert ports["api"] == int(config["INVOICER_API_PORT"]) == Settings().api_port
    assert ports["http"] == int(config["INVOICER_HTTP_PORT"])
    assert api["livenessProbe"]["httpGet"] == {"path": LIVENESS_PATH, "port": "http"}
    assert api["readinessProbe"]["httpGet"] == {"path": READINESS_PATH, "port": "http"}
    service = api_objects()["Service"]["spec"]
    [port] = service["ports"]
    assert port["targetPort"] == "api"


def test_the_api_is_as_locked_down_as_the_worker_and_selects_only_its_pods() -> None:
    objects = api_objects()
    pod = objects["Deployment"]["spec"]["template"]
    worker_pod = manifests()["Deployment"]["spec"]["template"]
    assert pod["spec"]["securityContext"] == worker_pod["spec"]["securityContext"]
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert api_container()["securityContext"] == container("Deployment")["securityContext"]
    assert api_container()["resources"]["limits"]["memory"]
    labels, worker_labels = pod["metadata"]["labels"], worker_pod["metadata"]["labels"]
    for selector in (
        objects["Service"]["spec"]["selector"],
        objects["Deployment"]["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= labels.items()
        assert not selector.items() <= worker_labels.items()
    for worker_selector in (
        manifests()["Service"]["spec"]["selector"],
        manifests()["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
        manifests()["Deployment"]["spec"]["selector"]["matchLabels"],
    ):
        assert not worker_selector.items() <= labels.items()
