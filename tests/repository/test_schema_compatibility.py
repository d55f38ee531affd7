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


JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(-3, 3, allow_nan=False), st.text()
)


def _same_json(first: Any, second: Any) -> bool:
    """Equal as JSON values: true is not 1, 1 is 1.0."""
    return json.loads(json.dumps(first)) == json.loads(json.dumps(second)) and (
        isinstance(first, bool) == isinstance(second, bool)
    )


@given(JSON_SCALARS, JSON_SCALARS, st.sampled_from(["enum", "const"]))
def test_a_value_replaced_by_another_json_value_is_found(
    before: Any, after: Any, word: str
) -> None:
    """Python's 1 == True == 1.0 must not hide that `true` is no longer accepted where `1`
    was."""
    if _same_json(before, after):
        return
    baseline = {word: [before] if word == "enum" else before}
    current = {word: [after] if word == "enum" else after}

    assert incompatibilities(baseline, current), (before, after)


JSON_TYPES = ["string", "number", "integer", "boolean", "null", "object", "array"]


@given(st.lists(st.sampled_from(JSON_TYPES), min_size=2, max_size=4, unique=True), st.booleans())
def test_a_list_of_types_and_the_alternatives_of_each_are_the_same_schema(
    types: list[str], list_first: bool
) -> None:
    as_list: Schema = {"type": types}
    as_alternatives: Schema = {"anyOf": [{"type": name} for name in types]}
    baseline, current = (as_list, as_alternatives) if list_first else (as_alternatives, as_list)

    assert incompatibilities(baseline, current) == []


@given(
    st.sampled_from(LOCATIONS),
    st.sampled_from(sorted(INCOMPATIBLE)),
    st.sampled_from(["allOf", "not"]),
)
def test_a_change_of_a_definition_reached_through_any_other_word_is_found(
    location: Location, change: str, word: str
) -> None:
    """A definition referenced only under a word the comparison does not read (allOf, not):
    the word's text is the same, the definition it names is not."""
    name, path, field = location
    baseline = copy.deepcopy(BASELINES[name])
    parent = _at(baseline, path)
    inner = {"type": "object", "properties": {field: parent["properties"][field]}}
    baseline.setdefault("$defs", {})["Wrapped"] = inner
    baseline[word] = {"$ref": "#/$defs/Wrapped"} if word == "not" else [{"$ref": "#/$defs/Wrapped"}]
    changed = copy.deepcopy(baseline)
    INCOMPATIBLE[change](changed, changed["$defs"]["Wrapped"], field)

    assert incompatibilities(baseline, changed), (change, location, word)


def _enums(schema: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Where an enum of more than one value is, anywhere inside `schema`."""
    if isinstance(schema, dict):
        if len(schema.get("enum", [])) > 1:
            yield path
        for word, value in schema.items():
            yield from _enums(value, (*path, word))
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from _enums(value, (*path, str(index)))


ENUMS = [(name, path) for name, schema in sorted(BASELINES.items()) for path in _enums(schema)]
OBJECTS = [
    (name, path)
    for name, schema in sorted(BASELINES.items())
    for path, found in _objects(schema)
    if found.get("additionalProperties", True) is not False
]


@given(st.sampled_from(ENUMS), st.data())
def test_removing_a_value_of_any_enum_is_found(
    location: tuple[str, tuple[str, ...]], data: st.DataObject
) -> None:
    name, path = location
    changed = copy.deepcopy(BASELINES[name])
    values = _at(changed, path)["enum"]
    values.remove(data.draw(st.sampled_from(values)))

    assert any(
        "no longer accepts" in problem for problem in incompatibilities(BASELINES[name], changed)
    )


@given(st.sampled_from(OBJECTS), st.sampled_from([False, {"type": "string"}]))
def test_refusing_other_fields_in_any_object_is_found(
    location: tuple[str, tuple[str, ...]], refused: Any
) -> None:
    name, path = location
    changed = copy.deepcopy(BASELINES[name])
    _at(changed, path)["additionalProperties"] = refused

    assert incompatibilities(BASELINES[name], changed), location
