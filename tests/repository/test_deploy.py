"""deploy/ and the Dockerfile, checked as far as a machine without Docker or a cluster
allows: every Kubernetes overlay rendered by `kubectl kustomize` as an operator renders it,
its core objects against the Kubernetes schemas (kubernetes-validate), its custom resources
(ServiceMonitor, PrometheusRule, KEDA's ScaledObject and TriggerAuthentication) against the
small schemas in deploy/schemas, the compose file against the Compose Specification (its
JSON schema as check-jsonschema ships it), PromQL parsed, and everything wired to what the
worker really does (ports, paths, settings, processes, shutdown).

The metrics the rules and the dashboard name are checked against a running worker's
/metrics in tests/integration/test_operations_metrics.py; the Dockerfile is linted by
hadolint in scripts/test. The read API's objects: tests/repository/test_deploy_api.py.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import threading
import tomllib
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy_files import (
    ALERT_RULES,
    BASE,
    COMPOSE_FILE,
    DEPLOY,
    DOCKERFILE,
    OVERLAY_NAMES,
    OVERLAYS,
    ROOT,
    Manifests,
    alert_rules,
    dashboard,
    dashboard_panels,
    dashboard_queries,
    healthcheck_command,
    load_yaml_documents,
    metric_names,
    rendered,
)
from worker.http import LIVENESS_PATH, METRICS_PATH, READINESS_PATH
from worker.running import SHUTDOWN_TIMEOUT_SECONDS
from worker.settings import Settings, Topics
from worker.tracing import OTEL_VARIABLES

# The oldest Kubernetes release still widely run, and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.utils.latest_version())
CUSTOM_RESOURCE_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule.json",
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "triggerauthentication.json",
}
# What the worker needs after SHUTDOWN_TIMEOUT_SECONDS for the outbox: the batch in hand,
# leaving the group, the producer's flush.
SHUTDOWN_MARGIN_SECONDS = 15
# The worker's objects are named `invoicer`, the read API's `invoicer-api`.
WORKER = "invoicer"
MIGRATION = "invoicer-migrate"
METRICS_SERVICE = "invoicer-metrics"
PACKAGE_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


@pytest.fixture(params=OVERLAY_NAMES)
def overlay(request: pytest.FixtureRequest) -> Manifests:
    manifests: Manifests = rendered(request.param)
    return manifests


def is_custom(document: dict[str, Any]) -> bool:
    return (document["apiVersion"], document["kind"]) in CUSTOM_RESOURCE_SCHEMAS


def custom_resource_validator(document: dict[str, Any]) -> jsonschema.protocols.Validator:
    name = CUSTOM_RESOURCE_SCHEMAS[(document["apiVersion"], document["kind"])]
    schema = json.loads((DEPLOY / "schemas" / name).read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator: jsonschema.protocols.Validator = validator_class(schema)
    return validator


def compose_validator() -> jsonschema.protocols.Validator:
    """The Compose Specification's JSON schema, as the check-jsonschema package ships it."""
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendored / "compose-spec.json").read_text())
    validator: jsonschema.protocols.Validator = jsonschema.validators.validator_for(schema)(schema)
    return validator


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def configured_variables() -> set[str]:
    """Every INVOICER_* variable the worker reads, and the OTEL_* ones docs/operations.md
    names."""
    names = {f"INVOICER_{field.upper()}" for field in Settings.model_fields if field != "topics"}
    topics = {f"INVOICER_TOPIC_{field.upper()}" for field in Topics.model_fields}
    return names | topics | set(OTEL_VARIABLES)


def example_secrets() -> dict[str, dict[str, Any]]:
    return {
        document["metadata"]["name"]: document
        for document in load_yaml_documents(BASE / "secret.example.yaml")
    }


def processes(worker: dict[str, Any]) -> int:
    """How many worker processes the container's `invoicer run` starts."""
    args: list[str] = worker["args"]
    return int(args[args.index("--processes") + 1]) if "--processes" in args else 1


