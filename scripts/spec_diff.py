"""Compare two descriptions of IoT Central's command operations: ``scripts/spec-diff OLD NEW``.

Each input may be the project's OpenAPI 3.x document (``spec/iotcentral.yaml``) or a Microsoft
Swagger 2.0 file as published for IoT Central (``x-ms-parameterized-host``, ``x-ms-pageable``,
``default`` errors). Both are read and validated with openapi-spec-validator, their ``$ref``s
resolved with ``referencing`` (local files only, never the network), and normalised into one model;
the comparison runs on that model.

Only the command operations are compared: the methods on
``/devices/{d}[/modules/{m}][/components/{c}]/commands/{n}``, plus any operation whose operationId
matches one of them on the other side (a moved operation). Operations are matched by method + path
(parameter names ignored, base path included) and, failing that, by operationId (case and a
``Tag_`` prefix ignored, so ``runCommand`` matches ``Devices_RunCommand``).

Every difference is a change of one *kind*; ``RULES`` says, per kind, whether it breaks this client
where the client sends the value (parameters, request body) and where it reads it (responses,
headers). ``--rules`` prints the table. Descriptions and summaries never break anything; they are
listed only with ``--verbose``: Microsoft rewords them between versions and they would bury the
changes that matter (the counts always say how many there are).

Known deviations: when one input is the project's (OpenAPI 3.x) and the other Microsoft's
(Swagger 2.0), a change that matches an entry of the ``spec-diff`` block in ``spec/PROVENANCE.md``
is reported as "known" with the entry's id and never counts as breaking. The block and the table of
deliberate deviations must name the same ids (checked at every run), so the two cannot drift.

Not compared: examples (``example(s)``, ``x-ms-examples``), OpenAPI links, ``x-ms-*`` extensions
other than ``x-ms-parameterized-host`` and ``x-ms-pageable``, ``additionalProperties``.

Exit status: 0 nothing breaking, 1 something breaking, 2 usage error or unreadable/invalid input.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable

JSON = Any
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PROVENANCE = REPO_ROOT / "spec" / "PROVENANCE.md"
COMMAND_PATH = re.compile(
    r"^/devices/\{[^/{}]+\}(?:/modules/\{[^/{}]+\})?(?:/components/\{[^/{}]+\})?/commands/\{[^/{}]+\}$"
)
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# Keys never compared (and never followed, so dangling example files do not matter).
SKIPPED_KEYS = frozenset({"x-ms-examples", "examples", "example", "links"})
# Maps from names to objects: their keys are names (a property may be called "links").
NAME_MAPS = frozenset(
    {"properties", "definitions", "schemas", "headers", "parameters", "responses", "paths"}
)
BLOCK = re.compile(r"^```yaml spec-diff\n(.*?)^```", re.S | re.M)
TABLE_ID = re.compile(r"^\|\s*`([a-z0-9.-]+)`\s*\|", re.M)


class SpecDiffError(Exception):
    """An input cannot be read, validated or understood (exit status 2)."""


# ------------------------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class Rule:
    sent: bool  # breaking where the client sends the value: parameters, request body
    received: bool  # breaking where the client reads the value: responses, response headers
    why: str


def _both(breaking: bool, why: str) -> Rule:
    return Rule(breaking, breaking, why)


RULES: dict[str, Rule] = {
    # operations and their wiring
    "operation-removed": _both(True, "the client calls it"),
    "operation-added": _both(False, "the client does not call it yet"),
    "operation-moved": _both(
        True, "same operationId, other method or path: the client calls the old one"
    ),
    "operation-id-changed": _both(
        False, "not on the wire; generated names follow the project's spec"
    ),
    "tags-changed": _both(False, "not on the wire"),
    "host-changed": _both(True, "the client builds its base URL from the host template"),
    "server-default-changed": _both(False, "the client has its own base-domain setting"),
    "param-removed": _both(True, "the client sends it"),
    "param-added": _both(False, "optional: the client may leave it out"),
    "param-added-required": _both(True, "the client does not send it"),
    "param-renamed": _both(False, "a path parameter is positional on the wire"),
    "body-removed": _both(True, "the client sends one"),
    "body-added": _both(False, "optional: the client may leave it out"),
    "body-added-required": _both(True, "the client does not send one"),
    "media-type-removed": _both(True, "the client sends and reads JSON"),
    "media-type-added": _both(False, "the client keeps using the old one"),
    "status-removed": _both(True, "the client expects it"),
    "status-added": _both(False, "an undescribed status goes to the default error handling"),
    "header-removed": _both(True, "the client reads it (x-ms-error-code)"),
    "header-added": _both(False, "the client ignores it"),
    "security-removed": _both(True, "the client authenticates that way"),
    "security-added": _both(False, "the old way still works"),
    "security-scheme-changed": _both(True, "the client's credentials follow the scheme"),
    "scope-added": _both(True, "the client's token may not carry it"),
    "scope-removed": _both(False, "fewer scopes are needed"),
    "paging-removed": _both(True, "the client follows the next link"),
    "paging-added": _both(False, "the client reads the first page"),
    "paging-changed": _both(True, "the client reads the next link/items under the old name"),
    # schemas: parameters and request bodies are "sent", responses and headers "received"
    "type-narrowed": Rule(True, False, "fewer types allowed"),
    "type-widened": Rule(False, True, "more types allowed: the client may get one it cannot read"),
    "type-changed": _both(True, "other type"),
    "format-changed": _both(True, "other wire format"),
    "enum-added": Rule(True, False, "values now limited"),
    "enum-removed": Rule(False, True, "any value allowed: the generated enums reject unknown ones"),
    "enum-value-removed": Rule(True, False, "the client may send it"),
    "enum-value-added": Rule(False, True, "the generated enums reject unknown values"),
    "bound-narrowed": Rule(True, False, "the client may send a value now refused"),
    "bound-widened": Rule(False, False, "the client does not check ranges of what it reads"),
    "pattern-changed": Rule(True, False, "the client may send a value now refused"),
    "required-added": Rule(True, False, "the client may leave it out"),
    "required-removed": Rule(False, True, "the client may rely on it being there"),
    "property-removed": _both(True, "the client sends or reads it"),
    "property-added": _both(False, "optional and unknown to the client"),
    "readonly-added": Rule(True, False, "the client sends it; the service now ignores it"),
    "readonly-removed": _both(False, "the client may send it now"),
    "composition-changed": _both(True, "oneOf/anyOf alternatives differ (allOf is merged first)"),
    "default-changed": _both(False, "the client sends explicit values"),
    "description-changed": _both(False, "documentation only (shown with --verbose)"),
}


def rules_table() -> str:
    lines = [
        "| kind | breaking when sent | breaking when read | why |",
        "|---|---|---|---|",
    ]
    for kind, rule in RULES.items():
        sent = "yes" if rule.sent else "no"
        read = "yes" if rule.received else "no"
        lines.append(f"| {kind} | {sent} | {read} | {rule.why} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------- known deviations
@dataclass(frozen=True)
class Deviation:
    id: str
    note: str
    changes: tuple[dict[str, JSON], ...]


@dataclass(frozen=True)
class Provenance:
    path: str
    deviations: tuple[Deviation, ...]
    paging: dict[str, str]  # how an OpenAPI 3 document without x-ms-pageable states paging


def load_provenance(path: Path) -> Provenance:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecDiffError(f"{path}: cannot read ({exc.strerror})") from exc
    match = BLOCK.search(text)
    if match is None:
        raise SpecDiffError(f"{path}: no ```yaml spec-diff block")
    try:
        data = yaml.safe_load(match.group(1))
        deviations = tuple(
            Deviation(
                id=str(e["id"]),
                note=str(e.get("note", "")),
                changes=tuple(dict(c) for c in e.get("changes", [])),
            )
            for e in data["deviations"]
        )
        paging = data.get("paging", {"nextLinkName": "nextLink", "itemName": "value"})
        paging = {"nextLinkName": str(paging["nextLinkName"]), "itemName": str(paging["itemName"])}
    except (yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise SpecDiffError(f"{path}: the spec-diff block is malformed ({exc!r})") from exc
    block_ids = {d.id for d in deviations}
    table_ids = set(TABLE_ID.findall(text[: match.start()]))
    if block_ids != table_ids:
        raise SpecDiffError(
            f"{path}: the deviations table and the spec-diff block disagree: "
            f"only in the table {sorted(table_ids - block_ids)}, "
            f"only in the block {sorted(block_ids - table_ids)}"
        )
    return Provenance(str(path), deviations, paging)


def _value_matches(pattern: JSON, value: JSON) -> bool:
    if pattern is None:
        return value is None
    if pattern == "*":
        return value is not None
    if isinstance(pattern, str) and isinstance(value, str):
        return fnmatch.fnmatchcase(value, pattern)
    return bool(pattern == value)


# ------------------------------------------------------------------------------------------ model
@dataclass
class Param:
    name: str
    required: bool
    schema: dict[str, JSON]
    description: str | None


@dataclass
class Body:
    required: bool
    media: list[str]
    schema: dict[str, JSON]
    description: str | None


@dataclass
class Response:
    description: str | None
    headers: dict[str, dict[str, JSON]]
    media: list[str]
    schema: dict[str, JSON] | None


@dataclass
class Operation:
    method: str
    path: str  # base path + path template, as written
    operation_id: str | None
    tags: list[str]
    summary: str | None
    description: str | None
    params: dict[tuple[str, str], Param]  # path params keyed by position: ("path", "1")
    body: Body | None
    responses: dict[str, Response]
    security: dict[str, list[str]]  # alternative ("a+b") -> scopes
    paging: dict[str, JSON] | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, path_key(self.path))

    @property
    def label(self) -> str:
        return f"{self.operation_id or '?'}  {self.method.upper()} {self.path}"


@dataclass
class Api:
    file: str
    flavour: str
    origin: str  # "project" (OpenAPI 3.x) or "microsoft" (Swagger 2.0)
    version: str
    host: str
    variables: dict[str, JSON]
    schemes: dict[str, dict[str, JSON]]
    operations: list[Operation]
    ignored: int  # operations that are not command operations
    others: dict[str, Callable[[], Operation]] = field(default_factory=dict)


def path_key(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path).rstrip("/") or "/"


def id_key(operation_id: str | None) -> str | None:
    if not operation_id:
        return None
    return operation_id.rsplit("_", 1)[-1].lower()


# -------------------------------------------------------------------------------------- reading
class Document:
    """One input file with its $refs resolved by `referencing` (local files only)."""

    def __init__(self, file: str) -> None:
        try:
            raw, base_uri = read_from_filename(file)
        except OSError as exc:
            raise SpecDiffError(f"{file}: cannot read ({exc.strerror or exc})") from exc
        except Exception as exc:  # the readers raise the parsers' own errors
            raise SpecDiffError(f"{file}: not JSON or YAML ({exc})") from exc
        if not isinstance(raw, dict):
            raise SpecDiffError(f"{file}: not an OpenAPI or Swagger document")
        self.file = file
        self.raw: dict[str, JSON] = dict(raw)
        self.base_uri = base_uri
        registry: Registry[JSON] = Registry(retrieve=_retrieve_local)  # type: ignore[call-arg]
        self.resolver = registry.with_resource(base_uri, Resource.opaque(self.raw)).resolver(
            base_uri
        )

    def full(self, node: JSON, resolver: Any = None) -> JSON:
        """`node` with every $ref replaced by its target (a cycle becomes {"$recursive": ref})."""
        return self._full(node, resolver or self.resolver, (), named=False)

    def _full(self, node: JSON, resolver: Any, chain: tuple[str, ...], *, named: bool) -> JSON:
        if isinstance(node, list):
            return [self._full(item, resolver, chain, named=False) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            absolute = urljoin(str(getattr(resolver, "_base_uri", "")), ref)
            if absolute in chain:
                return {"$recursive": ref}
            target = resolver.lookup(ref)
            return self._full(target.contents, target.resolver, (*chain, absolute), named=False)
        return {
            key: self._full(value, resolver, chain, named=key in NAME_MAPS and not named)
            for key, value in node.items()
            if named or key not in SKIPPED_KEYS
        }


def _retrieve_local(uri: str) -> Resource[JSON]:
    parts = urlsplit(uri)
    if parts.scheme not in ("", "file"):
        raise SpecDiffError(f"$ref to {uri}: spec-diff reads local files only")
    document, _ = read_from_filename(unquote(parts.path))
    return Resource.opaque(document)


def _remote_refs(node: JSON, *, named: bool = False) -> Iterator[str]:
    """$refs that would need the network (examples are never followed, so they do not count)."""
    if isinstance(node, list):
        for item in node:
            yield from _remote_refs(item)
    elif isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and urlsplit(ref).scheme not in ("", "file"):
            yield ref
        for key, value in node.items():
            if named or key not in SKIPPED_KEYS:
                yield from _remote_refs(value, named=key in NAME_MAPS and not named)


def read_api(file: str, *, check: bool, provenance: Provenance) -> Api:
    doc = Document(file)
    raw = doc.raw
    remote = next(_remote_refs(raw), None)
    if remote is not None:
        raise SpecDiffError(f"{file}: $ref to {remote}: spec-diff reads local files only")
    if check:
        try:
            validate(raw, base_uri=doc.base_uri)
        except Unresolvable as exc:
            raise SpecDiffError(f"{file}: unresolvable $ref {getattr(exc, 'ref', exc)}") from exc
        except Exception as exc:
            message = getattr(exc, "message", None) or str(exc).splitlines()[0]
            where = getattr(exc, "json_path", "")
            raise SpecDiffError(
                f"{file}: not a valid description: {message} {where}"
                " (--no-validate to compare anyway)"
            ) from exc
    try:
        if str(raw.get("swagger", "")).startswith("2."):
            return _read_swagger(doc, provenance)
        if str(raw.get("openapi", "")).startswith("3."):
            return _read_openapi(doc, provenance)
    except Unresolvable as exc:
        raise SpecDiffError(f"{file}: unresolvable $ref {getattr(exc, 'ref', exc)}") from exc
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
        # Only reachable with --no-validate: a shape the validator would have refused.
        raise SpecDiffError(f"{file}: cannot understand the description ({exc!r})") from exc
    raise SpecDiffError(f"{file}: neither `swagger: 2.0` nor `openapi: 3.x`")


def _merge_params(path_level: list[JSON], op_level: list[JSON]) -> list[dict[str, JSON]]:
    merged: dict[tuple[str, str], dict[str, JSON]] = {}
    for p in [*path_level, *op_level]:
        merged[(p.get("in", ""), p.get("name", ""))] = p
    return list(merged.values())


def _params(
    path: str, params: list[dict[str, JSON]], schema_of: Any
) -> dict[tuple[str, str], Param]:
    names = re.findall(r"\{([^}]*)\}", path)
    out: dict[tuple[str, str], Param] = {}
    for p in params:
        where, name = p.get("in", ""), str(p.get("name", ""))
        if where == "body":
            continue
        if where == "path":
            lowered = [n.lower() for n in names]
            index = lowered.index(name.lower()) + 1 if name.lower() in lowered else 0
            key = ("path", str(index))
        elif where == "header":
            key = ("header", name.lower())
        else:
            key = (where, name)
        out[key] = Param(name, bool(p.get("required", False)), schema_of(p), p.get("description"))
    return out


def _security(op: dict[str, JSON], root: dict[str, JSON]) -> dict[str, list[str]]:
    requirements = op.get("security", root.get("security", []))
    out: dict[str, list[str]] = {}
    for requirement in requirements or []:
        label = "+".join(sorted(requirement)) or "(anonymous)"
        out[label] = sorted({s for scopes in requirement.values() for s in scopes})
    return out


def _read_swagger(doc: Document, provenance: Provenance) -> Api:
    raw = doc.raw
    base = str(raw.get("basePath", "")).rstrip("/")
    scheme = (raw.get("schemes") or ["https"])[0]
    host_ext = raw.get("x-ms-parameterized-host")
    variables: dict[str, JSON] = {}
    if host_ext:
        host_ext = doc.full(host_ext)
        template = str(host_ext["hostTemplate"])
        if host_ext.get("useSchemePrefix", True):
            template = f"{scheme}://{template}"
        for p in host_ext.get("parameters", []):
            variables[p["name"]] = p.get("default")
    else:
        template = f"{scheme}://{raw.get('host', '')}"
    schemes = {
        name: _swagger_scheme(doc.full(definition))
        for name, definition in (raw.get("securityDefinitions") or {}).items()
    }
    consumes: list[str] = raw.get("consumes") or []
    produces: list[str] = raw.get("produces") or []

    def read(method: str, path: str, op: dict[str, JSON], level: list[JSON]) -> Operation:
        params = _merge_params(level, op.get("parameters", []))
        body: Body | None = None
        for p in params:
            if p.get("in") == "body":
                body = Body(
                    bool(p.get("required", False)),
                    sorted(op.get("consumes", consumes)),
                    normalise_schema(p.get("schema", {})),
                    p.get("description"),
                )
        responses = {}
        for status, r in (op.get("responses") or {}).items():
            headers = {
                name.lower(): normalise_schema(h) for name, h in (r.get("headers") or {}).items()
            }
            schema = normalise_schema(r["schema"]) if "schema" in r else None
            media = sorted(op.get("produces", produces)) if schema is not None else []
            responses[str(status)] = Response(r.get("description"), headers, media, schema)
        pageable = op.get("x-ms-pageable")
        paging = None
        if isinstance(pageable, dict):
            paging = {
                "nextLinkName": pageable.get("nextLinkName"),
                "itemName": pageable.get("itemName", "value"),
            }
        return Operation(
            method,
            base + path,
            op.get("operationId"),
            list(op.get("tags", [])),
            op.get("summary"),
            op.get("description"),
            _params(path, params, _swagger_param_schema),
            body,
            responses,
            _security(op, raw),
            paging,
        )

    return _build(
        doc, "Swagger " + str(raw["swagger"]), "microsoft", template, variables, schemes, read
    )


def _swagger_param_schema(p: dict[str, JSON]) -> dict[str, JSON]:
    drop = {"name", "in", "required", "description", "collectionFormat", "allowEmptyValue"}
    return normalise_schema({k: v for k, v in p.items() if k not in drop})


def _swagger_scheme(d: dict[str, JSON]) -> dict[str, JSON]:
    kind = d.get("type")
    if kind == "oauth2":
        flow = {"application": "clientCredentials", "accessCode": "authorizationCode"}.get(
            d.get("flow", ""), d.get("flow", "")
        )
        details = {k: d[k] for k in ("authorizationUrl", "tokenUrl") if k in d} | {
            "scopes": sorted(d.get("scopes") or {})
        }
        return {"type": "oauth2", "flows": {flow: details}}
    if kind == "apiKey":
        return {"type": "apiKey", "in": d.get("in"), "name": str(d.get("name", "")).lower()}
    return {"type": "http", "scheme": "basic"} if kind == "basic" else {"type": kind}


def _openapi_scheme(d: dict[str, JSON]) -> dict[str, JSON]:
    if d.get("type") == "oauth2":
        flows = {
            name: {k: f[k] for k in ("authorizationUrl", "tokenUrl") if k in f}
            | {"scopes": sorted(f.get("scopes") or {})}
            for name, f in (d.get("flows") or {}).items()
        }
        return {"type": "oauth2", "flows": flows}
    if d.get("type") == "apiKey":
        return {"type": "apiKey", "in": d.get("in"), "name": str(d.get("name", "")).lower()}
    if d.get("type") == "http":
        return {"type": "http", "scheme": str(d.get("scheme", "")).lower()}
    return {"type": d.get("type")}


def _read_openapi(doc: Document, provenance: Provenance) -> Api:
    raw = doc.raw
    servers = doc.full(raw.get("servers") or [{"url": "/"}])
    url = str(servers[0].get("url", "/"))
    parts = urlsplit(url)
    template = f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
    base = parts.path.rstrip("/")
    variables = {k: v.get("default") for k, v in (servers[0].get("variables") or {}).items()}
    components = raw.get("components") or {}
    schemes = {
        name: _openapi_scheme(doc.full(d))
        for name, d in (components.get("securitySchemes") or {}).items()
    }

    def media_schema(content: dict[str, JSON]) -> dict[str, JSON] | None:
        if not content:
            return None
        chosen = content.get("application/json") or next(iter(content.values()))
        return normalise_schema(chosen.get("schema", {}))

    def read(method: str, path: str, op: dict[str, JSON], level: list[JSON]) -> Operation:
        params = _merge_params(level, op.get("parameters", []))
        body = None
        if "requestBody" in op:
            rb = op["requestBody"]
            body = Body(
                bool(rb.get("required", False)),
                sorted(rb.get("content") or {}),
                media_schema(rb.get("content") or {}) or {},
                rb.get("description"),
            )
        responses = {}
        for status, r in (op.get("responses") or {}).items():
            headers = {
                name.lower(): normalise_schema(_with_description(h.get("schema", {}), h))
                for name, h in (r.get("headers") or {}).items()
            }
            content = r.get("content") or {}
            responses[str(status)] = Response(
                r.get("description"), headers, sorted(content), media_schema(content)
            )
        return Operation(
            method,
            base + path,
            op.get("operationId"),
            list(op.get("tags", [])),
            op.get("summary"),
            op.get("description"),
            _params(path, params, lambda p: normalise_schema(p.get("schema", {}))),
            body,
            responses,
            _security(op, raw),
            _openapi_paging(op, responses, provenance.paging),
        )

    flavour = "OpenAPI " + str(raw["openapi"])
    return _build(doc, flavour, "project", template, variables, schemes, read)


def _with_description(schema: JSON, holder: dict[str, JSON]) -> JSON:
    """A header's (or parameter's) own description, as Swagger 2.0 keeps it with the type."""
    if isinstance(schema, dict) and "description" in holder:
        return {**schema, "description": holder["description"]}
    return schema


def _openapi_paging(
    op: dict[str, JSON], responses: dict[str, Response], convention: dict[str, str]
) -> dict[str, JSON] | None:
    """x-ms-pageable if given, else the project's convention (a collection with a next link)."""
    pageable = op.get("x-ms-pageable")
    if isinstance(pageable, dict):
        return {
            "nextLinkName": pageable.get("nextLinkName"),
            "itemName": pageable.get("itemName", "value"),
        }
    for status, response in responses.items():
        if not status.startswith("2") or response.schema is None:
            continue
        props = response.schema.get("properties", {})
        items = props.get(convention["itemName"], {})
        if convention["nextLinkName"] in props and "array" in (items.get("type") or []):
            return dict(convention)
    return None


