"""The spec binding: routes, parameter and body validation, all read from ``iotcentral.yaml``.

The simulator never hard-codes a path, an api-version or a body schema: it routes with the spec's
``paths`` and validates with openapi-core against the same document the client is generated from.

openapi-core walks the spec on every request (about 15,000 Python calls, 2 ms idle, 20 ms on a
busy machine), which capped the served simulator near 60 requests/s. So each operation's schema
validators are built once, by openapi-core's own factories (:class:`_CompiledChecks`), and a
request that is plainly valid is accepted by those alone. Anything else (an error, a duplicate or
percent-encoded value, a parameter style the fast path does not model) goes through openapi-core
in full, which decides every rejection and its message. ``tests/sim/test_sim_fast_validation.py``
checks the two paths agree on every request hypothesis can build.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from jsonschema_path import SchemaPath
from openapi_core.datatypes import RequestParameters
from openapi_core.deserializing.media_types.exceptions import MediaTypeDeserializeError
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.validation.request.exceptions import (
    InvalidRequestBody,
    MissingRequestBodyError,
    MissingRequiredParameter,
    ParameterValidationError,
    RequestBodyValidationError,
)
from openapi_core.validation.request.validators import (
    V31RequestBodyValidator,
    V31RequestParametersValidator,
)
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from openapi_core.validation.schemas.validators import SchemaValidator
from starlette.datastructures import Headers, QueryParams

from ._errors import SimError

__all__ = ["MAX_JSON_DEPTH", "Operation", "SpecBinding", "json_depth", "spec_path"]

_API_VERSION = "api-version"
#: The deepest nesting of arrays and objects a request body may have (the body object is 1).
MAX_JSON_DEPTH = 64


def spec_path() -> Path:
    """Where the spec is: inside an installed wheel (``_spec/``) or the repository's ``spec/``."""
    packaged = importlib.resources.files("iotcentral_sim") / "_spec" / "iotcentral.yaml"
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "spec" / "iotcentral.yaml"


@dataclass(frozen=True)
class Operation:
    """One spec operation matched by a request: its id, method and unquoted path parameters.

    ``has_body``: the operation declares a ``requestBody`` (validated by :meth:`parse_body`).
    """

    operation_id: str
    method: str
    template: str
    params: Mapping[str, str] = field(default_factory=dict)
    has_body: bool = False


@dataclass(frozen=True)
class _Route:
    template: str
    regex: re.Pattern[str]
    names: tuple[str, ...]
    operations: Mapping[str, str]  # lower-case method -> operationId
    with_body: frozenset[str]  # lower-case methods whose operation declares a requestBody


@dataclass(frozen=True)
class _CompiledChecks:
    """One operation's validators, built once: what the fast path needs to accept a request.

    ``parameters``: (name, location, required, validator) for every parameter, or ``None`` when
    one of them is something the fast path does not model (a header, a style, a default, a
    non-string schema): such operations always take openapi-core's path. ``body``: the JSON body
    schema's validator, or ``None`` (no body, or not plain ``application/json``).
    """

    parameters: tuple[tuple[str, str, bool, SchemaValidator], ...] | None
    body: SchemaValidator | None
    body_media_type: str | None


#: Parameter keys whose presence changes how openapi-core reads a value.
_STYLE_KEYS = frozenset({"content", "style", "explode", "allowEmptyValue", "allowReserved"})


class _Request:
    """openapi-core's request protocol, built by hand: the host is always the spec's server."""

    def __init__(
        self,
        host_url: str,
        path: str,
        method: str,
        query: QueryParams,
        headers: Headers,
        body: bytes | None,
    ) -> None:
        self.host_url = host_url
        self.path = path
        self.method = method
        self.parameters = RequestParameters(query=query, header=headers)
        self.body = body
        self.content_type = headers.get("content-type") or "application/octet-stream"


