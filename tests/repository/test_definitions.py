"""Document kinds and languages are defined once (worker/messages/outgoing.py's
`DocumentKind`, worker/documents/labels.py's `DocumentLanguage`): the database, the media
types and the labels follow that one definition; the domain's rules and the labels know
every tax category an order may state."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from worker.documents.labels import LABELS, DocumentLanguage
from worker.documents.render import MEDIA_TYPES
from worker.domain.tax_categories import BUYER_VAT_CATEGORIES, EXEMPT_CATEGORIES
from worker.messages.orders import TaxCategory
from worker.messages.outgoing import DOCUMENT_KINDS

MIGRATIONS = Path(__file__).resolve().parents[2] / "worker" / "store" / "migrations"
_KIND_CHECK = re.compile(r"CHECK \(kind IN \(([^)]*)\)\)")


def checked_kinds(sql: str) -> list[set[str]]:
    """The kinds each `CHECK (kind IN (...))` of a migration allows."""
    return [set(re.findall(r"'([^']*)'", found)) for found in _KIND_CHECK.findall(sql)]


def test_the_database_stores_the_document_kinds_of_the_contract() -> None:
    """The kinds the last migration that checks them lets in: a new kind comes with a new
    migration (docs/architecture.md, "A new document format")."""
    checks = [checked_kinds(path.read_text()) for path in sorted(MIGRATIONS.glob("*.sql"))]
    last = [kinds for kinds in checks if kinds][-1]
    assert last == [set(DOCUMENT_KINDS)] * len(last), last


def test_a_check_of_other_kinds_is_found() -> None:
    sql = "kind text CHECK (kind IN ('pdf', 'ubl')),\nkind text CHECK (kind IN ('pdf'))"
    assert checked_kinds(sql) == [{"pdf", "ubl"}, {"pdf"}]


def test_every_document_kind_has_its_media_type() -> None:
    assert tuple(MEDIA_TYPES) == DOCUMENT_KINDS


def test_every_document_language_has_its_labels() -> None:
    assert tuple(LABELS) == get_args(DocumentLanguage)
    assert all(labels.keys() == LABELS["en"].keys() for labels in LABELS.values())


def test_every_tax_category_has_its_rules_and_its_name_in_every_language() -> None:
    categories = set(get_args(TaxCategory))
    assert categories >= EXEMPT_CATEGORIES | BUYER_VAT_CATEGORIES
    assert all(categories <= labels.keys() for labels in LABELS.values())