def _build(
    doc: Document,
    flavour: str,
    origin: str,
    template: str,
    variables: dict[str, JSON],
    schemes: dict[str, dict[str, JSON]],
    read: Callable[[str, str, dict[str, JSON], list[JSON]], Operation],
) -> Api:
    """Read the command operations; keep the others unread, by operationId, for matching."""
    operations: list[Operation] = []
    others: dict[str, Callable[[], Operation]] = {}
    ignored = 0
    for path, raw_item in (doc.raw.get("paths") or {}).items():
        command = bool(COMMAND_PATH.match(path))
        item = doc.full(raw_item) if command else raw_item
        for method in METHODS:
            if method not in item:
                continue
            if command:
                operations.append(read(method, path, item[method], item.get("parameters", [])))
                continue
            ignored += 1
            key = id_key(item[method].get("operationId"))
            if key:
                others[key] = _later(doc, read, method, path, raw_item)
    info = doc.raw.get("info") or {}
    return Api(
        doc.file,
        flavour,
        origin,
        str(info.get("version", "?")),
        template,
        variables,
        schemes,
        operations,
        ignored,
        others,
    )


def _later(
    doc: Document,
    read: Callable[[str, str, dict[str, JSON], list[JSON]], Operation],
    method: str,
    path: str,
    raw_item: JSON,
) -> Callable[[], Operation]:
    def load() -> Operation:
        item = doc.full(raw_item)
        return read(method, path, item[method], item.get("parameters", []))

    return load