def unscraped_processes(manifests: Manifests) -> list[str]:
    """The worker processes whose /metrics port is not declared in the pod, offered by the
    metrics Service and scraped by the ServiceMonitor (process i serves on
    INVOICER_HTTP_PORT + i), and what misses."""
    worker = manifests.container("Deployment", WORKER)
    first = int(manifests.get("ConfigMap", WORKER)["data"]["INVOICER_HTTP_PORT"])
    declared = {port["containerPort"]: port["name"] for port in worker["ports"]}
    service = manifests.get("Service", METRICS_SERVICE)["spec"]["ports"]
    offered = {port["targetPort"]: port["name"] for port in service}
    scraped = {
        endpoint["port"]
        for endpoint in manifests.get("ServiceMonitor", WORKER)["spec"]["endpoints"]
        if endpoint["path"] == METRICS_PATH
    }
    allowed = {
        port["port"]
        for rule in manifests.get("NetworkPolicy", WORKER)["spec"]["ingress"]
        for port in rule["ports"]
    }
    missing = []
    for index in range(processes(worker)):
        name = declared.get(first + index)
        if name is None:
            missing.append(f"process {index}: port {first + index} not declared")
        elif name not in offered:
            missing.append(f"process {index}: {name} not in the metrics Service")
        elif offered[name] not in scraped:
            missing.append(f"process {index}: {name} not scraped")
        elif name not in allowed:
            missing.append(f"process {index}: {name} not allowed in")
    return missing


# Kubernetes


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_manifests_are_valid_kubernetes_objects(overlay: Manifests, version: str) -> None:
    core = [document for document in overlay.all() if not is_custom(document)]
    assert {document["kind"] for document in core} == {
        "ConfigMap",
        "Deployment",
        "Job",
        "Service",
        "NetworkPolicy",
        "PodDisruptionBudget",
    }
    for document in [*core, *example_secrets().values()]:
        kubernetes_validate.validate(document, version, strict=True)


def test_a_misspelt_field_is_not_a_valid_kubernetes_object() -> None:
    deployment = rendered(OVERLAY_NAMES[0]).get("Deployment", WORKER)
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="livenesProbe"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_custom_resources_match_their_schemas(overlay: Manifests) -> None:
    custom = [document for document in overlay.all() if is_custom(document)]
    assert {(d["apiVersion"], d["kind"]) for d in custom} == set(CUSTOM_RESOURCE_SCHEMAS)
    for document in custom:
        custom_resource_validator(document).validate(document)


@pytest.mark.parametrize(
    ("kind", "name", "spoil"),
    [
        (
            "ScaledObject",
            WORKER,
            lambda spec: spec["triggers"][0]["metadata"].update(lagThreshold=1000),
        ),
        ("ScaledObject", WORKER, lambda spec: spec["triggers"][0]["metadata"].pop("consumerGroup")),
        ("ScaledObject", WORKER, lambda spec: spec.update(maxReplicas=12)),
        ("ServiceMonitor", WORKER, lambda spec: spec["endpoints"][0].update(interval="30 seconds")),
        ("ServiceMonitor", WORKER, lambda spec: spec["endpoints"][0].update(targetport=8080)),
        ("PrometheusRule", WORKER, lambda spec: spec["groups"][0]["rules"][0].pop("expr")),
        (
            "TriggerAuthentication",
            "invoicer-kafka",
            lambda spec: spec["secretTargetRef"][0].pop("key"),
        ),
        (
            "TriggerAuthentication",
            "invoicer-kafka",
            lambda spec: spec["secretTargetRef"][0].update(parameter="sasl_mechanism"),
        ),
        ("TriggerAuthentication", "invoicer-kafka", lambda spec: spec.update(secretTargetRef=[])),
    ],
)
def test_the_custom_resource_schemas_refuse_what_the_operators_would(
    kind: str, name: str, spoil: Any
) -> None:
    document = rendered(OVERLAY_NAMES[0]).get(kind, name)
    spoil(document["spec"])
    assert not custom_resource_validator(document).is_valid(document)


