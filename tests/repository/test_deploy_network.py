"""The NetworkPolicies let every pod reach what it needs in a real cluster: DNS, the
database its Secret names, the brokers its ConfigMap names, and Prometheus its /metrics on
every port a ServiceMonitor scrapes. What a policy allows is read as the cluster reads it:
a rule with `to` (or `from`) reaches only what those select, a pod no policy selects is
not restricted."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.deploy_files import OVERLAY_NAMES, Manifests, rendered
from tests.repository.test_deploy import example_secrets

Pod = tuple[str, dict[str, Any]]
"""(what runs it, its pod template)."""


def _pods(manifests: Manifests) -> Iterator[Pod]:
    for document in manifests.documents:
        if document["kind"] in {"Deployment", "Job"}:
            yield f"{document['kind']} {document['metadata']['name']}", document["spec"]["template"]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return bool(selector.get("matchLabels", {}).items() <= labels.items())


def _policies(manifests: Manifests, pod: dict[str, Any], direction: str) -> list[dict[str, Any]]:
    labels = pod["metadata"]["labels"]
    return [
        document["spec"]
        for document in manifests.documents
        if document["kind"] == "NetworkPolicy"
        and direction in document["spec"].get("policyTypes", ["Ingress"])
        and _selects(document["spec"]["podSelector"], labels)
    ]


def _allows(rule: dict[str, Any], port: int | str, protocol: str) -> bool:
    ports = rule.get("ports")
    return not ports or any(
        (entry.get("port") in (None, port)) and entry.get("protocol", "TCP") == protocol
        for entry in ports
    )


def _egress_allowed(policies: list[dict[str, Any]], port: int, protocol: str) -> bool:
    """To any address: a rule without `to`."""
    if not policies:
        return True
    rules = [rule for policy in policies for rule in policy.get("egress", [])]
    return any(not rule.get("to") and _allows(rule, port, protocol) for rule in rules)


def _ingress_allowed(policies: list[dict[str, Any]], ports: set[int | str]) -> bool:
    """From any namespace (Prometheus runs in its own): a rule without `from`, or one that
    admits every namespace."""
    if not policies:
        return True
    rules = [rule for policy in policies for rule in policy.get("ingress", [])]
    return any(
        all(peer == {"namespaceSelector": {}} for peer in rule.get("from", []))
        and any(_allows(rule, port, "TCP") for port in ports)
        for rule in rules
    )


def _environment(manifests: Manifests, container: dict[str, Any]) -> dict[str, str]:
    """The container's settings: its ConfigMaps, then the example Secrets' values."""
    found: dict[str, str] = {}
    for source in container.get("envFrom", []):
        name = source.get("configMapRef", {}).get("name")
        if name:
            found |= manifests.get("ConfigMap", name)["data"]
    secrets = example_secrets()
    for variable in container.get("env", []):
        if "value" in variable:
            found[variable["name"]] = variable["value"]
        reference = variable.get("valueFrom", {}).get("secretKeyRef")
        if reference:
            found[variable["name"]] = secrets[reference["name"]]["stringData"][reference["key"]]
    return found


def _needed(manifests: Manifests, pod: dict[str, Any]) -> Iterator[tuple[str, int, str]]:
    """(what for, port, protocol) of every connection the pod opens."""
    yield "DNS", 53, "UDP"
    yield "DNS", 53, "TCP"
    for container in pod["spec"]["containers"]:
        settings = _environment(manifests, container)
        if "INVOICER_DATABASE_URL" in settings:
            yield "the database", urlsplit(settings["INVOICER_DATABASE_URL"]).port or 5432, "TCP"
        if container.get("args", ["run"])[0] == "run":
            for server in settings["INVOICER_KAFKA_BOOTSTRAP_SERVERS"].split(","):
                yield f"the broker {server}", int(server.rpartition(":")[2]), "TCP"


def _scraped_ports(manifests: Manifests, pod: dict[str, Any]) -> Iterator[set[int | str]]:
    """For each endpoint a ServiceMonitor scrapes on this pod: the container port, by name
    and number."""
    labels = pod["metadata"]["labels"]
    ports = [port for container in pod["spec"]["containers"] for port in container.get("ports", [])]
    services = [
        document
        for document in manifests.documents
        if document["kind"] == "Service" and document["spec"]["selector"].items() <= labels.items()
    ]
    for monitor in manifests.documents:
        if monitor["kind"] != "ServiceMonitor":
            continue
        for service in services:
            if not _selects(monitor["spec"]["selector"], service["metadata"]["labels"]):
                continue
            offered = {port["name"]: port["targetPort"] for port in service["spec"]["ports"]}
            for endpoint in monitor["spec"]["endpoints"]:
                target = offered[endpoint["port"]]
                yield {
                    value
                    for port in ports
                    if target in (port.get("name"), port["containerPort"])
                    for value in (port.get("name"), port["containerPort"])
                    if value is not None
                }


def blocked(manifests: Manifests) -> list[str]:
    """What a pod needs and its NetworkPolicies refuse."""
    problems = []
    for name, pod in _pods(manifests):
        egress = _policies(manifests, pod, "Egress")
        for what, port, protocol in _needed(manifests, pod):
            if not _egress_allowed(egress, port, protocol):
                problems.append(f"{name}: {what} ({port}/{protocol}) refused")
        ingress = _policies(manifests, pod, "Ingress")
        for ports in _scraped_ports(manifests, pod):
            if not ports or not _ingress_allowed(ingress, ports):
                problems.append(f"{name}: the scrape of {sorted(map(str, ports))} refused")
    return problems


@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
def test_every_pod_reaches_dns_the_database_the_brokers_and_is_scraped(overlay: str) -> None:
    assert blocked(rendered(overlay)) == []


Spoil = Callable[[dict[str, Any]], None]
"""Changes a NetworkPolicy's spec."""


