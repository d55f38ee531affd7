"""The event schemas change only compatibly within a version of the contract: each committed
schema is checked against the baseline of its version (schemas/compat/v<N>/), and the check
itself is shown to find every kind of incompatible change, anywhere in any schema, and to
let compatible ones pass (tests/schema_compatibility.py)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.schema_compatibility import Schema, incompatibilities
from worker.messages.routing import CONTRACT_VERSION
from worker.schemas import ASYNCAPI_FILE, BASELINE_DIRECTORY, render_schemas
from worker.version import package_version

BASELINES = {path.name: json.loads(path.read_text()) for path in BASELINE_DIRECTORY.glob("*.json")}
CURRENT = {
    name: json.loads(text) for name, text in render_schemas().items() if name != ASYNCAPI_FILE
}
Location = tuple[str, tuple[str, ...], str]
"""(schema file, path to an object schema inside it, one of its properties)."""


def test_the_package_version_names_the_contract_version() -> None:
    """0.N.x releases implement vN of the contract (docs/contract.md, "Versions and compatibility")."""
    major, minor, _ = package_version().split(".", 2)
    assert (int(major), int(minor)) == (0, CONTRACT_VERSION)
    assert BASELINE_DIRECTORY.name == f"v{CONTRACT_VERSION}"


def test_every_event_type_of_the_baseline_is_still_described() -> None:
    assert BASELINES
    assert BASELINES.keys() <= CURRENT.keys()


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_every_event_schema_is_compatible_with_its_baseline(name: str) -> None:
    assert incompatibilities(BASELINES[name], CURRENT[name]) == []


def _objects(
    schema: Schema, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Schema]]:
    """Every object schema with properties inside `schema`, and where it is."""
    if isinstance(schema, dict):
        if isinstance(schema.get("properties"), dict):
            yield path, schema
        for word, value in schema.items():
            if word in {"properties", "$defs"}:
                for name, inner in value.items():
                    yield from _objects(inner, (*path, word, name))
            elif word in {"items", "additionalProperties"} and isinstance(value, dict):
                yield from _objects(value, (*path, word))
            elif word in {"anyOf", "oneOf"}:
                for index, inner in enumerate(value):
                    yield from _objects(inner, (*path, word, str(index)))


def _at(schema: Any, path: tuple[str, ...]) -> Any:
    for step in path:
        schema = schema[int(step)] if isinstance(schema, list) else schema[step]
    return schema


LOCATIONS: list[Location] = [
    (name, path, field)
    for name, schema in sorted(BASELINES.items())
    for path, found in _objects(schema)
    for field in sorted(found["properties"])
]
OPTIONAL = [
    (name, path, field)
    for name, path, field in LOCATIONS
    if field not in _at(BASELINES[name], path).get("required", [])
]


def _resolved(root: Schema, schema: Schema) -> Schema:
    while "$ref" in schema:
        schema = root["$defs"][schema["$ref"].removeprefix("#/$defs/")]
    return schema


def _strings(name: str, path: tuple[str, ...], field: str) -> bool:
    schema = _resolved(BASELINES[name], _at(BASELINES[name], path)["properties"][field])
    return schema.get("type") == "string" and "const" not in schema and "enum" not in schema


STRINGS = [location for location in LOCATIONS if _strings(*location)]
Mutation = Callable[[Schema, Schema, str], None]
"""Changes an object schema (with the whole schema at hand) about one of its fields."""


def _remove(_: Schema, parent: Schema, field: str) -> None:
    del parent["properties"][field]
    parent["required"] = [name for name in parent.get("required", []) if name != field]


def _retype(root: Schema, parent: Schema, field: str) -> None:
    accepted = json.dumps(_resolved(root, parent["properties"][field]))
    parent["properties"][field] = {"type": "array" if '"boolean"' in accepted else "boolean"}


def _require_a_new_field(_: Schema, parent: Schema, field: str) -> None:
    parent["properties"][f"{field}Too"] = {"type": "string"}
    parent["required"] = [*parent.get("required", []), f"{field}Too"]


INCOMPATIBLE: dict[str, Mutation] = {
    "remove the field": _remove,
    "retype the field": _retype,
    "require a new field": _require_a_new_field,
}


def _require(_: Schema, parent: Schema, field: str) -> None:
    parent["required"] = [*parent.get("required", []), field]


def _shorten(root: Schema, parent: Schema, field: str) -> None:
    schema = _resolved(root, parent["properties"][field])
    schema["maxLength"] = max(schema.get("maxLength", 2) - 1, 0)


def _restrict_the_pattern(root: Schema, parent: Schema, field: str) -> None:
    _resolved(root, parent["properties"][field])["pattern"] = "^[0-9]$"


def _add_an_optional_field(_: Schema, parent: Schema, field: str) -> None:
    parent["properties"][f"{field}Note"] = {"type": "string", "maxLength": 10}


def _reword(_: Schema, parent: Schema, field: str) -> None:
    parent["properties"][field]["description"] = f"What {field} says, said again."


def _lengthen(root: Schema, parent: Schema, field: str) -> None:
    schema = _resolved(root, parent["properties"][field])
    if "maxLength" in schema:
        schema["maxLength"] += 1


def _let_it_be_absent(_: Schema, parent: Schema, field: str) -> None:
    parent["required"] = [name for name in parent.get("required", []) if name != field]


COMPATIBLE: dict[str, Mutation] = {
    "add an optional field": _add_an_optional_field,
    "reword the description": _reword,
    "lengthen the field": _lengthen,
    "let the field be absent": _let_it_be_absent,
}


def _mutated(location: Location, mutation: Mutation) -> tuple[Schema, Schema]:
    name, path, field = location
    baseline = BASELINES[name]
    changed = copy.deepcopy(baseline)
    mutation(changed, _at(changed, path), field)
    return baseline, changed


@given(st.sampled_from(LOCATIONS), st.sampled_from(sorted(INCOMPATIBLE)))
def test_an_incompatible_change_of_any_field_is_found(location: Location, change: str) -> None:
    baseline, changed = _mutated(location, INCOMPATIBLE[change])

    assert incompatibilities(baseline, changed), (change, location)


@given(st.sampled_from(OPTIONAL))
def test_making_an_optional_field_required_is_found(location: Location) -> None:
    baseline, changed = _mutated(location, _require)

    assert any("now required" in problem for problem in incompatibilities(baseline, changed))


@given(st.sampled_from(STRINGS), st.sampled_from([_shorten, _restrict_the_pattern]))
def test_tightening_a_constraint_is_found(location: Location, tighten: Mutation) -> None:
    baseline, changed = _mutated(location, tighten)

    assert incompatibilities(baseline, changed), location


@given(st.sampled_from(LOCATIONS), st.sampled_from(sorted(COMPATIBLE)))
def test_a_compatible_change_passes(location: Location, change: str) -> None:
    baseline, changed = _mutated(location, COMPATIBLE[change])

    assert incompatibilities(baseline, changed) == [], (change, location)
