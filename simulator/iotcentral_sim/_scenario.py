"""Scenarios: the devices, commands and tokens a simulator starts with (no HTTP here).

A scenario is plain data, loaded from YAML or JSON (:func:`load_scenario`) or built from a mapping
(:meth:`Scenario.from_dict`). The format is documented in ``simulator/README.md``; the built-in
default lives in ``data/default_scenario.yaml``.
"""

from __future__ import annotations

import importlib.resources
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias, cast, get_args

import yaml

from ._errors import ScenarioError

__all__ = [
    "DEFAULT_API_TOKEN",
    "DEFAULT_BEARER_TOKEN",
    "DEFAULT_VIEWER_TOKEN",
    "RUN_ROLES",
    "CommandSpec",
    "ComponentSpec",
    "DeviceSpec",
    "HandlerKind",
    "ModuleSpec",
    "Role",
    "Scenario",
    "TokenKind",
    "TokenSpec",
    "default_scenario",
    "load_scenario",
]


def _dev_api_token(role: str) -> str:
    """A well-known API token in the service's raw format (public: it opens only a simulator)."""
    app_id = "00000000-0000-0000-0000-000000000000"
    return (
        f"SharedAccessSignature sr={app_id}&sig=iotcentral-sim-{role}&skn={role}&se=4102444800000"
    )


#: The simulator's well-known operator API token (public: it only ever opens a local simulator).
DEFAULT_API_TOKEN = _dev_api_token("operator")
#: The simulator's well-known viewer API token: it may read history but not run commands.
DEFAULT_VIEWER_TOKEN = _dev_api_token("viewer")
#: The simulator's well-known bearer token (sent as ``Authorization: Bearer <token>``).
DEFAULT_BEARER_TOKEN = "iotcentral-sim-bearer-token"  # noqa: S105 - public dev constant

JSONValue: TypeAlias = Any
HandlerKind = Literal["echo", "fixed", "fail", "long_running"]
Role = Literal["administrator", "builder", "operator", "viewer"]
TokenKind = Literal["api", "bearer"]
#: Roles whose tokens may run commands; every role may read command history.
RUN_ROLES: frozenset[str] = frozenset({"administrator", "builder", "operator"})

_DEFAULT_CODES: dict[str, int] = {"echo": 200, "fixed": 200, "fail": 500, "long_running": 202}


@dataclass(frozen=True)
class CommandSpec:
    """How a device answers one command.

    ``handler``: ``echo`` (response = request, responseCode 200), ``fixed`` (``response`` with
    ``response_code``, default 200), ``fail`` (device-side failure: ``response_code`` default 500,
    e.g. 400) or ``long_running`` (``response_code`` 202). ``responds_after`` (seconds) overrides
    the device's answer delay for this command.
    """

    handler: HandlerKind = "echo"
    response: JSONValue = None
    response_code: int | None = None
    responds_after: float | None = None

    @property
    def code(self) -> int:
        """The device's response code for this command."""
        if self.response_code is not None:
            return self.response_code
        return _DEFAULT_CODES[self.handler]