def test_the_overlays_deploy_the_whole_base_but_the_example_secrets(overlay: Manifests) -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    files = {path.name for path in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files - {"secret.example.yaml"}
    in_base = {
        (document["kind"], document["metadata"]["name"])
        for name in kustomization["resources"]
        for document in load_yaml_documents(BASE / name)
    }
    assert {(d["kind"], d["metadata"]["name"]) for d in overlay.all()} == in_base
    assert {d["metadata"]["namespace"] for d in overlay.all()} == {
        yaml.safe_load((OVERLAYS / overlay.overlay / "kustomization.yaml").read_text())["namespace"]
    }


def test_every_pod_runs_the_release_of_the_package(overlay: Manifests) -> None:
    [image] = yaml.safe_load((BASE / "kustomization.yaml").read_text())["images"]
    for kind, name in (("Deployment", WORKER), ("Deployment", "invoicer-api"), ("Job", MIGRATION)):
        assert overlay.container(kind, name)["image"] == f"{image['name']}:{PACKAGE_VERSION}"
    assert f"ARG VERSION={PACKAGE_VERSION}" in DOCKERFILE.read_text()


def test_the_migration_is_a_hook_that_runs_before_the_rollout(overlay: Manifests) -> None:
    job = overlay.get("Job", MIGRATION)
    annotations = job["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "PreSync"
    assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation"
    assert overlay.container("Job", MIGRATION)["args"] == ["migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_the_configuration_names_only_settings_the_worker_reads(overlay: Manifests) -> None:
    config = overlay.get("ConfigMap", WORKER)["data"]
    assert set(config) <= configured_variables()
    assert set(compose()["x-invoicer"]["environment"]) <= configured_variables()
    database = {"name": "invoicer-database", "key": "url"}
    assert database["key"] in example_secrets()[database["name"]]["stringData"]
    for kind, name in (("Deployment", WORKER), ("Job", MIGRATION)):
        secrets = {
            v["name"]: v["valueFrom"]["secretKeyRef"] for v in overlay.container(kind, name)["env"]
        }
        assert secrets["INVOICER_DATABASE_URL"] == database, "from the Secret"
        assert set(secrets) <= configured_variables()
        for secret in secrets.values():
            assert secret["key"] in example_secrets()[secret["name"]]["stringData"]
    assert "INVOICER_DATABASE_URL" not in config, "a password belongs in the Secret"
    assert "INVOICER_KAFKA_SASL_PASSWORD" not in config, "a password belongs in the Secret"


def container_environment(manifests: Manifests, kind: str, name: str) -> dict[str, str]:
    """The variables a container starts with: its ConfigMaps, then its own `env`, a Secret's
    value taken from the example Secrets."""
    container = manifests.container(kind, name)
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        environment.update(manifests.get("ConfigMap", source["configMapRef"]["name"])["data"])
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
        else:
            secret = variable["valueFrom"]["secretKeyRef"]
            example = example_secrets()[secret["name"]]["stringData"]
            environment[variable["name"]] = example[secret["key"]]
    return environment


@pytest.mark.parametrize(
    ("kind", "name"), [("Deployment", WORKER), ("Deployment", "invoicer-api"), ("Job", MIGRATION)]
)
def test_every_container_starts_with_settings_the_worker_accepts(
    overlay: Manifests, kind: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in os.environ:
        if variable.startswith(("INVOICER_", "OTEL_")):
            monkeypatch.delenv(variable)
    for variable, value in container_environment(overlay, kind, name).items():
        monkeypatch.setenv(variable, value)

    Settings()  # refuses what `invoicer` would refuse at its start


def test_the_deployment_probes_the_worker_where_it_answers(overlay: Manifests) -> None:
    worker = overlay.container("Deployment", WORKER)
    config = overlay.get("ConfigMap", WORKER)["data"]
    first = next(port for port in worker["ports"] if port["name"] == "http")
    assert first["containerPort"] == int(config["INVOICER_HTTP_PORT"])
    liveness = worker["livenessProbe"]
    if "httpGet" in liveness:
        assert liveness["httpGet"] == {"path": LIVENESS_PATH, "port": "http"}
    else:  # every process asked (test_every_worker_process_is_probed_for_liveness)
        assert LIVENESS_PATH in " ".join(liveness["exec"]["command"])
    assert worker["readinessProbe"]["httpGet"] == {"path": READINESS_PATH, "port": "http"}
    assert worker["startupProbe"]["httpGet"] == {"path": LIVENESS_PATH, "port": "http"}
    assert worker["args"][0] == "run"
    assert worker["envFrom"] == [{"configMapRef": {"name": WORKER}}]


def test_a_slow_start_is_not_a_restart(overlay: Manifests) -> None:
    """Until the startup probe has passed, liveness does not count: it allows a start at
    least as long as a live worker may take to answer before it is restarted."""
    for name in (WORKER, "invoicer-api"):
        container = overlay.container("Deployment", name)
        startup, liveness = container["startupProbe"], container["livenessProbe"]
        allowed = startup["periodSeconds"] * startup["failureThreshold"]
        assert allowed >= 120
        assert allowed >= liveness["periodSeconds"] * liveness["failureThreshold"]


def test_termination_gives_the_worker_time_to_finish_its_batch_and_flush_the_outbox(
    overlay: Manifests,
) -> None:
    pod = overlay.get("Deployment", WORKER)["spec"]["template"]["spec"]
    needed = SHUTDOWN_TIMEOUT_SECONDS + SHUTDOWN_MARGIN_SECONDS
    assert pod["terminationGracePeriodSeconds"] >= needed
    grace = compose()["services"]["worker"]["stop_grace_period"]
    assert int(grace.removesuffix("s")) >= needed
    assert "STOPSIGNAL SIGTERM" in DOCKERFILE.read_text()


def test_the_worker_runs_unprivileged_on_a_read_only_root(overlay: Manifests) -> None:
    uid = re.search(r"^USER (\d+):(\d+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert uid is not None
    for kind, name in (("Deployment", WORKER), ("Job", MIGRATION)):
        pod = overlay.get(kind, name)["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == int(uid.group(1))
        assert pod["automountServiceAccountToken"] is False
        security = overlay.container(kind, name)["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert overlay.container(kind, name)["resources"]["limits"]["memory"]


def test_metrics_are_scraped_from_every_worker_pod(overlay: Manifests) -> None:
    pod_labels = overlay.get("Deployment", WORKER)["spec"]["template"]["metadata"]["labels"]
    service = overlay.get("Service", METRICS_SERVICE)
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["publishNotReadyAddresses"] is True, "not-ready pods are scraped"
    monitor = overlay.get("ServiceMonitor", WORKER)["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    budget = overlay.get("PodDisruptionBudget", WORKER)["spec"]
    assert budget["selector"]["matchLabels"].items() <= pod_labels.items()
    selector = overlay.get("Deployment", WORKER)["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()


def test_every_worker_process_is_scraped_on_its_own_port(overlay: Manifests) -> None:
    assert unscraped_processes(overlay) == []


def test_more_processes_than_scraped_ports_are_found() -> None:
    """A pod whose `--processes` outnumbers its scraped ports: the last process's metrics
    would be lost."""
    for name in OVERLAY_NAMES:
        manifests = rendered(name)
        worker = manifests.get("Deployment", WORKER)
        container = worker["spec"]["template"]["spec"]["containers"][0]
        count = processes(container)
        container["args"] = ["run", "--processes", str(count + 1)]
        spoilt = Manifests(
            name,
            tuple(
                worker if (d["kind"], d["metadata"]["name"]) == ("Deployment", WORKER) else d
                for d in manifests.all()
            ),
        )
        assert unscraped_processes(spoilt) == [f"process {count}: port {8080 + count} not declared"]


def test_one_overlay_runs_several_processes_per_pod() -> None:
    counts = {
        name: processes(rendered(name).container("Deployment", WORKER)) for name in OVERLAY_NAMES
    }
    assert max(counts.values()) > 1, counts


def test_keda_scales_on_the_workers_group_and_topics_within_the_partitions(
    overlay: Manifests,
) -> None:
    config = overlay.get("ConfigMap", WORKER)["data"]
    scaled = overlay.get("ScaledObject", WORKER)["spec"]
    assert scaled["scaleTargetRef"]["name"] == WORKER
    assert "replicas" not in overlay.get("Deployment", WORKER)["spec"], "KEDA owns the count"
    triggers = {trigger["metadata"]["topic"]: trigger for trigger in scaled["triggers"]}
    assert set(triggers) == {
        config["INVOICER_TOPIC_ORDERS_COMPLETED"],
        config["INVOICER_TOPIC_ORDERS_RETURNED"],
        config["INVOICER_TOPIC_INVOICE_COMMANDS"],
    }
    for trigger in triggers.values():
        metadata = trigger["metadata"]
        assert metadata["consumerGroup"] == config["INVOICER_GROUP_ID"]
        assert metadata["bootstrapServers"] == config["INVOICER_KAFKA_BOOTSTRAP_SERVERS"]
        assert metadata["allowIdleConsumers"] == "false", "no replica beyond the partitions"
        assert metadata["offsetResetPolicy"] == "earliest", "as the worker's consumer"
        assert not {"sasl", "tls", "username", "password"} & metadata.keys(), "a secret's"
        assert trigger["authenticationRef"] == {"name": "invoicer-kafka"}
    budget = overlay.get("PodDisruptionBudget", WORKER)["spec"]
    assert scaled["maxReplicaCount"] >= scaled["minReplicaCount"] > budget["maxUnavailable"]
    stated = re.search(r"\((\d+) here", (BASE / "scaledobject.yaml").read_text())
    assert stated is not None
    base = yaml.safe_load((BASE / "scaledobject.yaml").read_text())["spec"]
    partitions = int(stated.group(1))
    assert partitions == base["maxReplicaCount"]
    # Every worker process is a member of the group: none beyond the partitions.
    members = processes(overlay.container("Deployment", WORKER))
    assert scaled["maxReplicaCount"] * members <= partitions


def test_keda_reads_the_brokers_credentials_from_a_secret(overlay: Manifests) -> None:
    authentication = overlay.get("TriggerAuthentication", "invoicer-kafka")["spec"]
    references = {ref["parameter"]: ref for ref in authentication["secretTargetRef"]}
    assert {"sasl", "tls", "username", "password"} <= references.keys()
    secret = example_secrets()["invoicer-kafka"]["stringData"]
    for reference in references.values():
        assert reference["name"] == "invoicer-kafka"
        assert reference["key"] in secret
    assert secret["sasl"] in {"none", "plaintext", "scram_sha256", "scram_sha512"}
    assert secret["tls"] in {"enable", "disable"}


def _egress_ports(policy: dict[str, Any]) -> set[int]:
    return {port["port"] for rule in policy["spec"]["egress"] for port in rule.get("ports", [])}


def test_the_pods_may_send_spans_to_the_collector(overlay: Manifests) -> None:
    config = overlay.get("ConfigMap", WORKER)["data"]
    endpoint = config.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    for name in (WORKER, "invoicer-api"):
        policy = overlay.get("NetworkPolicy", name)
        assert {4317, 4318} <= _egress_ports(policy), name
        if endpoint is not None:
            assert urlsplit(endpoint).port in _egress_ports(policy), name
        [collector] = [
            rule
            for rule in policy["spec"]["egress"]
            if {4317, 4318} & _egress_ports({"spec": {"egress": [rule]}})
        ]
        assert collector["to"], "only to the collector"


def test_the_runbook_links_are_absolute_and_under_the_overlays_base(overlay: Manifests) -> None:
    [runbooks] = load_yaml_documents(OVERLAYS / overlay.overlay / "runbooks.yaml")
    base = runbooks["data"]["url"]
    rules = overlay.get("PrometheusRule", WORKER)["spec"]["groups"][0]["rules"]
    for rule in rules:
        url = urlsplit(rule["annotations"]["runbook_url"])
        assert url.scheme == "https" and url.netloc, rule["alert"]
        assert url._replace(fragment="").geturl() == base
        assert url.fragment == rule["alert"].lower()


def test_the_runbook_base_is_set_by_each_overlay() -> None:
    [rule] = load_yaml_documents(BASE / "prometheusrule.yaml")
    placeholder = rule["spec"]["groups"][0]["rules"][0]["annotations"]["runbook_url"]
    bases = {
        name: load_yaml_documents(OVERLAYS / name / "runbooks.yaml")[0]["data"]["url"]
        for name in OVERLAY_NAMES
    }
    assert placeholder.partition("#")[0] not in bases.values()
    assert len(set(bases.values())) == len(bases), "each overlay its own release's docs"


# Prometheus and Grafana


def test_the_prometheus_rule_holds_the_alert_rules_file() -> None:
    [rule] = load_yaml_documents(BASE / "prometheusrule.yaml")
    assert rule["spec"] == yaml.safe_load(ALERT_RULES.read_text())


def test_every_alert_parses_and_says_what_it_means_and_where_to_read_more() -> None:
    readme = (ROOT / "docs" / "operations.md").read_text()
    headings = set(re.findall(r"^#+ (\S+)$", readme, re.MULTILINE))
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} >= {
        "InvoicerConsumerLagGrowing",
        "InvoicerNoProgress",
        "InvoicerDeadLetters",
        "InvoicerOutboxStuck",
        "InvoicerNotReady",
    }
    for rule in rules:
        assert metric_names(rule["expr"]), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert {"summary", "description"} <= rule["annotations"].keys()
        assert rule["alert"] in headings, (
            f"docs/operations.md says what to do about {rule['alert']}"
        )


def test_a_query_that_does_not_parse_is_found() -> None:
    with pytest.raises(ValueError):
        metric_names("sum(rate(invoicer_records_total[5m])")


def test_the_dashboard_queries_parse_and_use_its_data_source_variable() -> None:
    board = dashboard()
    assert board["uid"]
    assert board["title"]
    queries = dashboard_queries()
    assert len(queries) > 10
    for query in queries:
        assert metric_names(query), query
    panels = list(dashboard_panels())
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert all(target["datasource"] == panel["datasource"] for target in panel["targets"])


# Compose


def test_the_compose_file_follows_the_compose_specification() -> None:
    compose_validator().validate(compose())


def test_the_compose_specification_refuses_a_wrong_compose_file() -> None:
    spoilt = compose()
    spoilt["services"]["worker"]["depends_on"]["migrate"]["condition"] = "service_finished"
    assert not compose_validator().is_valid(spoilt)


def test_compose_wires_the_worker_to_prometheus_and_grafana() -> None:
    services = compose()["services"]
    worker = services["worker"]
    port = compose()["x-invoicer"]["environment"]["INVOICER_HTTP_PORT"]
    assert f"127.0.0.1:{port}:{port}" in worker["ports"]
    assert worker["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert services["migrate"]["command"] == ["migrate"]
    scrape_config = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
    [job] = scrape_config["scrape_configs"]
    assert job["static_configs"] == [{"targets": [f"worker:{port}"]}]
    assert job["metrics_path"] == METRICS_PATH
    mounts = dict(volume.rsplit(":", 2)[:2] for volume in services["prometheus"]["volumes"])
    assert mounts["./prometheus/alerts.yaml"] in scrape_config["rule_files"]
    grafana = dict(volume.rsplit(":", 2)[:2] for volume in services["grafana"]["volumes"])
    assert "./grafana" in grafana
    assert all((DEPLOY / source).exists() for source in (*mounts, *grafana))


def test_compose_creates_every_topic_the_worker_uses() -> None:
    [script] = compose()["services"]["topics"]["command"]
    created = set(re.findall(r"[a-z-]+\.[a-z.-]+", script.split("; do")[0]))
    compacted = set(re.findall(r"--topic (\S+) .*--config cleanup\.policy=compact", script))
    assert created | compacted == set(Topics().model_dump().values())
    assert compacted == {Topics().sellers}, "a seller's last event is kept"


# The image


def test_the_image_is_multi_stage_and_runs_invoicer() -> None:
    dockerfile = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)$", dockerfile, re.MULTILINE)
    assert stages == ["build", "runtime"]
    runtime = dockerfile.split("AS runtime", 1)[1]
    assert "COPY --from=build /opt/invoicer /opt/invoicer" in runtime
    assert 'ENTRYPOINT ["invoicer"]' in runtime
    assert 'CMD ["run"]' in runtime
    assert f"EXPOSE {Settings().http_port}" in runtime
    assert "org.opencontainers.image.title" in runtime
    assert LIVENESS_PATH in healthcheck_command()[-1]
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    allowed = [line for line in ignored[ignored.index("*") + 1 :] if line.startswith("!")]
    assert allowed == [
        "!pyproject.toml",
        "!README.md",
        "!LICENSE",
        "!requirements.lock",
        "!requirements-build.lock",
        "!worker/",
    ]
    for name in allowed:
        assert f" {name.removeprefix('!').rstrip('/')} " in dockerfile or name == "!worker/"


def test_the_package_the_image_installs_holds_the_migrations_and_the_command(
    tmp_path: Path,
) -> None:
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"),
            *("--no-build-isolation", "--wheel-dir", str(tmp_path), str(ROOT)),
        ],
        check=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("invoicer-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "invoicer = worker.cli:main" in archive.read(entry_points).decode()
    migrations = {p.name for p in (ROOT / "worker" / "store" / "migrations").glob("*.sql")}
    assert migrations
    assert {f"worker/store/migrations/{name}" for name in migrations} <= names
    assert not [name for name in names if name.startswith("tests/")]


def _probed_ports(probe: dict[str, Any], container: dict[str, Any]) -> set[int]:
    """The container ports a probe asks (an exec probe: those its command names)."""
    by_name = {port["name"]: port["containerPort"] for port in container["ports"]}
    if "httpGet" in probe:
        port = probe["httpGet"]["port"]
        return {by_name.get(port, port)}
    named = {int(number) for number in re.findall(r"\d+", " ".join(probe["exec"]["command"]))}
    return named & set(by_name.values())


def test_every_worker_process_is_probed_for_liveness(overlay: Manifests) -> None:
    """A container has one liveness probe: with several processes it must ask each, or a
    stalled one answers 503 on its own port and is never restarted."""
    worker = overlay.container("Deployment", WORKER)
    first = int(overlay.get("ConfigMap", WORKER)["data"]["INVOICER_HTTP_PORT"])
    ports = {first + index for index in range(processes(worker))}

    assert ports <= _probed_ports(worker["livenessProbe"], worker)


class _Process(http.server.HTTPServer):
    """A worker process's /healthz: alive, or stalled (503)."""

    def __init__(self, alive: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Health)
        self.alive = alive


class _Health(http.server.BaseHTTPRequestHandler):
    server: _Process

    def do_GET(self) -> None:
        self.send_response(200 if self.path == LIVENESS_PATH and self.server.alive else 503)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.mark.parametrize("stalled", [None, 0, 1])
def test_a_liveness_command_fails_when_any_process_is_stalled(stalled: int | None) -> None:
    """The command an overlay's liveness probe runs, against two processes' /healthz (on
    free ports here): it succeeds only when every one answers."""
    commands = [
        container["livenessProbe"]["exec"]["command"]
        for name in OVERLAY_NAMES
        for container in [rendered(name).container("Deployment", WORKER)]
        if "exec" in container["livenessProbe"]
    ]
    assert commands
    servers = [_Process(alive=index != stalled) for index in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ports = str(tuple(server.server_port for server in servers))
    try:
        for program, flag, code in commands:
            assert (program, flag) == ("python", "-c")
            assert "(8080, 8081)" in code
            ran = subprocess.run(
                [sys.executable, flag, code.replace("(8080, 8081)", ports)],
                capture_output=True,
                timeout=30,
            )
            assert (ran.returncode == 0) == (stalled is None), ran.stderr
    finally:
        for server in servers:
            server.shutdown()