def _without_port(port: int, protocol: str = "TCP") -> Spoil:
    def spoil(policy: dict[str, Any]) -> None:
        for rule in policy.get("egress", []):
            rule["ports"] = [
                entry
                for entry in rule.get("ports", [])
                if (entry["port"], entry.get("protocol", "TCP")) != (port, protocol)
            ]
        policy["egress"] = [rule for rule in policy.get("egress", []) if rule["ports"]]

    return spoil


def _database_only_in_the_namespace(policy: dict[str, Any]) -> None:
    for rule in policy.get("egress", []):
        if any(entry["port"] == 5432 for entry in rule.get("ports", [])):
            rule["to"] = [{"podSelector": {}}]


def _no_scrape(policy: dict[str, Any]) -> None:
    policy["ingress"] = []


def _scrape_from_the_namespace_only(policy: dict[str, Any]) -> None:
    for rule in policy.get("ingress", []):
        rule["from"] = [{"podSelector": {}}]


SPOILS: dict[str, Spoil] = {
    "DNS over UDP": _without_port(53, "UDP"),
    "DNS over TCP": _without_port(53),
    "the database's port": _without_port(5432),
    "the database outside the namespace": _database_only_in_the_namespace,
    "the scrape": _no_scrape,
    "the scrape from Prometheus' namespace": _scrape_from_the_namespace_only,
}


@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
@pytest.mark.parametrize("spoil", sorted(SPOILS))
def test_a_policy_that_blocks_what_a_pod_needs_is_found(overlay: str, spoil: str) -> None:
    manifests = rendered(overlay)
    documents = copy.deepcopy(list(manifests.documents))
    for document in documents:
        if document["kind"] == "NetworkPolicy":
            SPOILS[spoil](document["spec"])

    assert blocked(Manifests(overlay, tuple(documents))), spoil


@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
def test_a_policy_that_blocks_the_brokers_port_is_found(overlay: str) -> None:
    manifests = rendered(overlay)
    [server] = manifests.get("ConfigMap", "invoicer")["data"][
        "INVOICER_KAFKA_BOOTSTRAP_SERVERS"
    ].split(",")
    documents = copy.deepcopy(list(manifests.documents))
    for document in documents:
        if document["kind"] == "NetworkPolicy":
            _without_port(int(server.rpartition(":")[2]))(document["spec"])

    assert any("the broker" in problem for problem in blocked(Manifests(overlay, tuple(documents))))