# --------------------------------------------------------------------------------------- schemas
BOUNDS_LOW = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
BOUNDS_HIGH = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")


def _flatten_all_of(s: dict[str, JSON]) -> dict[str, JSON]:
    """Fold allOf parts into the schema: properties and required are united, the rest kept once."""
    if "allOf" not in s:
        return s
    merged = {k: v for k, v in s.items() if k != "allOf"}
    properties = dict(merged.get("properties", {}))
    required = set(merged.get("required", []))
    for part in s["allOf"]:
        if not isinstance(part, dict):
            continue
        part = _flatten_all_of(part)
        for key, value in part.items():
            if key == "properties":
                properties = {**value, **properties}
            elif key == "required":
                required |= set(value)
            else:
                merged.setdefault(key, value)
    if properties:
        merged["properties"] = properties
    if required:
        merged["required"] = sorted(required)
    return merged


def normalise_schema(s: JSON) -> dict[str, JSON]:
    """One shape for Swagger 2.0, OpenAPI 3.0 and 3.1 schemas ($refs already resolved)."""
    if not isinstance(s, dict):
        return {} if s is True else {"not": {}}
    if "$recursive" in s:
        return {"$recursive": s["$recursive"]}
    s = _flatten_all_of(s)
    out: dict[str, JSON] = {}
    types = s.get("type")
    if types is not None:
        type_set = {types} if isinstance(types, str) else set(types)
        if s.get("nullable") or s.get("x-nullable"):
            type_set.add("null")
        out["type"] = sorted(type_set)
    if "enum" in s:
        out["enum"] = list(s["enum"])
    for key in ("format", "pattern", "default", "description", *BOUNDS_LOW, *BOUNDS_HIGH):
        if key in s and not isinstance(s[key], bool):
            out[key] = s[key]
    # Swagger 2.0 and OpenAPI 3.0 state exclusive bounds as booleans: use the 3.1 numeric form.
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if s.get(exclusive) is True and bound in s:
            out[exclusive] = out.pop(bound)
    for key in ("readOnly", "writeOnly"):
        if s.get(key):
            out[key] = True
    if s.get("required"):
        out["required"] = sorted(s["required"])
    if "properties" in s:
        out["properties"] = {k: normalise_schema(v) for k, v in s["properties"].items()}
    if "items" in s:
        out["items"] = normalise_schema(s["items"])
    for key in ("oneOf", "anyOf"):
        if key in s:
            out[key] = [normalise_schema(v) for v in s[key]]
    return out


