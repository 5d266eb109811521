"""Which generated request builder serves which call: the operation table.

The generated layer is used only to *build* requests. Every generated operation module has a pure
function `_get_kwargs(...)` that turns path parameters, query parameters and the body model into
the method, URL template (values percent-encoded), query, JSON body and headers of the request.
The clients send what it builds from their own `_send` (timeouts, request ids, logging and any
future pacing apply there) and map the response themselves, so the generated `*_detailed`
functions and their parsers are never called.

`_get_kwargs` is private to the generator: this table is the only place that names it, and it is
read at import time, so a generator upgrade that renames it fails loudly on `import iotcentral`
(and in tests/client/test_client_operations.py), never silently.

The table is keyed by (api-version, kind, Target). Which versions exist and which is the default
is stated once, in the spec (`components/schemas/ApiVersion` and `DefaultApiVersion`); the
generator turns both into `Literal` types, read here, so the wrapper never names a version. Every
version of the spec's `ApiVersion` enum shares that spec's builders. A version whose command
operations differ gets its own spec file and generated package, whose builders are added to this
table under its versions only (README, "API version bumps").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from iotcentral_api.api.devices import (
    get_command_history,
    get_component_command_history,
    get_module_command_history,
    get_module_component_command_history,
    run_command,
    run_component_command,
    run_module_command,
    run_module_component_command,
)
from iotcentral_api.models.api_version import ApiVersion
from iotcentral_api.models.default_api_version import DefaultApiVersion

__all__ = [
    "DEFAULT_API_VERSION",
    "OPERATIONS",
    "SUPPORTED_API_VERSIONS",
    "Kind",
    "RequestBuilder",
    "Target",
]

Kind = Literal["run", "history"]

#: A generated `_get_kwargs`: keyword arguments in, `httpx.Client.request` keyword arguments out.
RequestBuilder = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class Target:
    """Where a command is defined: on the device, a component, a module or a module's component."""

    component: bool = False
    module: bool = False

    @classmethod
    def of(cls, *, component: str | None, module: str | None) -> Target:
        """The target shape for the given (already checked) component and module names."""
        return cls(component=component is not None, module=module is not None)


#: The request builders of the one generated package (spec/iotcentral.yaml).
_BUILDERS: dict[tuple[Kind, Target], RequestBuilder] = {
    ("run", Target()): run_command._get_kwargs,
    ("run", Target(component=True)): run_component_command._get_kwargs,
    ("run", Target(module=True)): run_module_command._get_kwargs,
    ("run", Target(component=True, module=True)): run_module_component_command._get_kwargs,
    ("history", Target()): get_command_history._get_kwargs,
    ("history", Target(component=True)): get_component_command_history._get_kwargs,
    ("history", Target(module=True)): get_module_command_history._get_kwargs,
    ("history", Target(component=True, module=True)): (
        get_module_component_command_history._get_kwargs
    ),
}

#: Every api-version the client speaks, oldest first, as the spec's `ApiVersion` enum lists them.
SUPPORTED_API_VERSIONS: tuple[str, ...] = get_args(ApiVersion)

#: The api-version sent when the caller chooses none: the spec's `DefaultApiVersion`.
DEFAULT_API_VERSION: str
(DEFAULT_API_VERSION,) = get_args(DefaultApiVersion)
if DEFAULT_API_VERSION not in SUPPORTED_API_VERSIONS:  # pragma: no cover - a broken spec
    raise ImportError(f"the spec's DefaultApiVersion {DEFAULT_API_VERSION} is not an ApiVersion")

OPERATIONS: dict[tuple[str, Kind, Target], RequestBuilder] = {
    (version, kind, target): build
    for version in SUPPORTED_API_VERSIONS
    for (kind, target), build in _BUILDERS.items()
}
