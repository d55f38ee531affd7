"""deploy/base/api.yaml, as every overlay renders it: the read API's Deployment, Service,
ServiceMonitor, PodDisruptionBudget and NetworkPolicy, valid Kubernetes objects wired to
what `invoicer api` does (its command, ports, probes, settings, metrics), as locked down as
the worker's, selecting only the API's pods."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from tests.deploy_files import OVERLAY_NAMES, Manifests, rendered
from tests.repository.test_deploy import KUBERNETES_VERSIONS, METRICS_SERVICE, WORKER
from worker.http import LIVENESS_PATH, METRICS_PATH, READINESS_PATH
from worker.settings import Settings

API = "invoicer-api"


@pytest.fixture(params=OVERLAY_NAMES)
def overlay(request: pytest.FixtureRequest) -> Manifests:
    manifests: Manifests = rendered(request.param)
    return manifests


def pod_labels(overlay: Manifests, name: str) -> dict[str, str]:
    labels: dict[str, str] = overlay.get("Deployment", name)["spec"]["template"]["metadata"][
        "labels"
    ]
    return labels


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_api_objects_are_valid_kubernetes_objects(overlay: Manifests, version: str) -> None:
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"):
        kubernetes_validate.validate(overlay.get(kind, API), version, strict=True)


def test_the_api_runs_the_same_image_with_its_own_command_and_secret(overlay: Manifests) -> None:
    api, worker = overlay.container("Deployment", API), overlay.container("Deployment", WORKER)
    assert api["image"] == worker["image"]
    assert api["args"] == ["api"]
    assert api["envFrom"] == worker["envFrom"]
    secrets = {v["name"]: v["valueFrom"]["secretKeyRef"] for v in api["env"] if "valueFrom" in v}
    assert set(secrets) == {"INVOICER_DATABASE_URL", "INVOICER_API_TOKENS"}
    assert {secret["name"] for secret in secrets.values()} == {"invoicer-api"}
    worker_database = next(v for v in worker["env"] if v["name"] == "INVOICER_DATABASE_URL")
    assert secrets["INVOICER_DATABASE_URL"] != worker_database["valueFrom"]["secretKeyRef"], (
        "the API reads as its own, read-only role"
    )
    assert "INVOICER_API_TOKENS" not in overlay.get("ConfigMap", WORKER)["data"]


def test_the_api_serves_and_is_probed_where_it_answers(overlay: Manifests) -> None:
    api = overlay.container("Deployment", API)
    config = overlay.get("ConfigMap", WORKER)["data"]
    ports = {port["name"]: port["containerPort"] for port in api["ports"]}
    assert ports["api"] == int(config["INVOICER_API_PORT"]) == Settings().api_port
    assert ports["http"] == int(config["INVOICER_HTTP_PORT"])
    assert api["livenessProbe"]["httpGet"] == {"path": LIVENESS_PATH, "port": "http"}
    assert api["readinessProbe"]["httpGet"] == {"path": READINESS_PATH, "port": "http"}
    assert api["startupProbe"]["httpGet"] == {"path": LIVENESS_PATH, "port": "http"}
    service = {
        port["name"]: port["targetPort"] for port in overlay.get("Service", API)["spec"]["ports"]
    }
    assert service == {"api": "api", "http": "http"}


def test_the_api_is_scraped(overlay: Manifests) -> None:
    service = overlay.get("Service", API)
    monitor = overlay.get("ServiceMonitor", API)["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert not monitor["selector"]["matchLabels"].items() <= (
        overlay.get("Service", METRICS_SERVICE)["metadata"]["labels"].items()
    ), "the worker's Service has its own ServiceMonitor"
    [endpoint] = monitor["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http", METRICS_PATH)


def test_a_drain_takes_one_api_pod_at_a_time(overlay: Manifests) -> None:
    budget = overlay.get("PodDisruptionBudget", API)["spec"]
    assert budget["maxUnavailable"] == 1
    assert budget["selector"]["matchLabels"].items() <= pod_labels(overlay, API).items()


def test_the_api_takes_connections_only_on_its_ports_and_opens_only_what_it_needs(
    overlay: Manifests,
) -> None:
    policy = overlay.get("NetworkPolicy", API)["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels(overlay, API).items()
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    ingress = {port["port"] for rule in policy["ingress"] for port in rule["ports"]}
    assert ingress == {port["name"] for port in overlay.container("Deployment", API)["ports"]}
    egress = {port["port"] for rule in policy["egress"] for port in rule["ports"]}
    assert egress == {53, 5432, 4317, 4318}, "no broker: the API reads only the database"


def test_the_api_is_as_locked_down_as_the_worker_and_selects_only_its_pods(
    overlay: Manifests,
) -> None:
    pod = overlay.get("Deployment", API)["spec"]["template"]
    worker_pod = overlay.get("Deployment", WORKER)["spec"]["template"]
    assert pod["spec"]["securityContext"] == worker_pod["spec"]["securityContext"]
    assert pod["spec"]["automountServiceAccountToken"] is False
    api, worker = overlay.container("Deployment", API), overlay.container("Deployment", WORKER)
    assert api["securityContext"] == worker["securityContext"]
    assert api["resources"]["limits"]["memory"]
    labels, worker_labels = pod["metadata"]["labels"], worker_pod["metadata"]["labels"]
    api_selectors: list[dict[str, Any]] = [
        overlay.get("Service", API)["spec"]["selector"],
        overlay.get("Deployment", API)["spec"]["selector"]["matchLabels"],
        overlay.get("PodDisruptionBudget", API)["spec"]["selector"]["matchLabels"],
        overlay.get("NetworkPolicy", API)["spec"]["podSelector"]["matchLabels"],
    ]
    for selector in api_selectors:
        assert selector.items() <= labels.items()
        assert not selector.items() <= worker_labels.items()
    worker_selectors: list[dict[str, Any]] = [
        overlay.get("Service", METRICS_SERVICE)["spec"]["selector"],
        overlay.get("PodDisruptionBudget", WORKER)["spec"]["selector"]["matchLabels"],
        overlay.get("Deployment", WORKER)["spec"]["selector"]["matchLabels"],
        overlay.get("NetworkPolicy", WORKER)["spec"]["podSelector"]["matchLabels"],
    ]
    for selector in worker_selectors:
        assert not selector.items() <= labels.items()
