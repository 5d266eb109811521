"""Read spec/iotcentral.yaml: the single source of truth the contract suite checks against.

The wheel ships a copy inside this package (`_spec/iotcentral.yaml`), so an installed suite
checks against the same document the client was generated from.
"""

from __future__ import annotations

import copy
import email.utils
import re
from datetime import UTC
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml
from hypothesis import strategies as st


def _spec_path() -> Path:
    """Inside an installed wheel (`_spec/`, force-included) or the repository's `spec/`."""
    packaged = Path(__file__).resolve().parent / "_spec" / "iotcentral.yaml"
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "spec" / "iotcentral.yaml"


SPEC_PATH = _spec_path()


@cache
def load_spec() -> dict[str, Any]:
    """The OpenAPI document as plain data."""
    with SPEC_PATH.open(encoding="utf-8") as f:
        spec: dict[str, Any] = yaml.safe_load(f)
    return spec


def _inline(node: Any, spec: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _inline(target, spec)
        return {key: _inline(value, spec) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, spec) for item in node]
    return node


def component_schema(name: str) -> dict[str, Any]:
    """`components/schemas/<name>` as a standalone JSON Schema (local $refs inlined)."""
    spec = load_spec()
    schema: dict[str, Any] = _inline(copy.deepcopy(spec["components"]["schemas"][name]), spec)
    return schema


def supported_api_versions() -> list[str]:
    """The api-versions the spec allows (the `ApiVersion` enum)."""
    versions: list[str] = load_spec()["components"]["schemas"]["ApiVersion"]["enum"]
    return versions


def default_api_version() -> str:
    """The api-version a caller gets without choosing one (the spec's `DefaultApiVersion`)."""
    (version,) = load_spec()["components"]["schemas"]["DefaultApiVersion"]["enum"]
    assert isinstance(version, str)
    return version


def property_bounds(schema_name: str, field: str) -> tuple[int, int]:
    """(minimum, maximum) of an integer property, as the spec states it."""
    prop = load_spec()["components"]["schemas"][schema_name]["properties"][field]
    return int(prop["minimum"]), int(prop["maximum"])


def rfc1123_dates() -> st.SearchStrategy[str]:
    """Strings in the spec's `date-time-rfc1123` format, e.g. `Sat, 28 Nov 2026 12:00:00 GMT`."""
    return st.datetimes(timezones=st.just(UTC)).map(
        lambda moment: email.utils.format_datetime(moment, usegmt=True)
    )


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value: what a schema without `type` (the command payloads) admits."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text()
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=12,
    )


_STRING_FORMATS: dict[str, st.SearchStrategy[str]] = {"date-time-rfc1123": rfc1123_dates()}
_INT32 = (-(2**31), 2**31 - 1)


def strategy_for(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Every JSON value an (inlined) spec schema accepts.

    Covers the keywords spec/iotcentral.yaml uses: type object/array/integer/string, properties,
    required, items, enum, minimum/maximum, int32 and date-time-rfc1123 formats; no `type` means any
    JSON. Objects may carry undeclared properties, since the spec does not forbid them.
    """
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind is None:
        return json_values()
    if kind == "integer":
        low, high = _INT32 if schema.get("format") == "int32" else (None, None)
        low = schema.get("minimum", low)
        high = schema.get("maximum", high)
        return st.integers(min_value=low, max_value=high)
    if kind == "string":
        return _STRING_FORMATS.get(schema.get("format", ""), st.text())
    if kind == "array":
        return st.lists(strategy_for(schema.get("items", {})), max_size=3)
    if kind == "object":
        properties: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        strategies = {name: strategy_for(sub) for name, sub in properties.items()}
        fixed = {name: s for name, s in strategies.items() if name in required}
        optional = {name: s for name, s in strategies.items() if name not in required}
        extra_keys = st.text(max_size=8).filter(lambda key: key not in properties)
        declared = st.fixed_dictionaries(fixed, optional=optional)
        extras = st.dictionaries(extra_keys, json_values(), max_size=2)
        return st.builds(lambda known, more: {**more, **known}, declared, extras)
    raise NotImplementedError(f"spec keyword type={kind!r} has no strategy yet")


def instances_of(name: str) -> st.SearchStrategy[Any]:
    """Every JSON value that `components/schemas/<name>` accepts."""
    return strategy_for(component_schema(name))


@cache
def _routes() -> list[tuple[re.Pattern[str], str, dict[str, str]]]:
    routes: list[tuple[re.Pattern[str], str, dict[str, str]]] = []
    for template, item in load_spec()["paths"].items():
        pattern = "".join(
            "([^/]+)" if piece.startswith("{") else re.escape(piece)
            for piece in re.split(r"(\{[^}]+\})", template)
            if piece
        )
        names = re.findall(r"\{([^}]+)\}", template)
        operations = {
            method.upper(): op["operationId"]
            for method, op in item.items()
            if isinstance(op, dict) and "operationId" in op
        }
        routes.append((re.compile(f"^{pattern}$"), ",".join(names), operations))
    return routes


def match_path(raw_path: str) -> tuple[str, dict[str, str], dict[str, str]] | None:
    """(template, unquoted path parameters, {METHOD: operationId}) of a path under the API root."""
    for regex, names, operations in _routes():
        found = regex.match(raw_path)
        if found is None:
            continue
        params = dict(zip(names.split(","), map(unquote, found.groups()), strict=True))
        return regex.pattern, params, operations
    return None


def match_operation(method: str, raw_path: str) -> tuple[str, dict[str, str]] | None:
    """(operationId, unquoted path parameters) of a request path under the API root, or None."""
    matched = match_path(raw_path)
    if matched is None or method.upper() not in matched[2]:
        return None
    return matched[2][method.upper()], matched[1]


def operation_ids() -> list[str]:
    """Every operationId of the spec, in document order."""
    return [op for _, _, operations in _routes() for op in operations.values()]