class SpecBinding:
    """Routes and validators, built once from the spec by each ``Simulator``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or spec_path()
        raw: dict[str, Any] = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        self.document = raw
        server = raw["servers"][0]
        url = server["url"]
        for name, variable in server.get("variables", {}).items():
            url = url.replace("{" + name + "}", str(variable["default"]))
        parts = urlsplit(url)
        self.host_url = f"{parts.scheme}://{parts.netloc}"
        self.base_path = parts.path.rstrip("/")
        # The version registry: every supported api-version (oldest first) and the default.
        schemas = raw["components"]["schemas"]
        self.api_versions: tuple[str, ...] = tuple(schemas["ApiVersion"]["enum"])
        defaults = tuple(schemas["DefaultApiVersion"]["enum"])
        if len(defaults) != 1 or defaults[0] not in self.api_versions:
            raise ValueError(
                f"{self.path}: DefaultApiVersion must list exactly one ApiVersion, got {defaults}"
            )
        self.default_api_version: str = defaults[0]
        api_token = raw["components"]["securitySchemes"]["api_token"]
        self.auth_header: str = api_token["name"]
        self._routes = [self._route(t, item) for t, item in raw["paths"].items()]
        schema_path = SchemaPath.from_dict(raw, base_uri=self.path.resolve().as_uri())
        self.schema_path = schema_path
        self._parameters = V31RequestParametersValidator(schema_path)
        self._body = V31RequestBodyValidator(schema_path)
        #: The fast path (see the module docstring); tests turn it off to compare both paths.
        self.fast = True
        self._compiled: dict[tuple[str, str], _CompiledChecks] = {
            (route.template, method): self._compile(route.template, method)
            for route in self._routes
            for method in route.operations
        }

    def _create_validator(self, schema: SchemaPath, base: Any) -> SchemaValidator:
        """A schema validator made exactly as openapi-core's ``base`` validator makes its own."""
        validator: SchemaValidator = base.schema_validators_factory.create(
            base.spec,
            schema,
            format_validators=base.format_validators,
            extra_format_validators=base.extra_format_validators,
            forbid_unspecified_additional_properties=base.forbid_unspecified_additional_properties,
            enforce_properties_required=base.enforce_properties_required,
        )
        return validator

    def _compile(self, template: str, method: str) -> _CompiledChecks:
        item = self.schema_path / "paths" / template
        operation = item / method
        merged: dict[tuple[str, str], SchemaPath] = {}
        # Operation-level parameters override path-level ones with the same name and location.
        for level in (item, operation):
            for param in level.get("parameters", []):
                merged[((param / "name").read_str(), (param / "in").read_str())] = param
        parameters: list[tuple[str, str, bool, SchemaValidator]] | None = []
        for (name, location), param in merged.items():
            schema = param.get("schema")
            resolved_schema: Any = None
            if schema is not None:
                with schema.resolve() as resolved:
                    resolved_schema = resolved.contents
            modelled = (
                location in ("path", "query")
                and not any(key in param for key in _STYLE_KEYS)
                and not (param / "deprecated").read_bool(default=False)
                and isinstance(resolved_schema, dict)
                and resolved_schema.get("type") == "string"
                and "default" not in resolved_schema
            )
            if not modelled or schema is None or parameters is None:
                parameters = None
                continue
            required = (param / "required").read_bool(default=False)
            validator = self._create_validator(schema, self._parameters)
            parameters.append((name, location, required, validator))
        body: SchemaValidator | None = None
        media_type: str | None = None
        request_body = operation.get("requestBody")
        if request_body is not None:
            content = request_body.get("content")
            json_content = content.get("application/json") if content is not None else None
            if json_content is not None and "encoding" not in json_content:
                body_schema = json_content.get("schema")
                if body_schema is not None:
                    body = self._create_validator(body_schema, self._body)
                    media_type = "application/json"
        return _CompiledChecks(None if parameters is None else tuple(parameters), body, media_type)

    @staticmethod
    def _route(template: str, item: Mapping[str, Any]) -> _Route:
        pattern = ""
        names: list[str] = []
        for piece in re.split(r"(\{[^}]+\})", template):
            if piece.startswith("{") and piece.endswith("}"):
                names.append(piece[1:-1])
                pattern += "([^/]+)"
            else:
                pattern += re.escape(piece)
        methods = ("get", "put", "post", "delete", "patch", "head", "options")
        operations = {m: item[m]["operationId"] for m in methods if m in item}
        with_body = frozenset(m for m in operations if "requestBody" in item[m])
        return _Route(template, re.compile(f"^{pattern}$"), tuple(names), operations, with_body)

    @property
    def operation_ids(self) -> frozenset[str]:
        """Every ``operationId`` the spec routes (the pipeline needs a handler for each)."""
        return frozenset(op for route in self._routes for op in route.operations.values())

    def match(self, method: str, raw_path: str) -> Operation:
        """Find the operation for ``method`` and a percent-encoded path (``/api/...``).

        Raises :class:`SimError` 404 ``NotFound`` or 405 ``MethodNotAllowed``.
        """
        if not raw_path.startswith(self.base_path + "/"):
            raise SimError.not_found()
        sub = raw_path[len(self.base_path) :]
        for route in self._routes:
            found = route.regex.match(sub)
            if found is None:
                continue
            verb = method.lower()
            operation_id = route.operations.get(verb)
            if operation_id is None:
                raise SimError.method_not_allowed(method, route.operations)
            params = dict(zip(route.names, map(unquote, found.groups()), strict=True))
            return Operation(
                operation_id, verb, route.template, params, has_body=verb in route.with_body
            )
        raise SimError.not_found()

    def _request(
        self, method: str, raw_path: str, query: QueryParams, headers: Headers, body: bytes | None
    ) -> _Request:
        return _Request(self.host_url, raw_path, method.lower(), query, headers, body)

    def check_parameters(
        self, method: str, raw_path: str, query: QueryParams, headers: Headers
    ) -> None:
        """Validate path and query parameters against the spec (api-version first).

        Raises :class:`SimError` 400 ``MissingApiVersionParameter`` /
        ``InvalidApiVersionParameter`` (or ``InvalidParameter`` for any other parameter).
        """
        if self.fast and self._parameters_plainly_valid(method, raw_path, query):
            return
        request = self._request(method, raw_path, query, headers, None)
        errors = list(self._parameters.iter_errors(request))
        for error in errors:
            if isinstance(error, ParameterValidationError) and error.name == _API_VERSION:
                raise self._api_version_error(error, query)
        for error in errors:
            raise SimError.invalid_parameter(getattr(error, "name", "?"))

    def _parameters_plainly_valid(self, method: str, raw_path: str, query: QueryParams) -> bool:
        """True when every parameter is present once, unencoded and valid by its schema.

        False means "ask openapi-core", never "invalid": the full path then decides.
        """
        if "%" in raw_path:  # decoding questions are openapi-core's to answer
            return False
        try:
            operation = self.match(method, raw_path)
        except SimError:
            return False
        compiled = self._compiled[(operation.template, operation.method)]
        if compiled.parameters is None:
            return False
        for name, location, required, validator in compiled.parameters:
            if location == "path":
                values = [operation.params[name]] if name in operation.params else []
            else:
                values = query.getlist(name)
            if not values:
                if required:
                    return False
                continue
            if len(values) > 1 or values[0] == "":
                return False
            try:
                validator.validate(values[0])
            except InvalidSchemaValue:
                return False
        return True

    def _body_if_plainly_valid(
        self, method: str, raw_path: str, headers: Headers, body: bytes
    ) -> tuple[bool, Any]:
        """``(True, document)`` for a plain JSON body valid by the operation's schema.

        ``(False, None)`` means "ask openapi-core", never "invalid".
        """
        try:
            operation = self.match(method, raw_path)
        except SimError:
            return False, None
        compiled = self._compiled[(operation.template, operation.method)]
        if compiled.body is None or headers.get("content-type") != compiled.body_media_type:
            return False, None
        try:
            document = json.loads(body, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            return False, None
        if json_depth(document, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            return False, None
        try:
            compiled.body.validate(document)
        except (InvalidSchemaValue, RecursionError):
            return False, None
        return True, document

    def _api_version_error(self, error: ParameterValidationError, query: QueryParams) -> SimError:
        if isinstance(error, MissingRequiredParameter):
            return SimError.missing_api_version(self.api_versions)
        return SimError.invalid_api_version(query.get(_API_VERSION, ""), self.api_versions)

    def parse_body(self, method: str, raw_path: str, headers: Headers, body: bytes) -> Any:
        """Validate a request body against the operation's schema and return it parsed.

        Raises :class:`SimError` 415 ``UnsupportedMediaType``, 400 ``InvalidJson`` or
        422 ``InvalidRequestBody`` (the message names each offending field).
        """
        if self.fast:
            plain, document = self._body_if_plainly_valid(method, raw_path, headers, body)
            if plain:
                return document
        _check_depth(headers, body)
        request = self._request(method, raw_path, QueryParams(), headers, body)
        try:
            for error in self._body.iter_errors(request):
                raise _body_error(error)
        except RecursionError:  # pragma: no cover - _check_depth stops these first
            raise SimError.json_too_deep(MAX_JSON_DEPTH) from None
        try:
            return json.loads(body, parse_constant=_reject_constant)
        except ValueError as exc:  # NaN / Infinity: not JSON, and not re-serialisable as JSON
            raise SimError.invalid_json() from exc


def json_depth(value: Any, limit: int) -> int:
    """How deep arrays and objects nest in ``value`` (a scalar is 0), counted up to ``limit + 1``.

    Iterative, so no document is too deep to measure.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > limit:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def _check_depth(headers: Headers, body: bytes) -> None:
    """400 ``InvalidJson`` for a JSON body nested deeper than :data:`MAX_JSON_DEPTH`.

    Runs before validation, whose recursive parsers would fail on such a body with an internal
    error. Bodies that are not JSON, or not sent as JSON, are left to the validator's errors.
    """
    media_type = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        return
    try:
        document = json.loads(body)
    except RecursionError:
        raise SimError.json_too_deep(MAX_JSON_DEPTH) from None
    except ValueError:
        return
    if json_depth(document, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise SimError.json_too_deep(MAX_JSON_DEPTH)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _body_error(error: Exception) -> SimError:
    cause = error.__cause__
    if isinstance(error, MissingRequestBodyError):
        return SimError.missing_body()
    if isinstance(cause, MediaTypeNotFound):
        return SimError.unsupported_media_type()
    if isinstance(cause, MediaTypeDeserializeError):
        return SimError.invalid_json()
    if isinstance(error, InvalidRequestBody) and isinstance(cause, InvalidSchemaValue):
        return SimError.invalid_request_body(sorted(_describe(e) for e in cause.schema_errors))
    if isinstance(error, RequestBodyValidationError):
        return SimError.invalid_request_body()
    return SimError.bad_request()


def _describe(error: Any) -> str:
    location = ".".join(str(p) for p in getattr(error, "absolute_path", ())) or "body"
    message = str(getattr(error, "message", error))
    if len(message) > 200:
        message = message[:200] + "..."
    return f"{location}: {message}"