# ----------------------------------------------------------------------------------------- diffing
@dataclass
class Change:
    kind: str
    where: str
    aspect: str
    old: JSON
    new: JSON
    side: str  # "sent", "received" or "both"
    operations: list[str] = field(default_factory=list)
    known: Deviation | None = None

    @property
    def breaking_if_unknown(self) -> bool:
        rule = RULES[self.kind]
        return {"sent": rule.sent, "received": rule.received}.get(
            self.side, rule.sent or rule.received
        )

    @property
    def status(self) -> str:
        if self.known is not None:
            return "known"
        if self.kind == "description-changed":
            return "description"
        return "breaking" if self.breaking_if_unknown else "non-breaking"

    @property
    def identity(self) -> str:
        return json.dumps([self.kind, self.where, self.aspect, self.old, self.new], sort_keys=True)

    def message(self) -> str:
        text = f"{self.where}: {self.aspect} {_show(self.old)} -> {_show(self.new)}"
        if self.kind in ("enum-value-removed", "enum-value-added"):
            a, b = (self.old, self.new) if self.kind.endswith("removed") else (self.new, self.old)
            verb = self.kind.rsplit("-", 1)[-1]
            text += f" ({verb}: {_show([v for v in a if v not in b])})"
        return f"{text} ({self.kind})"