@dataclass(frozen=True)
class ComponentSpec:
    """A component of a device or of a module, with its commands."""

    name: str
    commands: Mapping[str, CommandSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class ModuleSpec:
    """A module of an IoT Edge device, with its commands and components."""

    name: str
    commands: Mapping[str, CommandSpec] = field(default_factory=dict)
    components: Mapping[str, ComponentSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class DeviceSpec:
    """A simulated device.

    ``online``: connected from the start. ``connects_after``: the device starts offline and comes
    online that many seconds after the first command attempt on it (since start or reset), so a
    ``connectionTimeout`` at least that long reaches it. ``responds_after``: seconds the device
    takes to answer (compared with ``responseTimeout``).
    """

    id: str
    online: bool = True
    connects_after: float | None = None
    responds_after: float = 0.0
    commands: Mapping[str, CommandSpec] = field(default_factory=dict)
    components: Mapping[str, ComponentSpec] = field(default_factory=dict)
    modules: Mapping[str, ModuleSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class TokenSpec:
    """An accepted credential. ``token`` is secret: it never appears in a repr or a response."""

    token: str = field(repr=False)
    role: Role = "operator"
    kind: TokenKind = "api"
    name: str = ""

    @property
    def can_run(self) -> bool:
        """Whether this token's role may run commands (every role may read history)."""
        return self.role in RUN_ROLES


def _default_tokens() -> tuple[TokenSpec, ...]:
    return (
        TokenSpec(DEFAULT_API_TOKEN, "operator", "api", "operator"),
        TokenSpec(DEFAULT_VIEWER_TOKEN, "viewer", "api", "viewer"),
        TokenSpec(DEFAULT_BEARER_TOKEN, "operator", "bearer", "bearer"),
    )


@dataclass(frozen=True)
class Scenario:
    """Devices and tokens a :class:`~iotcentral_sim.Simulator` starts with (immutable)."""

    devices: Mapping[str, DeviceSpec] = field(default_factory=dict)
    tokens: tuple[TokenSpec, ...] = field(default_factory=_default_tokens)
    name: str = "custom"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, name: str = "custom") -> Scenario:
        """Build a scenario from the file format's mapping; raises :class:`ScenarioError`."""
        if not isinstance(data, Mapping):
            raise ScenarioError("scenario: expected a mapping with 'devices' (and 'tokens')")
        _check_keys(data, {"devices", "tokens", "name", "fleets"}, "scenario")
        devices_raw = data.get("devices")
        if devices_raw is None:
            devices_raw = {}
        if not isinstance(devices_raw, Mapping):
            raise ScenarioError("devices: expected a mapping of device id to device")
        devices = {
            str(dev_id): _device(str(dev_id), spec or {}) for dev_id, spec in devices_raw.items()
        }
        tokens = _default_tokens() if "tokens" not in data else _tokens(data["tokens"])
        if data.get("fleets") is not None:  # generated devices, built on lookup (_fleet.py)
            from ._fleet import FleetDevices, parse_fleets

            fleets = parse_fleets(data["fleets"], _commands)
            return cls(FleetDevices(devices, fleets), tokens, str(data.get("name", name)))
        return cls(devices=devices, tokens=tokens, name=str(data.get("name", name)))


def _check_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ScenarioError(f"{where}: expected a number of seconds >= 0, got {value!r}")
    return float(value)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{where}: expected a mapping")
    return value


def _command(spec: Any, where: str) -> CommandSpec:
    if spec is None:
        return CommandSpec()
    if isinstance(spec, str):
        spec = {"handler": spec}
    if not isinstance(spec, Mapping):
        raise ScenarioError(f"{where}: expected a handler name or a mapping")
    _check_keys(spec, {"handler", "response", "response_code", "responds_after"}, where)
    handler = spec.get("handler", "echo")
    if handler not in get_args(HandlerKind):
        kinds = ", ".join(get_args(HandlerKind))
        raise ScenarioError(f"{where}.handler: unknown handler {handler!r}; one of {kinds}")
    code = spec.get("response_code")
    if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
        raise ScenarioError(f"{where}.response_code: expected an integer, got {code!r}")
    after = spec.get("responds_after")
    return CommandSpec(
        handler=cast(HandlerKind, handler),
        response=spec.get("response"),
        response_code=code,
        responds_after=None if after is None else _number(after, f"{where}.responds_after"),
    )


def _commands(value: Any, where: str) -> dict[str, CommandSpec]:
    raw = _mapping(value, where)
    return {str(name): _command(spec, f"{where}.{name}") for name, spec in raw.items()}


def _component(name: str, spec: Any, where: str) -> ComponentSpec:
    raw = _mapping(spec, where)
    _check_keys(raw, {"commands"}, where)
    return ComponentSpec(name, _commands(raw.get("commands"), f"{where}.commands"))


def _components(value: Any, where: str) -> dict[str, ComponentSpec]:
    raw = _mapping(value, where)
    return {str(n): _component(str(n), s, f"{where}.{n}") for n, s in raw.items()}


def _module(name: str, spec: Any, where: str) -> ModuleSpec:
    raw = _mapping(spec, where)
    _check_keys(raw, {"commands", "components"}, where)
    return ModuleSpec(
        name,
        _commands(raw.get("commands"), f"{where}.commands"),
        _components(raw.get("components"), f"{where}.components"),
    )


def _device(dev_id: str, spec: Any) -> DeviceSpec:
    where = f"devices.{dev_id}"
    raw = _mapping(spec, where)
    _check_keys(
        raw,
        {"online", "connects_after", "responds_after", "commands", "components", "modules"},
        where,
    )
    online = raw.get("online", True)
    if not isinstance(online, bool):
        raise ScenarioError(f"{where}.online: expected true or false")
    connects_after = raw.get("connects_after")
    if connects_after is not None:
        connects_after = _number(connects_after, f"{where}.connects_after")
        if raw.get("online") is True:
            raise ScenarioError(f"{where}: connects_after means the device starts offline")
        online = False
    modules_raw = _mapping(raw.get("modules"), f"{where}.modules")
    return DeviceSpec(
        id=dev_id,
        online=online,
        connects_after=connects_after,
        responds_after=_number(raw.get("responds_after", 0), f"{where}.responds_after"),
        commands=_commands(raw.get("commands"), f"{where}.commands"),
        components=_components(raw.get("components"), f"{where}.components"),
        modules={
            str(n): _module(str(n), s, f"{where}.modules.{n}") for n, s in modules_raw.items()
        },
    )


def _tokens(value: Any) -> tuple[TokenSpec, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ScenarioError("tokens: expected a list of {token, role, type}")
    tokens = []
    for index, item in enumerate(value):
        where = f"tokens[{index}]"
        if not isinstance(item, Mapping):
            raise ScenarioError(f"{where}: expected a mapping with token, role and type")
        _check_keys(item, {"token", "role", "type", "name"}, where)
        token = item.get("token")
        if not isinstance(token, str) or not token.strip():
            raise ScenarioError(f"{where}.token: expected a non-empty string")
        role = item.get("role", "operator")
        if role not in get_args(Role):
            raise ScenarioError(f"{where}.role: one of {', '.join(get_args(Role))}")
        kind = item.get("type", "api")
        if kind not in get_args(TokenKind):
            raise ScenarioError(f"{where}.type: one of {', '.join(get_args(TokenKind))}")
        tokens.append(
            TokenSpec(
                token.strip(),
                cast(Role, role),
                cast(TokenKind, kind),
                str(item.get("name") or f"{kind}-{index}"),
            )
        )
    return tuple(tokens)


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Load a scenario from a YAML (``.yaml``/``.yml``) or JSON (``.json``) file.

    Raises :class:`ScenarioError` for malformed content and ``OSError`` for unreadable files.
    """
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{file.name}: not valid {file.suffix or 'YAML'}: {exc}") from exc
    return Scenario.from_dict(data or {}, name=file.stem)


def default_scenario() -> Scenario:
    """The built-in scenario (``data/default_scenario.yaml``), documented in the README."""
    text = (
        importlib.resources.files("iotcentral_sim") / "data" / "default_scenario.yaml"
    ).read_text(encoding="utf-8")
    return Scenario.from_dict(yaml.safe_load(text), name="default")
