"""deploy/ and the Dockerfile, checked as far as a machine without Docker or a cluster
allows: core Kubernetes manifests against the Kubernetes schemas (kubernetes-validate), the
custom resources against the small schemas in deploy/schemas, the compose file against the
Compose Specification (its JSON schema as check-jsonschema ships it), PromQL parsed, and
everything wired to what the worker really does (ports, paths, settings, shutdown).

The metrics the rules and the dashboard name are checked against a running worker's
/metrics in tests/integration/test_operations_metrics.py; the Dockerfile is linted by
hadolint in scripts/test.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy_files import (
    ALERT_RULES,
    COMPOSE_FILE,
    DEPLOY,
    DOCKERFILE,
    KUBERNETES,
    ROOT,
    alert_rules,
    dashboard,
    dashboard_panels,
    dashboard_queries,
    healthcheck_command,
    load_yaml_documents,
    metric_names,
)
from worker.app import SHUTDOWN_TIMEOUT_SECONDS
from worker.http import LIVENESS_PATH, METRICS_PATH, READINESS_PATH
from worker.settings import Settings, Topics

# The oldest Kubernetes release still widely run, and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.utils.latest_version())
CUSTOM_RESOURCE_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule.json",
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject.json",
}
# What the worker needs after SHUTDOWN_TIMEOUT_SECONDS for the outbox: the batch in hand,
# leaving the group, the producer's flush.
SHUTDOWN_MARGIN_SECONDS = 15


def manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object in deploy/kubernetes, by kind."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in load_yaml_documents(path):
            found[document["kind"]] = document
    return found


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
    """Every INVOICER_* variable the worker reads."""
    names = {f"INVOICER_{field.upper()}" for field in Settings.model_fields if field != "topics"}
    return names | {f"INVOICER_TOPIC_{field.upper()}" for field in Topics.model_fields}


def container(kind: str) -> dict[str, Any]:
    spec = manifests()[kind]["spec"]["template"]["spec"]
    [only] = spec["containers"]
    assert isinstance(only, dict)
    return only


# Kubernetes


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_manifests_are_valid_kubernetes_objects(version: str) -> None:
    core = [
        document
        for document in manifests().values()
        if (document["apiVersion"], document["kind"]) not in CUSTOM_RESOURCE_SCHEMAS
    ]
    assert {document["kind"] for document in core} == {
        "ConfigMap",
        "Secret",
        "Deployment",
        "Job",
        "Service",
        "NetworkPolicy",
        "PodDisruptionBudget",
    }
    for document in core:
        kubernetes_validate.validate(document, version, strict=True)


def test_a_misspelt_field_is_not_a_valid_kubernetes_object() -> None:
    deployment = copy.deepcopy(manifests()["Deployment"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="livenesProbe"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_custom_resources_match_their_schemas() -> None:
    custom = [
        document
        for document in manifests().values()
        if (document["apiVersion"], document["kind"]) in CUSTOM_RESOURCE_SCHEMAS
    ]
    assert len(custom) == len(CUSTOM_RESOURCE_SCHEMAS)
    for document in custom:
        custom_resource_validator(document).validate(document)


@pytest.mark.parametrize(
    ("kind", "spoil"),
    [
        ("ScaledObject", lambda spec: spec["triggers"][0]["metadata"].update(lagThreshold=1000)),
        ("ScaledObject", lambda spec: spec["triggers"][0]["metadata"].pop("consumerGroup")),
        ("ScaledObject", lambda spec: spec.update(maxReplicas=12)),
        ("ServiceMonitor", lambda spec: spec["endpoints"][0].update(interval="30 seconds")),
        ("ServiceMonitor", lambda spec: spec["endpoints"][0].update(targetport=8080)),
        ("PrometheusRule", lambda spec: spec["groups"][0]["rules"][0].pop("expr")),
    ],
)
def test_the_custom_resource_schemas_refuse_what_the_operators_would(kind: str, spoil: Any) -> None:
    document = copy.deepcopy(manifests()[kind])
    spoil(document["spec"])
    assert not custom_resource_validator(document).is_valid(document)


def test_kustomization_applies_every_manifest_but_the_secret_and_the_migration_job() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    files = {path.name for path in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == files - {"secret.example.yaml", "migration-job.yaml"}
    [image] = kustomization["images"]
    for kind in ("Deployment", "Job"):
        name, _, tag = container(kind)["image"].partition(":")
        assert (name, tag) == (image["name"], image["newTag"]), f"{kind} runs the same release"


def test_the_configuration_names_only_settings_the_worker_reads() -> None:
    config = manifests()["ConfigMap"]["data"]
    assert set(config) <= configured_variables()
    assert set(compose()["x-invoicer"]["environment"]) <= configured_variables()
    for kind in ("Deployment", "Job"):
        variables = {variable["name"] for variable in container(kind).get("env", [])}
        assert variables == {"INVOICER_DATABASE_URL"}, "from the Secret"
        [secret] = [v["valueFrom"]["secretKeyRef"] for v in container(kind)["env"]]
        assert secret == {
            "name": manifests()["Secret"]["metadata"]["name"],
            "key": next(iter(manifests()["Secret"]["stringData"])),
        }
    assert "INVOICER_DATABASE_URL" not in config, "a password belongs in the Secret"


def test_the_deployment_probes_the_worker_where_it_answers() -> None:
    worker = container("Deployment")
    config = manifests()["ConfigMap"]["data"]
    [port] = worker["ports"]
    assert port["containerPort"] == int(config["INVOICER_HTTP_PORT"])
    assert worker["livenessProbe"]["httpGet"] == {"path": LIVENESS_PATH, "port": port["name"]}
    assert worker["readinessProbe"]["httpGet"] == {"path": READINESS_PATH, "port": port["name"]}
    assert worker["args"] == ["run"]
    assert container("Job")["args"] == ["migrate"]
    assert worker["envFrom"] == [
        {"configMapRef": {"name": manifests()["ConfigMap"]["metadata"]["name"]}}
    ]


def test_termination_gives_the_worker_time_to_finish_its_batch_and_flush_the_outbox() -> None:
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    needed = SHUTDOWN_TIMEOUT_SECONDS + SHUTDOWN_MARGIN_SECONDS
    assert pod["terminationGracePeriodSeconds"] >= needed
    grace = compose()["services"]["worker"]["stop_grace_period"]
    assert int(grace.removesuffix("s")) >= needed
    assert "STOPSIGNAL SIGTERM" in DOCKERFILE.read_text()


def test_the_worker_runs_unprivileged_on_a_read_only_root() -> None:
    uid = re.search(r"^USER (\d+):(\d+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert uid is not None
    for kind in ("Deployment", "Job"):
        pod = manifests()[kind]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == int(uid.group(1))
        assert pod["automountServiceAccountToken"] is False
        security = container(kind)["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert container(kind)["resources"]["limits"]["memory"]


def test_metrics_are_scraped_from_every_worker_pod() -> None:
    objects = manifests()
    pod_labels = objects["Deployment"]["spec"]["template"]["metadata"]["labels"]
    service = objects["Service"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["publishNotReadyAddresses"] is True, "not-ready pods are scraped"
    [port] = service["spec"]["ports"]
    assert port["targetPort"] == container("Deployment")["ports"][0]["name"]
    monitor = objects["ServiceMonitor"]["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    [endpoint] = monitor["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == (port["name"], METRICS_PATH)
    budget = objects["PodDisruptionBudget"]["spec"]
    assert budget["selector"]["matchLabels"].items() <= pod_labels.items()
    assert objects["Deployment"]["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_keda_scales_on_the_workers_group_and_topics_within_the_partitions() -> None:
    objects = manifests()
    config = objects["ConfigMap"]["data"]
    scaled = objects["ScaledObject"]["spec"]
    assert scaled["scaleTargetRef"]["name"] == objects["Deployment"]["metadata"]["name"]
    assert "replicas" not in objects["Deployment"]["spec"], "KEDA owns the replica count"
    triggers = {trigger["metadata"]["topic"]: trigger["metadata"] for trigger in scaled["triggers"]}
    assert set(triggers) == {
        config["INVOICER_TOPIC_ORDERS_COMPLETED"],
        config["INVOICER_TOPIC_INVOICE_COMMANDS"],
    }
    for metadata in triggers.values():
        assert metadata["consumerGroup"] == config["INVOICER_GROUP_ID"]
        assert metadata["bootstrapServers"] == config["INVOICER_KAFKA_BOOTSTRAP_SERVERS"]
        assert metadata["allowIdleConsumers"] == "false", "no replica beyond the partitions"
        assert metadata["offsetResetPolicy"] == "earliest", "as the worker's consumer"
    budget = objects["PodDisruptionBudget"]["spec"]
    assert scaled["maxReplicaCount"] >= scaled["minReplicaCount"] > budget["maxUnavailable"]
    stated = re.search(r"\((\d+) here", (KUBERNETES / "scaledobject.yaml").read_text())
    assert stated is not None
    assert int(stated.group(1)) == scaled["maxReplicaCount"]


# Prometheus and Grafana


def test_the_prometheus_rule_holds_the_alert_rules_file() -> None:
    assert manifests()["PrometheusRule"]["spec"] == yaml.safe_load(ALERT_RULES.read_text())


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
    assert created == set(Topics().model_dump().values())


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
