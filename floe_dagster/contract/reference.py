"""The contract reference (docs/contract.md), generated from the JSON Schema so it cannot drift.

One table per object (field, type, required, default, description), the root first and then
every `$defs` object in the order a reader meets it by following `$ref`s.
"""

from __future__ import annotations

import json
from typing import Any

ROOT_HEADING = "compiled_artifacts.json"
COMMAND = "floe-dagster schema --markdown > docs/contract.md"


def markdown(schema: dict[str, Any]) -> str:
    """The whole reference page for `schema` (as `json_schema()` returns it)."""
    defs = schema.get("$defs", {})
    version = schema.get("properties", {}).get("version", {}).get("default")
    lines = [
        "# Contract reference: `compiled_artifacts.json`",
        "",
        f"Generated from the JSON Schema by `{COMMAND}`; do not edit by hand.",
        "`tests/test_docs.py` fails when this page and the schema the code exports differ.",
        *([f"Contract version `{version}`."] if version else []),
        "Every object forbids unknown fields. The same schema, for editors, is",
        "[`schema/compiled_artifacts.schema.json`](../schema/compiled_artifacts.schema.json).",
        "A blank default on an optional field means the code fills it in (an empty list, or the",
        "object with its own defaults).",
        "",
        *_section(f"## {ROOT_HEADING}", schema),
        "## Objects",
        "",
    ]
    for name in _reading_order(schema, defs):
        lines += _section(f"### {name}", defs[name])
    return "\n".join(lines).rstrip("\n") + "\n"


def _section(heading: str, obj: dict[str, Any]) -> list[str]:
    lines = [heading, ""]
    if obj.get("description"):
        lines += [_one_line(obj["description"]), ""]
    properties = obj.get("properties", {})
    if not properties:
        return [*lines, f"Type: {_type(obj)}.", ""]
    required = set(obj.get("required", []))
    lines += ["| field | type | required | default | description |", "|---|---|---|---|---|"]
    for field, prop in properties.items():
        default = _code(prop["default"]) if "default" in prop else ""
        cells = [
            f"`{field}`",
            _type(prop),
            "yes" if field in required else "no",
            default,
            _one_line(prop.get("description", "")),
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return [*lines, ""]


def _reading_order(schema: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    """Breadth-first from the root along `$ref`s; objects nothing refers to come last."""
    order: list[str] = []
    queue = _refs(schema.get("properties", {}))
    while queue:
        name = queue.pop(0)
        if name in order or name not in defs:
            continue
        order.append(name)
        queue += _refs(defs[name].get("properties", {}))
    return order + sorted(set(defs) - set(order))


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in prop:
        return " or ".join(_type(option) for option in prop["anyOf"])
    if "const" in prop:
        return _code(prop["const"])
    if "enum" in prop:
        return "one of " + ", ".join(_code(value) for value in prop["enum"])
    kind = prop.get("type", "any")
    if kind == "array":
        kind = f"list of {_type(prop['items'])}" if "items" in prop else "list"
    elif kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        keys = _type(prop["propertyNames"]) if "propertyNames" in prop else "string"
        kind = f"map of {keys} to {_type(prop['additionalProperties'])}"
    limits = _limits(prop)
    return f"{kind} ({', '.join(limits)})" if limits else kind


def _limits(prop: dict[str, Any]) -> list[str]:
    symbols = {"minimum": "≥", "exclusiveMinimum": ">", "maximum": "≤", "exclusiveMaximum": "<"}
    limits = [f"{symbol} {prop[key]}" for key, symbol in symbols.items() if key in prop]
    if "format" in prop:
        limits.append(prop["format"])
    if "pattern" in prop:
        limits.append(f"pattern `{prop['pattern']}`")
    for key, word in (("minLength", "min length"), ("maxLength", "max length")):
        if key in prop:
            limits.append(f"{word} {prop[key]}")
    for key, word in (("minItems", "at least"), ("maxItems", "at most")):
        if key in prop:
            limits.append(f"{word} {prop[key]} items")
    return limits


def _code(value: Any) -> str:
    return f"`{json.dumps(value, sort_keys=True)}`"


def _one_line(text: str) -> str:
    return " ".join(text.split())
