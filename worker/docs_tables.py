"""docs/operations.md's tables of every setting and every metric, generated from the code:
`python -m worker.docs_tables` rewrites them between their markers, and a test fails while
the document differs from what the code gives (tests/repository/test_docs.py).

A setting's row is its environment variable, its field, its default and its description
(the field's docstring in worker/settings.py); a metric's row is its name, type, labels and
help text, for every `invoicer_` metric the worker and the read API register.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase
from pydantic import AliasChoices, BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from worker.settings import Settings

OPERATIONS_DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "operations.md"
COMMAND = "python -m worker.docs_tables"
METRIC_PREFIX = "invoicer_"


class Undescribed(Exception):
    """A setting without a description: the table would not say what it does."""


def settings_table(model: type[BaseSettings] = Settings) -> str:
    rows = ["| variable | field | default | meaning |", "|---|---|---|---|"]
    for variable, field, info in _settings(model, model.model_config.get("env_prefix", "")):
        if not info.description:
            raise Undescribed(
                f"{variable} ({field}) has no description: write one as the field's docstring"
                " in worker/settings.py"
            )
        rows.append(f"| `{variable}` | `{field}` | {_default(info)} | {_cell(info.description)} |")
    return "\n".join(rows) + "\n"


def _settings(
    model: type[BaseModel], prefix: str, path: str = ""
) -> Iterator[tuple[str, str, FieldInfo]]:
    """(environment variable, field, its FieldInfo) of every setting; the fields of a group
    of settings (the topics, the seller) under the group's own prefix."""
    for name, info in model.model_fields.items():
        group = info.annotation
        if isinstance(group, type) and issubclass(group, BaseSettings):
            yield from _settings(group, group.model_config.get("env_prefix", ""), f"{name}.")
        else:
            yield _variable(prefix, name, info), f"{path}{name}", info


def _variable(prefix: str, name: str, info: FieldInfo) -> str:
    """The environment variable pydantic-settings reads: the field's alias as it is (the
    first, of several), else the prefix and the field's name."""
    alias = info.validation_alias if info.validation_alias is not None else info.alias
    if isinstance(alias, AliasChoices):
        alias = next((choice for choice in alias.choices if isinstance(choice, str)), None)
    return alias.upper() if isinstance(alias, str) else f"{prefix}{name.upper()}"


def _default(info: FieldInfo) -> str:
    value = info.get_default(call_default_factory=True)
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None or value == "" or value == ():
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    if isinstance(value, tuple):
        return f"`{','.join(map(str, value))}`"
    return f"`{value}`"


def metrics_table() -> str:
    # What each process exports: the worker (worker.running) and the read API register theirs
    # on import.
    import worker.api.server
    import worker.running  # noqa: F401

    rows = []
    # The registry has no public list of its collectors; this is its own. Sorted by name:
    # the order of registration depends on the order of imports.
    for collector in list(REGISTRY._collector_to_names):
        labels = collector._labelnames if isinstance(collector, MetricWrapperBase) else ()
        for metric in collector.describe() if hasattr(collector, "describe") else ():
            if not metric.name.startswith(METRIC_PREFIX):
                continue
            name = f"{metric.name}_total" if metric.type == "counter" else metric.name
            rows.append(
                f"| `{name}` | {metric.type} | {', '.join(f'`{label}`' for label in labels)}"
                f" | {_cell(metric.documentation)} |"
            )
    header = ["| metric | type | labels | what it says |", "|---|---|---|---|"]
    return "\n".join([*header, *sorted(rows)]) + "\n"


def _cell(text: str) -> str:
    """Text as one table cell: on one line, with no `|` to end it early."""
    return " ".join(text.split()).replace("|", "\\|")


TABLES = {"settings": settings_table, "metrics": metrics_table}


def markers(table: str) -> tuple[str, str]:
    return f"<!-- generated: {table} ({COMMAND}) -->", f"<!-- end: {table} -->"


def with_table(document: str, markers: tuple[str, str], table: str) -> str:
    """The document with `table` in place of what is between the markers."""
    start, end = markers
    before, rest = document.split(start, 1)
    _, after = rest.split(end, 1)
    return f"{before}{start}\n{table}{end}{after}"


def with_generated_tables(document: str) -> str:
    """docs/operations.md with each of its generated tables brought up to date."""
    for table, generate in TABLES.items():
        document = with_table(document, markers(table), generate())
    return document


if __name__ == "__main__":
    OPERATIONS_DOCUMENT.write_text(
        with_generated_tables(OPERATIONS_DOCUMENT.read_text("utf-8")), encoding="utf-8"
    )
    print(OPERATIONS_DOCUMENT)