def _show(value: JSON) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value if len(value) <= 60 else value[:57] + "..."
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


class Differ:
    def __init__(self) -> None:
        self.changes: list[Change] = []

    def add(
        self, kind: str, where: str, aspect: str, old: JSON, new: JSON, side: str = "both"
    ) -> None:
        self.changes.append(Change(kind, where, aspect, old, new, side))

    def text(self, where: str, aspect: str, old: JSON, new: JSON) -> None:
        if (old or None) != (new or None):
            self.add("description-changed", where, aspect, old, new)

    # --- schemas
    def schema(
        self, old: dict[str, JSON], new: dict[str, JSON], where: str, side: str, depth: int = 0
    ) -> None:
        if depth > 30 or "$recursive" in old or "$recursive" in new:
            return
        self.text(where, "description", old.get("description"), new.get("description"))
        self._types(old.get("type"), new.get("type"), where, side)
        if old.get("format") != new.get("format"):
            self.add("format-changed", where, "format", old.get("format"), new.get("format"), side)
        self._enum(old.get("enum"), new.get("enum"), where, side)
        for key in (*BOUNDS_LOW, *BOUNDS_HIGH):
            a, b = old.get(key), new.get(key)
            if a == b:
                continue
            if a is None or b is None:
                narrowed = a is None
            else:
                narrowed = b > a if key in BOUNDS_LOW else b < a
            self.add("bound-narrowed" if narrowed else "bound-widened", where, key, a, b, side)
        if old.get("pattern") != new.get("pattern"):
            self.add(
                "pattern-changed", where, "pattern", old.get("pattern"), new.get("pattern"), side
            )
        if old.get("default") != new.get("default"):
            self.add(
                "default-changed", where, "default", old.get("default"), new.get("default"), side
            )
        if bool(old.get("readOnly")) != bool(new.get("readOnly")):
            kind = "readonly-added" if new.get("readOnly") else "readonly-removed"
            self.add(
                kind, where, "readOnly", bool(old.get("readOnly")), bool(new.get("readOnly")), side
            )
        for key in ("oneOf", "anyOf"):
            if old.get(key) != new.get(key):
                self.add("composition-changed", where, key, old.get(key), new.get(key), side)
        old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        for name in sorted(new_req - old_req):
            self.add("required-added", f"{where}.{name}", "required", False, True, side)
        for name in sorted(old_req - new_req):
            self.add("required-removed", f"{where}.{name}", "required", True, False, side)
        for name in old_props.keys() | new_props.keys():
            a, b = old_props.get(name), new_props.get(name)
            inner = f"{where}.{name}"
            if side == "sent" and all(x is None or x.get("readOnly") for x in (a, b)):
                continue  # never sent
            if side == "received" and all(x is None or x.get("writeOnly") for x in (a, b)):
                continue  # never read
            if b is None:
                self.add("property-removed", inner, "property", "present", None, side)
            elif a is None:
                self.add("property-added", inner, "property", None, "present", side)
            else:
                self.schema(a, b, inner, side, depth + 1)
        if "items" in old or "items" in new:
            self.schema(old.get("items", {}), new.get("items", {}), f"{where}[]", side, depth + 1)

    def _types(self, old: JSON, new: JSON, where: str, side: str) -> None:
        if old == new:
            return
        if old is None or new is None:
            kind = "type-narrowed" if old is None else "type-widened"
        else:
            removed, added = set(old) - set(new), set(new) - set(old)
            kind = (
                "type-changed"
                if removed and added
                else "type-narrowed"
                if removed
                else "type-widened"
            )
        self.add(kind, where, "type", old, new, side)

    def _enum(self, old: JSON, new: JSON, where: str, side: str) -> None:
        if old == new:
            return
        if old is None or new is None:
            self.add("enum-added" if old is None else "enum-removed", where, "enum", old, new, side)
            return
        if any(v not in new for v in old):
            self.add("enum-value-removed", where, "enum", old, new, side)
        if any(v not in old for v in new):
            self.add("enum-value-added", where, "enum", old, new, side)

    # --- operations
    def operation(self, old: Operation, new: Operation) -> None:
        if old.key != new.key:
            self.add("operation-moved", "operation", "method+path", old.label, new.label)
        if old.operation_id != new.operation_id:
            self.add(
                "operation-id-changed",
                "operation",
                "operationId",
                old.operation_id,
                new.operation_id,
            )
        if old.tags != new.tags:
            self.add("tags-changed", "operation", "tags", old.tags, new.tags)
        self.text("operation", "summary", old.summary, new.summary)
        self.text("operation", "description", old.description, new.description)
        self._params(old, new)
        self._body(old.body, new.body)
        self._responses(old.responses, new.responses)
        self._security(old.security, new.security)
        if old.paging != new.paging:
            kind = (
                "paging-added"
                if old.paging is None
                else "paging-removed"
                if new.paging is None
                else "paging-changed"
            )
            self.add(kind, "paging", "x-ms-pageable", old.paging, new.paging)

    def _params(self, old: Operation, new: Operation) -> None:
        for key in sorted(old.params.keys() | new.params.keys()):
            a, b = old.params.get(key), new.params.get(key)
            either = a or b
            where = f"param {key[0]} {either.name if either else '?'}"
            if b is None:
                self.add("param-removed", where, "parameter", "present", None)
            elif a is None:
                kind = "param-added-required" if b.required else "param-added"
                self.add(kind, where, "parameter", None, "required" if b.required else "optional")
            else:
                if a.name != b.name:
                    self.add("param-renamed", where, "name", a.name, b.name)
                if a.required != b.required:
                    kind = "required-added" if b.required else "required-removed"
                    self.add(kind, where, "required", a.required, b.required, "sent")
                self.text(where, "description", a.description, b.description)
                self.schema(a.schema, b.schema, where, "sent")

    def _body(self, old: Body | None, new: Body | None) -> None:
        where = "request body"
        if old is None and new is None:
            return
        if new is None:
            self.add("body-removed", where, "body", "present", None)
            return
        if old is None:
            kind = "body-added-required" if new.required else "body-added"
            self.add(kind, where, "body", None, "required" if new.required else "optional")
            return
        if old.required != new.required:
            kind = "required-added" if new.required else "required-removed"
            self.add(kind, where, "required", old.required, new.required, "sent")
        self._media(old.media, new.media, where)
        self.text(where, "description", old.description, new.description)
        self.schema(old.schema, new.schema, where, "sent")

    def _media(self, old: list[str], new: list[str], where: str) -> None:
        for m in sorted(set(old) - set(new)):
            self.add("media-type-removed", where, "media type", m, None)
        for m in sorted(set(new) - set(old)):
            self.add("media-type-added", where, "media type", None, m)

    def _responses(self, old: dict[str, Response], new: dict[str, Response]) -> None:
        for status in sorted(old.keys() | new.keys()):
            a, b = old.get(status), new.get(status)
            where = f"response {status}"
            if b is None:
                self.add("status-removed", where, "status", status, None)
                continue
            if a is None:
                self.add("status-added", where, "status", None, status)
                continue
            self.text(where, "description", a.description, b.description)
            self._media(a.media, b.media, where)
            for name in sorted(a.headers.keys() | b.headers.keys()):
                ha, hb = a.headers.get(name), b.headers.get(name)
                hwhere = f"{where} header {name}"
                if hb is None:
                    self.add("header-removed", hwhere, "header", "present", None)
                elif ha is None:
                    self.add("header-added", hwhere, "header", None, "present")
                else:
                    self.schema(ha, hb, hwhere, "received")
            if a.schema is not None and b.schema is None:
                self.add("property-removed", f"{where} body", "body", "present", None, "received")
            elif a.schema is None and b.schema is not None:
                self.add("property-added", f"{where} body", "body", None, "present", "received")
            elif a.schema is not None and b.schema is not None:
                self.schema(a.schema, b.schema, f"{where} body", "received")

    def _security(self, old: dict[str, list[str]], new: dict[str, list[str]]) -> None:
        for label in sorted(old.keys() | new.keys()):
            where = f"security {label}"
            if label not in new:
                self.add("security-removed", where, "alternative", old[label], None)
            elif label not in old:
                self.add("security-added", where, "alternative", None, new[label])
            else:
                added = sorted(set(new[label]) - set(old[label]))
                removed = sorted(set(old[label]) - set(new[label]))
                if added:
                    self.add("scope-added", where, "scopes", None, added)
                if removed:
                    self.add("scope-removed", where, "scopes", removed, None)


