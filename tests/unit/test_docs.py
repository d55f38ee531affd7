"""The documentation holds together: every relative link in README.md and docs/ points at a
file of the repository (and an anchor of it, where it names one), nothing points outside
the repository, and every alert's runbook is a section of docs/operations.md."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from worker.schemas import CONTRACT_DOCUMENT, with_generated_tables

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
ALERT_FILES = [
    ROOT / "deploy/prometheus/alerts.yaml",
    ROOT / "deploy/base/prometheusrule.yaml",
]


def anchors(document: Path) -> set[str]:
    """GitHub's anchors of the document's headings."""
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", document.read_text("utf-8"), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def links(document: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", document.read_text("utf-8"), flags=re.DOTALL)
    return [target for target in LINK.findall(text) if "://" not in target]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_relative_link_points_at_a_file_and_section_of_the_repository(
    document: Path,
) -> None:
    for target in links(document):
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        assert linked.is_relative_to(ROOT), f"{document.name}: {target} leaves the repository"
        assert linked.exists(), f"{document.name}: {target} does not exist"
        if anchor:
            assert anchor in anchors(linked), f"{document.name}: no section #{anchor}"


def test_no_document_or_docstring_points_outside_the_repository() -> None:
    texts = [*DOCUMENTS, *ROOT.glob("worker/**/*.py"), ROOT / "schemas/asyncapi.yaml"]
    for path in texts:
        assert "../shared" not in path.read_text("utf-8"), path


@pytest.mark.parametrize("rules", ALERT_FILES, ids=lambda p: p.name)
def test_every_alert_links_its_runbook_in_the_operations_guide(rules: Path) -> None:
    document = yaml.safe_load(rules.read_text("utf-8"))
    groups = document["spec"]["groups"] if "spec" in document else document["groups"]
    operations = ROOT / "docs/operations.md"
    for rule in (rule for group in groups for rule in group["rules"] if "alert" in rule):
        # Absolute: a link in an alert is followed from a pager or a chat, not the repository.
        url = urlsplit(rule["annotations"]["runbook_url"])
        assert url.scheme == "https" and url.netloc, rule["alert"]
        assert url.path.endswith("/docs/operations.md")
        assert url.fragment == rule["alert"].lower()
        assert url.fragment in anchors(operations)


def test_the_contracts_generated_table_is_current() -> None:
    document = CONTRACT_DOCUMENT.read_text("utf-8")

    assert with_generated_tables(document) == document
