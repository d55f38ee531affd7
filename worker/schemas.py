"""The contract in machine-readable form, generated from the message models.

`schemas/<event-type>.json` is the JSON Schema (2020-12) of each whole CloudEvent, for
validation of what the worker reads and for serialization of what it writes.
Each has the `$id` that emitted events carry as `dataschema` (routing.schema_uri).
`schemas/asyncapi.yaml` (AsyncAPI 3.0.0, its `info.version` the package's) describes the
topics; its message payloads refer to those JSON Schema files by relative `$ref`, so each
schema is written once. `schemas/compat/v<N>/` keeps the event schemas as contract vN was
released: the baseline later schemas must stay compatible with (a test checks it:
tests/schema_compatibility.py).

    python -m worker.schemas             # rewrites schemas/ (tests/repository/test_schemas.py)
    python -m worker.schemas --baseline  # once, when a new version of the contract is released
"""

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from worker.docs_tables import with_table
from worker.messages import MAX_HEADER_BYTES, OutgoingEvent, RejectReason, dead_letter
from worker.messages.routing import (
    CONTRACT_VERSION,
    DEAD_LETTER_TOPIC,
    INCOMING,
    OUTGOING,
    schema_uri,
)
from worker.messages.values import MessageModel, is_omitted
from worker.settings import Settings, Topics
from worker.version import package_version

SCHEMA_DIRECTORY = Path(__file__).resolve().parent.parent / "schemas"
BASELINE_DIRECTORY = SCHEMA_DIRECTORY / "compat" / f"v{CONTRACT_VERSION}"
ASYNCAPI_FILE = "asyncapi.yaml"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
EVENT_CONTENT_TYPE = "application/cloudevents+json"
DEAD_LETTER = "dead-letter"

DEAD_LETTER_SUMMARY = "A record the worker could not apply: the original, unchanged."

KEYS = {
    "invoice-command": "The orderId of the invoice's order, when the sender knows it.",
    "invoice-command-result": "The orderId; for a command on an unknown order, its record's key.",
}
"""What the record key is, where it is not simply the orderId."""


def topic_channels() -> dict[str, tuple[str, list[str]]]:
    """Topics field -> (the worker's action on it, the messages it carries), from the
    routing table, in the order Topics declares them."""
    found: dict[str, tuple[str, list[str]]] = {}
    for action, routes in (("receive", INCOMING), ("send", OUTGOING)):
        for event_type, route in routes.items():
            for topic in route.topics:
                found.setdefault(topic, (action, []))[1].append(event_type)
    found[DEAD_LETTER_TOPIC] = ("send", [DEAD_LETTER])
    return {topic: found[topic] for topic in Topics.model_fields if topic in found}


def summary(event_type: str) -> str:
    route = INCOMING.get(event_type) or OUTGOING.get(event_type)
    return DEAD_LETTER_SUMMARY if route is None else route.summary


