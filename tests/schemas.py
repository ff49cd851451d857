"""Validate runstate JSON documents against the JSON Schemas in ``docs/schemas/``.

Every document runstate emits names its schema (``"schema": "runstate.<kind>/v1"``); its
JSON Schema (draft 2020-12) is ``docs/schemas/<kind>.schema.json``. Schemas refer to each
other by ``$id`` (``https://runstate.dev/schemas/<kind>/v1``); those references are resolved
from the files in ``docs/schemas/`` only, never fetched.

    >>> from schemas import validate                            # doctest: +SKIP
    >>> validate({"schema": "runstate.gc/v1", ...})             # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["SCHEMA_DIR", "load_schemas", "registry", "schema_for", "validate"]

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "docs" / "schemas"
_SCHEMA_FIELD = re.compile(r"^runstate\.(?P<kind>[a-z][a-z0-9-]*)/v(?P<version>[0-9]+)$")


@cache
def load_schemas() -> dict[str, dict[str, Any]]:
    """Every schema in ``docs/schemas/``, by kind (the file name before ``.schema.json``)."""
    schemas: dict[str, dict[str, Any]] = {}
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        schemas[path.name.removesuffix(".schema.json")] = json.loads(path.read_text("utf-8"))
    return schemas


@cache
def registry() -> Registry:
    """A registry of every schema by its ``$id``; anything else is unresolvable."""
    resources = [
        (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
        for schema in load_schemas().values()
    ]
    return Registry().with_resources(resources)


def schema_for(document: dict[str, Any]) -> dict[str, Any]:
    """The schema named by ``document["schema"]``; AssertionError if there is none."""
    name = document.get("schema") if isinstance(document, dict) else None
    if not isinstance(name, str):
        raise AssertionError(
            f"document has no 'schema' field naming its schema: {_preview(document)}"
        )
    match = _SCHEMA_FIELD.match(name)
    schemas = load_schemas()
    if match is None or match["kind"] not in schemas:
        known = ", ".join(f"runstate.{kind}/v1" for kind in sorted(schemas))
        raise AssertionError(f"no schema in {SCHEMA_DIR} for {name!r} (known: {known})")
    schema = schemas[match["kind"]]
    declared = schema.get("properties", {}).get("schema", {}).get("const")
    if declared != name:
        raise AssertionError(
            f"{match['kind']}.schema.json describes {declared!r}, the document says {name!r}"
        )
    return schema


def validate(document: dict[str, Any]) -> None:
    """Validate ``document`` against the schema its ``schema`` field names.

    Raises AssertionError naming the JSON path of the first error (errors are ordered by
    path, so the message is stable), with the failing value and the rule it broke.
    """
    schema = schema_for(document)
    validator = Draft202012Validator(
        schema, registry=registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.path])
    if errors:
        first = errors[0]
        rule = "/".join(str(p) for p in first.schema_path)
        more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
        message = first.message if len(first.message) <= 300 else first.message[:300] + "…"
        raise AssertionError(
            f"{document['schema']} document invalid at {first.json_path}: {message} "
            f"[rule {rule}]{more}"
        )


def _preview(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "…"
