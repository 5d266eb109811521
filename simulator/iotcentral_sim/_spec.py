"""The spec binding: routes, parameter and body validation, all read from ``iotcentral.yaml``.

The simulator never hard-codes a path, an api-version or a body schema: it routes with the spec's
``paths`` and validates with openapi-core against the same document the client is generated from.
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
        request = self._request(method, raw_path, query, headers, None)
        errors = list(self._parameters.iter_errors(request))
        for error in errors:
            if isinstance(error, ParameterValidationError) and error.name == _API_VERSION:
                raise self._api_version_error(error, query)
        for error in errors:
            raise SimError.invalid_parameter(getattr(error, "name", "?"))

    def _api_version_error(self, error: ParameterValidationError, query: QueryParams) -> SimError:
        if isinstance(error, MissingRequiredParameter):
            return SimError.missing_api_version(self.api_versions)
        return SimError.invalid_api_version(query.get(_API_VERSION, ""), self.api_versions)

    def parse_body(self, method: str, raw_path: str, headers: Headers, body: bytes) -> Any:
        """Validate a request body against the operation's schema and return it parsed.

        Raises :class:`SimError` 415 ``UnsupportedMediaType``, 400 ``InvalidJson`` or
        422 ``InvalidRequestBody`` (the message names each offending field).
        """
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
