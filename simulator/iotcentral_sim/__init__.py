"""iotcentral_sim: a local Azure IoT Central device-command service, driven by spec/.

The ASGI app follows only ``spec/iotcentral.yaml``; state lives in each :class:`Simulator`
instance (nothing is shared between instances). See ``simulator/README.md``.
"""

from ._app import CommandKey, Simulator
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