@dataclass
class Report:
    old: Api
    new: Api
    matched: list[tuple[Operation, Operation]]
    removed: list[Operation]
    added: list[Operation]
    changes: list[Change]
    notes: list[str]
    unseen: list[Deviation]

    @property
    def breaking(self) -> bool:
        return any(c.status == "breaking" for c in self.changes)


def compare(old: Api, new: Api, provenance: Provenance) -> Report:
    matched: list[tuple[Operation, Operation]] = []
    new_left = list(new.operations)
    old_left: list[Operation] = []
    for op in old.operations:
        partner = next((n for n in new_left if n.key == op.key), None)
        if partner is None:
            partner = next((n for n in new_left if _same_id(n, op)), None)
        if partner is None and id_key(op.operation_id) in new.others:
            partner = new.others.pop(str(id_key(op.operation_id)))()  # moved off a command path
            new.ignored -= 1
            new_left.append(partner)
        if partner is None:
            old_left.append(op)
        else:
            new_left.remove(partner)
            matched.append((op, partner))
    for op in list(new_left):
        if id_key(op.operation_id) in old.others:
            partner = old.others.pop(str(id_key(op.operation_id)))()
            old.ignored -= 1
            new_left.remove(op)
            matched.append((partner, op))
    labels = {id(pair[0]): pair[0].label for pair in matched}

    changes: list[Change] = []
    for old_op, new_op in matched:
        differ = Differ()
        differ.operation(old_op, new_op)
        for change in differ.changes:
            change.operations = [labels[id(old_op)]]
        changes.extend(differ.changes)
    for op in old_left:
        changes.append(
            Change(
                "operation-removed", "operation", "operation", op.label, None, "both", [op.label]
            )
        )
    for op in new_left:
        changes.append(
            Change("operation-added", "operation", "operation", None, op.label, "both", [op.label])
        )

    document = Differ()
    if old.host != new.host:
        document.add("host-changed", "server", "host", old.host, new.host)
    for name in sorted(old.variables.keys() | new.variables.keys()):
        a, b = old.variables.get(name), new.variables.get(name)
        if a != b:
            document.add("server-default-changed", f"server variable {name}", "default", a, b)
    used_old = {s for op in old.operations for alt in op.security for s in alt.split("+")}
    used_new = {s for op in new.operations for alt in op.security for s in alt.split("+")}
    for name in sorted(used_old | used_new):
        a, b = (
            old.schemes.get(name) if name in used_old else None,
            new.schemes.get(name) if name in used_new else None,
        )
        if a == b:
            continue
        if b is None:
            document.add("security-removed", f"security scheme {name}", "scheme", a, None)
        elif a is None:
            document.add("security-added", f"security scheme {name}", "scheme", None, b)
        else:
            document.add("security-scheme-changed", f"security scheme {name}", "scheme", a, b)
    changes = _merge(changes) + document.changes

    unseen: list[Deviation] = []
    if old.origin != new.origin:
        hit: set[str] = set()
        for change in changes:
            change.known = _known(change, old.origin, provenance)
            if change.known is not None:
                hit.add(change.known.id)
        unseen = [d for d in provenance.deviations if d.changes and d.id not in hit]
    return Report(old, new, matched, old_left, new_left, changes, _notes(old, new), unseen)


