"""Whether an event's JSON Schema (as worker/schemas.py generates them) is still compatible
with the baseline its contract version was released with (schemas/compat/v<N>/): every
event the baseline accepts is accepted, and everything it describes is still there with
the same meaning. Adding an optional field, loosening a constraint and rewording a
description are compatible; removing or retyping a field, tightening a constraint and
making a field required (or adding a required one) are not.

Conservative where it cannot tell: a changed pattern or format counts as a tightening, and
a word it does not read (allOf, not, ...) must stay as it was, the definitions it names
included. Values are compared as JSON values (true is not 1).
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

# Words about a schema that accept or refuse nothing.
ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$defs",
        "$comment",
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
LOWER_BOUNDS = frozenset({"minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties"})
UPPER_BOUNDS = frozenset({"maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties"})
SAME_OR_ABSENT = frozenset({"pattern", "format", "multipleOf", "contentMediaType", "uniqueItems"})
HANDLED = (
    ANNOTATIONS
    | LOWER_BOUNDS
    | UPPER_BOUNDS
    | SAME_OR_ABSENT
    | {"$ref", "anyOf", "oneOf", "type", "const", "enum", "properties", "required"}
    | {"additionalProperties", "items"}
)


def incompatibilities(baseline: Schema, current: Schema) -> list[str]:
    """What in `current` breaks a producer or consumer that follows `baseline`; empty when
    nothing does."""
    return _Comparison(baseline, current).compare(baseline, current, "", frozenset())


class _Comparison:
    def __init__(self, baseline_root: Schema, current_root: Schema) -> None:
        self.roots = (baseline_root, current_root)

    def compare(
        self, baseline: Schema, current: Schema, path: str, seen: frozenset[tuple[str, str]]
    ) -> list[str]:
        references = (baseline.get("$ref", ""), current.get("$ref", ""))
        if references != ("", "") and references in seen:
            return []  # a recursive definition, already being compared
        seen = seen | {references}
        baseline = _resolved(self.roots[0], baseline)
        current = _resolved(self.roots[1], current)
        if _has_alternatives(baseline) or _has_alternatives(current):
            return self._compare_branches(baseline, current, path, seen)
        problems: list[str] = []
        problems += _compare_types(baseline, current, path)
        problems += _compare_values(baseline, current, path)
        problems += _compare_bounds(baseline, current, path)
        problems += self._compare_objects(baseline, current, path, seen)
        if "items" in baseline or "items" in current:
            problems += self.compare(
                baseline.get("items", {}), current.get("items", {}), f"{path}[]", seen
            )
        for word in sorted((baseline.keys() | current.keys()) - HANDLED):
            # Unread, so compared as written, with the definitions it names written out.
            if _expanded(self.roots[0], baseline.get(word)) != _expanded(
                self.roots[1], current.get(word)
            ):
                problems.append(f"{path or '/'}: {word} changed")
        return problems

    def _compare_branches(
        self, baseline: Schema, current: Schema, path: str, seen: frozenset[tuple[str, str]]
    ) -> list[str]:
        """Every alternative the baseline accepts is accepted by one of the current's."""
        problems: list[str] = []
        for branch in _branches(baseline):
            # A definition is compared with itself (the alternatives of a tagged union).
            same = [
                other
                for other in _branches(current)
                if "$ref" in branch and other.get("$ref") == branch["$ref"]
            ]
            candidates = same or _branches(current)
            attempts = [self.compare(branch, other, path, seen) for other in candidates]
            if all(attempts):
                problems.extend(min(attempts, key=len))
        return problems

    def _compare_objects(
        self, baseline: Schema, current: Schema, path: str, seen: frozenset[tuple[str, str]]
    ) -> list[str]:
        problems: list[str] = []
        before, after = baseline.get("properties", {}), current.get("properties", {})
        for name, schema in before.items():
            if name not in after:
                problems.append(f"{path}/{name}: removed")
            else:
                problems += self.compare(schema, after[name], f"{path}/{name}", seen)
        for name in sorted(set(current.get("required", [])) - set(baseline.get("required", []))):
            problems.append(f"{path}/{name}: now required")
        closed_before = baseline.get("additionalProperties", True)
        closed_after = current.get("additionalProperties", True)
        if closed_after is False and closed_before is not False:
            problems.append(f"{path or '/'}: other fields now refused")
        elif isinstance(closed_after, dict):
            before_schema = closed_before if isinstance(closed_before, dict) else {}
            if closed_before is not False:
                problems += self.compare(before_schema, closed_after, f"{path}/*", seen)
        return problems


