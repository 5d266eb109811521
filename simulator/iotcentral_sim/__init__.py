"""iotcentral_sim: a local Azure IoT Central device-command service, driven by spec/.

The ASGI app follows only ``spec/iotcentral.yaml``; state lives in each :class:`Simulator`
instance (nothing is shared between instances). See ``simulator/README.md``.

Names are imported lazily, so ``import iotcentral_sim`` (and the pytest plugin, which pytest
loads in every session) costs nothing until the simulator is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._app import Simulator
    from ._backend import CommandKey
    from ._errors import ConnectionDropped, ScenarioError
    from ._faults import FAULT_KINDS, Fault
    from ._scenario import (
        DEFAULT_API_TOKEN,
        DEFAULT_BEARER_TOKEN,
        DEFAULT_VIEWER_TOKEN,
        CommandSpec,
        ComponentSpec,
        DeviceSpec,
        ModuleSpec,
        Scenario,
        TokenSpec,
        default_scenario,
        load_scenario,
    )
    from ._server import SimulatorServer, serve

__all__ = [
    "DEFAULT_API_TOKEN",
    "DEFAULT_BEARER_TOKEN",
    "DEFAULT_VIEWER_TOKEN",
    "FAULT_KINDS",
    "CommandKey",
    "CommandSpec",
    "ComponentSpec",
    "ConnectionDropped",
    "DeviceSpec",
    "Fault",
    "ModuleSpec",
    "Scenario",
    "ScenarioError",
    "Simulator",
    "SimulatorServer",
    "TokenSpec",
    "default_scenario",
    "load_scenario",
    "serve",
]

_HOMES = {
    "CommandKey": "_backend",
    "Simulator": "_app",
    "ConnectionDropped": "_errors",
    "ScenarioError": "_errors",
    "FAULT_KINDS": "_faults",
    "Fault": "_faults",
    "SimulatorServer": "_server",
    "serve": "_server",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f".{_HOMES.get(name, '_scenario')}", __name__)
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