def _same_id(a: Operation, b: Operation) -> bool:
    return id_key(a.operation_id) is not None and id_key(a.operation_id) == id_key(b.operation_id)


def _merge(changes: list[Change]) -> list[Change]:
    """One entry per distinct change, listing every operation it applies to."""
    merged: dict[str, Change] = {}
    for change in changes:
        if change.identity in merged:
            merged[change.identity].operations.extend(change.operations)
        else:
            merged[change.identity] = change
    return list(merged.values())


def _known(change: Change, old_origin: str, provenance: Provenance) -> Deviation | None:
    project, microsoft = (
        (change.old, change.new) if old_origin == "project" else (change.new, change.old)
    )
    for deviation in provenance.deviations:
        for m in deviation.changes:
            if not fnmatch.fnmatchcase(change.where, str(m.get("where", "*"))):
                continue
            if not fnmatch.fnmatchcase(change.aspect, str(m.get("aspect", "*"))):
                continue
            if _value_matches(m.get("project", "*"), project) and _value_matches(
                m.get("microsoft", "*"), microsoft
            ):
                return deviation
    return None


def _notes(old: Api, new: Api) -> list[str]:
    notes = []
    for project, other in ((old, new), (new, old)):
        if project.origin != "project" or other.origin == "project":
            continue
        supported: set[str] = set()
        for op in project.operations:
            param = op.params.get(("query", "api-version"))
            supported.update(param.schema.get("enum", []) if param else [])
        if supported and other.version not in supported:
            notes.append(
                f"{other.file} describes api-version {other.version}, not in the project's "
                f"ApiVersion enum {sorted(supported)}: see README, 'API version bumps'"
            )
    return notes