class ContractJsonSchema(GenerateJsonSchema):
    """pydantic's generator, minus field titles, with optional output fields as never null."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def normalize_name(self, name: str) -> str:
        """A data model named apart from the domain's value (InvoiceClosedData, CustomerData)
        is defined under its contract name, its title (InvoiceClosed, Customer)."""
        return super().normalize_name(_CONTRACT_NAMES.get(name, name))

    def model_field_schema(self, schema: core_schema.ModelField) -> JsonSchemaValue:
        if self.mode == "serialization" and schema.get("serialization_exclude_if") is is_omitted:
            return self.generate_inner(_without_null(schema["schema"]))
        return super().model_field_schema(schema)


def _message_models(base: type[BaseModel]) -> list[type[BaseModel]]:
    return [model for sub in base.__subclasses__() for model in (sub, *_message_models(sub))]


_CONTRACT_NAMES = {
    model.__name__: title
    for model in _message_models(MessageModel)
    if (title := model.model_config.get("title")) is not None
}


def _without_null(schema: CoreSchema) -> CoreSchema:
    if schema["type"] == "default":
        return _without_null(schema["schema"])
    if schema["type"] == "nullable":
        inner: CoreSchema = schema["schema"]
        return inner
    return schema


def event_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of a whole event of this type, as read (incoming) or written."""
    model: type[BaseModel]
    mode: JsonSchemaMode
    if event_type in INCOMING:
        model, mode = INCOMING[event_type].model, "validation"
    else:
        data_model = OUTGOING[event_type].model
        model, mode = OutgoingEvent[data_model], "serialization"  # type: ignore[valid-type]
    schema = model.model_json_schema(mode=mode, schema_generator=ContractJsonSchema)
    schema["properties"]["type"] = {"const": event_type, "type": "string"}
    if "dataschema" in schema["properties"]:
        schema["properties"]["dataschema"] = {
            "const": schema_uri(event_type),
            "format": "uri",
            "type": "string",
        }
    schema["title"] = event_type
    schema["description"] = summary(event_type)
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": schema_uri(event_type), **schema}


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document: every default topic, its messages, what the worker does."""
    env_prefix = Topics.model_config.get("env_prefix", "")
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic, (action, messages) in topic_channels().items():
        channels[topic] = {
            "address": Topics.model_fields[topic].default,
            "description": f"Configurable with {env_prefix}{topic.upper()}.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
        }
        operations[f"{action}_{topic}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{topic}"},
            "messages": [{"$ref": f"#/channels/{topic}/messages/{name}"} for name in messages],
        }
    events = [*INCOMING, *OUTGOING]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "invoicer",
            "version": package_version(),
            "description": (
                "Turns completed orders into numbered invoices. Every record value is a "
                "CloudEvents 1.0 event in structured JSON mode (UTF-8); topic names are the "
                "defaults. The contract in prose: docs/contract.md."
            ),
        },
        "defaultContentType": EVENT_CONTENT_TYPE,
        "servers": {
            "local": {
                "host": Settings.model_fields["kafka_bootstrap_servers"].default,
                "protocol": "kafka",
                "description": "INVOICER_KAFKA_BOOTSTRAP_SERVERS",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {
                **{event_type: _event_message(event_type) for event_type in events},
                DEAD_LETTER: _dead_letter_message(),
            }
        },
    }


def _event_message(event_type: str) -> dict[str, Any]:
    return {
        "name": event_type,
        "title": _title(event_type),
        "summary": summary(event_type),
        "contentType": EVENT_CONTENT_TYPE,
        "correlationId": {"location": "$message.payload#/correlationid"},
        "payload": {
            "schemaFormat": "application/schema+json;version=draft-2020-12",
            "schema": {"$ref": f"./{event_type}.json"},
        },
        "bindings": {
            "kafka": {
                "bindingVersion": "0.5.0",
                "key": {"type": "string", "description": KEYS.get(event_type, "The orderId.")},
            }
        },
    }


def _title(message_name: str) -> str:
    return message_name.replace("-", " ").capitalize()


def _dead_letter_message() -> dict[str, Any]:
    decimal_text = {"type": "string", "pattern": "^[0-9]+$"}
    return {
        "name": DEAD_LETTER,
        "title": _title(DEAD_LETTER),
        "summary": DEAD_LETTER_SUMMARY,
        "description": (
            "The record's value and key exactly as consumed (the value may not be JSON at "
            "all), with headers saying why and where it came from."
        ),
        "contentType": "application/octet-stream",
        "headers": {
            "type": "object",
            "required": list(dead_letter.HEADERS),
            "properties": {
                dead_letter.REASON: {
                    "type": "string",
                    "enum": [reason.value for reason in RejectReason],
                },
                dead_letter.ERROR: {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "maxLength": MAX_HEADER_BYTES,
                    "description": (
                        'JSON {"errors": {field: [message]}, "details": "..."}; field paths '
                        f"are dotted and 0-based inside data. At most {MAX_HEADER_BYTES} bytes."
                    ),
                },
                dead_letter.ORIGINAL_TOPIC: {"type": "string"},
                dead_letter.ORIGINAL_PARTITION: {**decimal_text, "description": "Decimal text."},
                dead_letter.ORIGINAL_OFFSET: {**decimal_text, "description": "Decimal text."},
            },
        },
        "payload": {"description": "The original record value, byte for byte."},
        "bindings": {
            "kafka": {
                "bindingVersion": "0.5.0",
                "key": {"description": "The original record's key, unchanged."},
            }
        },
    }


def render_schemas() -> dict[str, str]:
    """Every generated file of schemas/ by name, with its exact content (the baselines in
    schemas/compat are not generated: they stay as they were released)."""
    files = {
        f"{event_type}.json": json.dumps(
            event_schema(event_type), indent=2, sort_keys=True, ensure_ascii=False
        )
        + "\n"
        for event_type in [*INCOMING, *OUTGOING]
    }
    files[ASYNCAPI_FILE] = yaml.safe_dump(
        asyncapi_document(), sort_keys=True, allow_unicode=True, width=100
    )
    return files


CONTRACT_DOCUMENT = SCHEMA_DIRECTORY.parent / "docs" / "contract.md"
GENERATED_EVENTS = ("<!-- generated: events (python -m worker.schemas) -->", "<!-- end: events -->")


def events_table() -> str:
    """docs/contract.md's table of every event type: topic, direction, what it says."""
    env_prefix = Topics.model_config.get("env_prefix", "")
    rows = [
        "| event type | default topic (setting) | direction | what it says |",
        "|---|---|---|---|",
    ]
    for direction, routes in (("in", INCOMING), ("out", OUTGOING)):
        for event_type, route in routes.items():
            topics = ", also ".join(
                f"`{Topics.model_fields[topic].default}` ({env_prefix}{topic.upper()})"
                for topic in route.topics
            )
            rows.append(f"| `{event_type}` | {topics} | {direction} | {route.summary} |")
    dead = Topics.model_fields[DEAD_LETTER_TOPIC].default
    rows.append(
        f"| dead letter | `{dead}` ({env_prefix}{DEAD_LETTER_TOPIC.upper()}) | out"
        f" | {DEAD_LETTER_SUMMARY} |"
    )
    return "\n".join(rows) + "\n"


def with_events_table(document: str) -> str:
    """The contract document with its generated table of events brought up to date."""
    return with_table(document, GENERATED_EVENTS, events_table())


def write_schemas(directory: Path) -> list[Path]:
    """Writes the files of render_schemas() into `directory`; returns their paths."""
    return write_files(directory, render_schemas())


def write_files(directory: Path, files: dict[str, str]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in sorted(files.items()):
        path = directory / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def write_baseline() -> list[Path]:
    """Keeps this version's event schemas as the baseline of its compatibility check."""
    if BASELINE_DIRECTORY.exists():
        raise SystemExit(f"{BASELINE_DIRECTORY} exists: a released baseline never changes")
    rendered = render_schemas()
    return write_files(
        BASELINE_DIRECTORY, {name: text for name, text in rendered.items() if name != ASYNCAPI_FILE}
    )


if __name__ == "__main__" and sys.argv[1:] == ["--baseline"]:
    for path in write_baseline():
        print(path)
elif __name__ == "__main__":
    for path in write_schemas(SCHEMA_DIRECTORY):
        print(path)
    CONTRACT_DOCUMENT.write_text(
        with_events_table(CONTRACT_DOCUMENT.read_text("utf-8")), encoding="utf-8"
    )
    print(CONTRACT_DOCUMENT)