def _resolved(root: Schema, schema: Schema) -> Schema:
    """The schema a local `$ref` (#/$defs/Name) points at, with the words beside it."""
    while "$ref" in schema:
        reference = schema["$ref"]
        assert reference.startswith("#/$defs/"), reference
        beside = {word: value for word, value in schema.items() if word != "$ref"}
        schema = {**root["$defs"][reference.removeprefix("#/$defs/")], **beside}
    return schema


def _expanded(root: Schema, value: Any, expanding: frozenset[str] = frozenset()) -> Any:
    """`value` with every local `$ref` replaced by its definition (a recursive one is left
    as a reference where it recurs)."""
    if isinstance(value, list):
        return [_expanded(root, item, expanding) for item in value]
    if not isinstance(value, dict):
        return value
    reference = value.get("$ref")
    if isinstance(reference, str) and reference not in expanding:
        definition = root.get("$defs", {}).get(reference.removeprefix("#/$defs/"), value)
        beside = {word: inner for word, inner in value.items() if word != "$ref"}
        return _expanded(root, {**definition, **beside}, expanding | {reference})
    return {word: _expanded(root, inner, expanding) for word, inner in value.items()}


def _has_alternatives(schema: Schema) -> bool:
    """Whether it accepts one of several alternatives: anyOf, oneOf, or a list of types."""
    declared = schema.get("type")
    several_types = isinstance(declared, list) and len(declared) > 1
    return several_types or bool({"anyOf", "oneOf"} & schema.keys())


def _branches(schema: Schema) -> list[Schema]:
    for word in ("anyOf", "oneOf"):
        if word in schema:
            beside = {key: value for key, value in schema.items() if key != word}
            return [{**beside, **branch} for branch in schema[word]]
    declared = schema.get("type")
    if isinstance(declared, list) and len(declared) > 1:
        return [{**schema, "type": name} for name in declared]
    return [schema]


def _types(schema: Schema) -> set[str] | None:
    """The JSON types a schema accepts; None for any."""
    declared = schema.get("type")
    if declared is None:
        return None
    types = {declared} if isinstance(declared, str) else set(declared)
    return types | {"integer"} if "number" in types else types


def _compare_types(baseline: Schema, current: Schema, path: str) -> list[str]:
    before, after = _types(baseline), _types(current)
    if after is None or (before is not None and before <= after):
        return []
    return [f"{path or '/'}: type {sorted(before or ['any'])} became {sorted(after)}"]


def _accepted_values(schema: Schema) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    return None


def _compare_values(baseline: Schema, current: Schema, path: str) -> list[str]:
    before, after = _accepted_values(baseline), _accepted_values(current)
    if after is None:
        return []
    if before is None:
        return [f"{path or '/'}: now limited to {after}"]
    lost = [value for value in before if not any(_same_json(value, other) for other in after)]
    return [f"{path or '/'}: no longer accepts {lost}"] if lost else []


def _same_json(first: Any, second: Any) -> bool:
    """Equal as JSON values, which Python's == is not: true is not 1 (but 1 is 1.0)."""
    if isinstance(first, bool) or isinstance(second, bool):
        return type(first) is type(second) and first == second
    if isinstance(first, list) and isinstance(second, list):
        return len(first) == len(second) and all(map(_same_json, first, second))
    if isinstance(first, dict) and isinstance(second, dict):
        return first.keys() == second.keys() and all(
            _same_json(first[key], second[key]) for key in first
        )
    return bool(first == second)


def _compare_bounds(baseline: Schema, current: Schema, path: str) -> list[str]:
    problems = []
    for word in sorted(LOWER_BOUNDS & current.keys()):
        if word not in baseline or current[word] > baseline[word]:
            problems.append(f"{path or '/'}: {word} raised to {current[word]}")
    for word in sorted(UPPER_BOUNDS & current.keys()):
        if word not in baseline or current[word] < baseline[word]:
            problems.append(f"{path or '/'}: {word} lowered to {current[word]}")
    for word in sorted(SAME_OR_ABSENT & current.keys()):
        if current[word] != baseline.get(word):
            problems.append(f"{path or '/'}: {word} is now {current[word]!r}")
    return problems