# ---------------------------------------------------------------------------------------- output
def _groups(report: Report) -> Iterator[tuple[str, list[Change]]]:
    everyone = sorted(op.label for op, _ in report.matched)
    order = [op.label for op in report.old.operations] + [op.label for op in report.added]
    buckets: dict[tuple[str, ...], list[Change]] = {}
    for change in report.changes:
        key = tuple(sorted(set(change.operations)))
        buckets.setdefault(key, []).append(change)

    def rank(key: tuple[str, ...]) -> tuple[int, int, int]:
        """The document first, then changes to all operations, to several, to one."""
        if not key:
            return (0, 0, 0)
        if list(key) == everyone:
            return (1, 0, 0)
        return (2, -len(key), min(order.index(k) if k in order else 0 for k in key))

    for key in sorted(buckets, key=rank):
        if not key:
            title = "document (server, security schemes)"
        elif list(key) == everyone and len(key) > 1:
            title = f"all {len(key)} command operations"
        else:
            title = "\n".join(sorted(key, key=lambda k: order.index(k) if k in order else 0))
        yield title, buckets[key]


def _display(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def render_text(report: Report, provenance: Provenance, verbose: bool) -> str:
    out = []
    for tag, api in (("OLD", report.old), ("NEW", report.new)):
        whose = "the project's" if api.origin == "project" else "Microsoft's"
        out.append(
            f"{tag}  {api.file}: {api.flavour}, api-version {api.version} ({whose} description)"
        )
    out.append(
        f"command operations: {len(report.old.operations)} in OLD, "
        f"{len(report.new.operations)} in NEW, {len(report.matched)} matched; "
        "other operations not compared: "
        f"{report.old.ignored} in OLD, {report.new.ignored} in NEW"
    )
    if report.old.origin != report.new.origin:
        out.append(
            f"known deviations from {_display(provenance.path)} apply (project vs Microsoft)"
        )
        absorbed = ", ".join(f"`{d.id}`" for d in provenance.deviations if not d.changes)
        out.append(f"deviations absorbed by the normalisation (never shown as changes): {absorbed}")
    counts = {"breaking": 0, "non-breaking": 0, "known": 0, "description": 0}
    for title, changes in _groups(report):
        shown = [c for c in changes if verbose or c.status != "description"]
        for c in changes:
            counts[c.status] += 1
        if not shown:
            continue
        out.append("")
        out.append(title)
        for c in sorted(
            shown,
            key=lambda c: ("breaking", "non-breaking", "known", "description").index(c.status),
        ):
            line = f"  {c.status.upper() if c.status == 'breaking' else c.status:<13} {c.message()}"
            if c.known is not None:
                line += f"  [PROVENANCE.md deviation `{c.known.id}`]"
            out.append(line)
    for note in report.notes:
        out.append("")
        out.append(f"note: {note}")
    for d in report.unseen:
        out.append("")
        out.append(f"note: deviation `{d.id}` of {_display(provenance.path)} is not seen here")
    out.append("")
    hidden = "" if verbose else " (not shown: --verbose)"
    out.append(
        f"result: {counts['breaking']} breaking, {counts['non-breaking']} non-breaking, "
        f"{counts['known']} known deviations, {counts['description']} description changes{hidden}"
    )
    return "\n".join(out) + "\n"


def render_json(report: Report, provenance: Provenance, verbose: bool) -> str:
    def api(a: Api) -> dict[str, JSON]:
        return {
            "file": a.file,
            "format": a.flavour,
            "origin": a.origin,
            "version": a.version,
            "command_operations": len(a.operations),
            "ignored_operations": a.ignored,
        }

    changes = [
        {
            "status": c.status,
            "kind": c.kind,
            "where": c.where,
            "aspect": c.aspect,
            "old": c.old,
            "new": c.new,
            "breaking_if_unknown": c.breaking_if_unknown,
            "known_deviation": c.known.id if c.known else None,
            "operations": sorted(set(c.operations)),
        }
        for c in report.changes
        if verbose or c.status != "description"
    ]
    data = {
        "old": api(report.old),
        "new": api(report.new),
        "matched": [[a.label, b.label] for a, b in report.matched],
        "removed": [op.label for op in report.removed],
        "added": [op.label for op in report.added],
        "changes": changes,
        "notes": report.notes,
        "unseen_deviations": [d.id for d in report.unseen],
        "absorbed_deviations": [d.id for d in provenance.deviations if not d.changes]
        if report.old.origin != report.new.origin
        else [],
        "breaking": report.breaking,
    }
    return json.dumps(data, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="spec-diff",
        description="Compare two descriptions (OpenAPI 3.x or Swagger 2.0) of the IoT Central "
        "command operations. Exit 0: nothing breaking; 1: breaking; 2: usage or input error.",
    )
    parser.add_argument("old", nargs="?", help="the description the client follows now")
    parser.add_argument("new", nargs="?", help="the description to compare it with")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="also list description changes"
    )
    parser.add_argument("--rules", action="store_true", help="print the rule table and exit")
    parser.add_argument("--no-validate", action="store_true", help="skip openapi-spec-validator")
    parser.add_argument(
        "--provenance", default=str(DEFAULT_PROVENANCE), help="PROVENANCE.md to read"
    )
    args = parser.parse_args(argv)
    if args.rules:
        sys.stdout.write(rules_table() + "\n")
        return 0
    if not args.old or not args.new:
        parser.print_usage(sys.stderr)
        sys.stderr.write("spec-diff: error: OLD and NEW are required\n")
        return 2
    try:
        provenance = load_provenance(Path(args.provenance))
        old = read_api(args.old, check=not args.no_validate, provenance=provenance)
        new = read_api(args.new, check=not args.no_validate, provenance=provenance)
        for api in (old, new):
            if not api.operations:
                raise SpecDiffError(f"{api.file}: no command operations found")
    except SpecDiffError as exc:
        sys.stderr.write(f"spec-diff: error: {exc}\n")
        return 2
    report = compare(old, new, provenance)
    if args.json:
        sys.stdout.write(render_json(report, provenance, args.verbose))
    else:
        sys.stdout.write(render_text(report, provenance, args.verbose))
    return 1 if report.breaking else 0


if __name__ == "__main__":
    sys.exit(main())
