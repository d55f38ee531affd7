"""The documentation holds together: every relative link in README.md and docs/ points at a
file of the repository (and an anchor of it, where it names one), so does every reference
in plain text to a section ("see Scale", `README, "Deploy"`, `operations.md#watch`), and
every reference to a document's section from the code, the tests, the Dockerfile and
deploy/ (`docs/operations.md, "Documents"`), so does every file of the repository they
name (`deploy/base/api.yaml`), nothing points outside the repository, every alert's runbook is a section of
docs/operations.md, and the generated tables are current.

After adding or changing a setting (its description is the field's docstring in
worker/settings.py) or a metric, regenerate docs/operations.md's tables:

    python -m worker.docs_tables
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from worker import docs_tables
from worker.schemas import CONTRACT_DOCUMENT, with_events_table

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
SOURCES = [
    ROOT / "Dockerfile",
    ROOT / "pyproject.toml",
    *(path for path in ROOT.glob("deploy/**/*") if path.is_file()),
    *(path for path in ROOT.glob("scripts/*") if path.is_file()),
    *ROOT.glob("worker/**/*.py"),
    *ROOT.glob("tests/**/*.py"),
    *ROOT.glob("bench/**/*.py"),
]
SELF_TESTED = [
    Path(__file__).resolve(),
    ROOT / "tests/repository/test_architecture.py",
    ROOT / "tests/repository/test_rooms.py",
]
SOURCES = [path for path in SOURCES if path.resolve() not in SELF_TESTED]
"""Files that refer to the documents' sections; not the migrations, whose text is
checksummed once applied, and not the checks of the repository, whose own tests name made-up
sections and files."""
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


def titles(document: Path) -> set[str]:
    """The headings' text (without code marks), each also without a trailing "(…)" or
    what follows a colon ("The door" for "The door: what is accepted can be finished")."""
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", document.read_text("utf-8"), re.MULTILINE):
        text = heading.replace("`", "").strip()
        found |= {text, text.split(" (")[0], text.split(":")[0]}
    return found


SECTION_REFERENCES = [
    # see "Scale", under "What changed": a section of the same document
    re.compile(r'\b(?:[Ss]ee|under) "(?P<title>[^"]+)"'),
    # see Scale: a one-word section of the same document
    re.compile(r"\b[Ss]ee (?P<title>[A-Z][A-Za-z]+)\b"),
    # README, "Deploy" or contract.md, "Bad input": a section of that document
    re.compile(r'(?P<file>README|[\w./-]+\.md),? "(?P<title>[^"]+)"'),
    # operations.md#watch outside a link
    re.compile(r"(?P<file>[\w./-]+\.md)#(?P<anchor>[\w-]+)"),
]


def section_references(
    document: Path, patterns: list[re.Pattern[str]] = SECTION_REFERENCES
) -> list[tuple[Path, str | None, str | None]]:
    """(the document referred to, a heading's title, an anchor) of every reference in plain
    text or code marks to a section; links are left to their own test."""
    text = re.sub(r"```.*?```", "", document.read_text("utf-8"), flags=re.DOTALL)
    text = re.sub(r"\S+://\S+", "", LINK.sub("", text))
    found = []
    for pattern in patterns:
        for reference in pattern.finditer(text):
            named = reference.groupdict()
            if named.get("title"):  # a title wrapped in a comment or docstring: one line
                named["title"] = " ".join(re.sub(r"\n\s*(#|--)?", " ", named["title"]).split())
            file = named.get("file")
            referred = document if file is None else referred_file(document, file)
            found.append((referred, named.get("title"), named.get("anchor")))
    return found


def referred_file(document: Path, name: str) -> Path:
    if name == "README":
        return ROOT / "README.md"
    candidates = [document.parent / name, ROOT / name, ROOT / "docs" / name]
    return next((path for path in candidates if path.exists()), candidates[0])


def stale(references: list[tuple[Path, str | None, str | None]]) -> list[str]:
    return [
        f"{referred.name}: {title or '#' + str(anchor)}"
        for referred, title, anchor in references
        if not referred.exists()
        or (title is not None and title not in titles(referred))
        or (anchor is not None and anchor not in anchors(referred))
    ]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_reference_to_a_section_in_plain_text_names_one_that_exists(
    document: Path,
) -> None:
    missing = stale(section_references(document))
    assert not missing, f"{document.name} refers to sections that do not exist: {missing}"


def test_every_reference_from_the_code_and_deploy_files_names_a_section_that_exists() -> None:
    """Only the references that name their document: "see Scale" in a comment has no
    section of its own file to point at. A URL's anchor is the alerts' test's."""
    named_documents = [pattern for pattern in SECTION_REFERENCES if "file" in pattern.groupindex]
    missing = {
        str(source.relative_to(ROOT)): found
        for source in SOURCES
        if (found := stale(section_references(source, named_documents)))
    }
    assert not missing, f"references to sections that do not exist: {missing}"


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


REPOSITORY_FILE = re.compile(
    r"(?<![\w/.:-])(?:deploy|docs|worker|tests|scripts|bench|schemas)/[\w./-]*\.\w+(?![\w{<*])"
)
"""A file of the repository named by its path (`deploy/base/api.yaml`): with an extension,
so neither a directory nor `kubectl exec deploy/invoicer`, and not a pattern."""


def test_every_file_the_documents_and_the_code_name_exists() -> None:
    missing = [
        f"{source.relative_to(ROOT)}: {path}"
        for source in [*DOCUMENTS, *SOURCES]
        for path in REPOSITORY_FILE.findall(source.read_text("utf-8"))
        if not (ROOT / path).exists()
    ]
    assert not missing, f"files that do not exist: {missing}"


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

    assert with_events_table(document) == document


def test_the_settings_and_metrics_tables_are_current() -> None:
    """An undocumented setting or metric fails here: regenerate with
    `python -m worker.docs_tables` (and describe the setting in its docstring)."""
    document = docs_tables.OPERATIONS_DOCUMENT.read_text("utf-8")

    assert docs_tables.with_generated_tables(document) == document
