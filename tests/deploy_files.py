"""The deployment files in deploy/, read as the tests need them."""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BASE = DEPLOY / "base"
OVERLAYS = DEPLOY / "overlays"
OVERLAY_NAMES = sorted(path.name for path in OVERLAYS.iterdir() if path.is_dir())
COMPOSE_FILE = DEPLOY / "compose.yaml"
ALERT_RULES = DEPLOY / "prometheus" / "alerts.yaml"
DASHBOARD = DEPLOY / "grafana" / "invoicer.json"
DOCKERFILE = ROOT / "Dockerfile"

# Grafana fills these in before Prometheus sees the query.
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
}


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


@dataclass(frozen=True)
class Manifests:
    """The Kubernetes objects one overlay renders, looked up by kind and name (each a copy,
    for a test to change)."""

    overlay: str
    documents: tuple[dict[str, Any], ...]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        [found] = [
            document
            for document in self.documents
            if (document["kind"], document["metadata"]["name"]) == (kind, name)
        ]
        return copy.deepcopy(found)

    def all(self) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self.documents))

    def container(self, kind: str, name: str) -> dict[str, Any]:
        [only] = self.get(kind, name)["spec"]["template"]["spec"]["containers"]
        assert isinstance(only, dict)
        return only


@functools.cache
def rendered(overlay: str) -> Manifests:
    """What `kubectl kustomize deploy/overlays/<overlay>` gives, as CI and an operator render
    it (scripts/test installs kubectl where it is missing)."""
    kubectl = shutil.which("kubectl")
    assert kubectl is not None, "kubectl renders the overlays: apt-get install kubectl"
    output = subprocess.run(
        [kubectl, "kustomize", str(OVERLAYS / overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    documents = tuple(document for document in yaml.safe_load_all(output) if document)
    return Manifests(overlay, documents)


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_panels(panels: list[dict[str, Any]] | None = None) -> Iterator[dict[str, Any]]:
    """Every panel, also those inside collapsed rows."""
    for panel in dashboard()["panels"] if panels is None else panels:
        yield panel
        yield from dashboard_panels(panel.get("panels", []))


def dashboard_queries() -> list[str]:
    queries = [
        target["expr"] for panel in dashboard_panels() for target in panel.get("targets", [])
    ]
    for variable in dashboard().get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            queries.append(query["query"] if isinstance(query, dict) else query)
    return [_grafana_filled_in(query) for query in queries]


def _grafana_filled_in(query: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        query = query.replace(variable, value)
    # Template variables in label matchers: any value.
    query = re.sub(r'=~?"\$\w+"', '=~".*"', query)
    # label_values(metric, label) in a variable's query: the metric is what counts.
    match = re.fullmatch(r"label_values\((.+),\s*\w+\)", query.strip())
    return match.group(1) if match else query


def metric_names(query: str) -> set[str]:
    """The metric names a PromQL expression selects (a syntax error raises ValueError)."""
    names: set[str] = set()

    def visit(node: object) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)
        return True

    promql_parser.walk(promql_parser.parse(query), visit)
    return names


def metrics_named_in_deploy() -> set[str]:
    """Every metric the alert rules and the dashboard use."""
    queries = [rule["expr"] for rule in alert_rules()] + dashboard_queries()
    return {name for query in queries for name in metric_names(query)}


def healthcheck_command() -> list[str]:
    """The image's HEALTHCHECK command (exec form)."""
    found = re.search(
        r"^HEALTHCHECK .*?CMD (\[.*?\])$", DOCKERFILE.read_text(), re.MULTILINE | re.DOTALL
    )
    assert found is not None
    command: list[str] = json.loads(found.group(1))
    return command
