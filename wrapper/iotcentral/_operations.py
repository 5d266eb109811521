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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

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

__all__ = ["OPERATIONS", "Kind", "RequestBuilder", "Target"]

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


OPERATIONS: dict[tuple[Kind, Target], RequestBuilder] = {
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
