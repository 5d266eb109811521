"""What the contract suite tests: the simulator in-process (default) or a live IoT Central app.

Live mode is chosen by environment variables (set directly, or by `scripts/contract-test`):

| variable | meaning |
|---|---|
| `IOTC_CONTRACT_BASE_URL` | the app's API root, e.g. `https://myapp.azureiotcentral.com/api` |
| `IOTC_CONTRACT_TOKEN` | the full `Authorization` value: an API token or `Bearer <jwt>` |
| `IOTC_CONTRACT_DEVICE` | the only device the suite may send commands to |
| `IOTC_CONTRACT_COMMAND` | the only command it may run |
| `IOTC_CONTRACT_COMPONENT`, `IOTC_CONTRACT_MODULE` | optional: test component/module operations |

Commands have side effects on real devices, so in live mode every request is checked against the
allow-list before it is sent (`Target.check_allowed`), and operations that would need another
device, component or module are not generated at all.

The one exception is the not-found probes (`Target.nonexistent_device`,
`Target.impossible_command`): ids minted by the suite that cannot name anything, so nothing they
address reaches a device. Only ids minted this way pass `check_allowed`, and only in the position
they were minted for.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

ENV_PREFIX = "IOTC_CONTRACT_"


class NotAllowListed(AssertionError):
    """A request would have reached a device or command outside the live allow-list."""


@dataclass(frozen=True)
class Target:
    """A server under contract test and the identities it may be exercised with."""

    base_url: str
    authorization: str = field(repr=False)
    device: str = "mx1"
    command: str = "CoolDown"
    component: str | None = None
    module: str | None = None
    live: bool = False
    _probes: dict[str, set[str]] = field(
        default_factory=lambda: {"deviceId": set(), "commandName": set()},
        repr=False,
        compare=False,
    )

    @classmethod
    def from_environment(cls) -> Target | None:
        """The live target the environment names, or None (then the simulator is the target)."""
        base_url = os.environ.get(ENV_PREFIX + "BASE_URL", "").strip()
        if not base_url:
            return None
        missing = [
            ENV_PREFIX + name
            for name in ("TOKEN", "DEVICE", "COMMAND")
            if not os.environ.get(ENV_PREFIX + name, "").strip()
        ]
        if missing:
            raise RuntimeError(f"live contract tests need {', '.join(missing)} as well")
        return cls(
            base_url=base_url.rstrip("/"),
            authorization=os.environ[ENV_PREFIX + "TOKEN"].strip(),
            device=os.environ[ENV_PREFIX + "DEVICE"].strip(),
            command=os.environ[ENV_PREFIX + "COMMAND"].strip(),
            component=os.environ.get(ENV_PREFIX + "COMPONENT", "").strip() or None,
            module=os.environ.get(ENV_PREFIX + "MODULE", "").strip() or None,
            live=True,
        )

    def path_parameters(self) -> dict[str, str]:
        """The allow-listed value of every path parameter this target can fill."""
        values = {"deviceId": self.device, "commandName": self.command}
        if self.component is not None:
            values["componentName"] = self.component
        if self.module is not None:
            values["moduleName"] = self.module
        return values

    def can_fill(self, path_template: str) -> bool:
        """Whether every parameter of an operation's path has an allow-listed value."""
        names = {part[1:-1] for part in path_template.split("/") if part.startswith("{")}
        # Exactly the allow-listed target: with a component, the device-level command of the
        # same name is another command, and is not allow-listed.
        return names == set(self.path_parameters())

    def command_path(self, device: str | None = None, command: str | None = None) -> str:
        """The allow-listed command's path under the API root (quoted), optionally with a probe."""
        parts = ["devices", device or self.device]
        if self.module is not None:
            parts += ["modules", self.module]
        if self.component is not None:
            parts += ["components", self.component]
        parts += ["commands", command or self.command]
        return "/" + "/".join(quote(part, safe="") for part in parts)

    def nonexistent_device(self) -> str:
        """A fresh random UUID as device id: no app has it (allowed as `deviceId` only)."""
        device = str(uuid.uuid4())
        self._probes["deviceId"].add(device)
        return device

    def impossible_command(self) -> str:
        """A command name no device can define (allowed as `commandName` only).

        DTDL names match `^[a-zA-Z](?:[a-zA-Z0-9_]*[a-zA-Z0-9])?$` (at most 64 characters); this one
        has hyphens and is longer, so no device template can declare it.
        """
        command = f"iotc-contract-no-such-command-{uuid.uuid4()}"
        self._probes["commandName"].add(command)
        return command

    def check_allowed(self, path_parameters: dict[str, Any] | None) -> None:
        """Refuse (before sending) any live request outside the allow-list.

        A not-found probe may replace the device id (then nothing can reach a device) or the
        command name (then the allow-listed device gets no command), never both kinds at once
        and never any other value.
        """
        if not self.live:
            return
        allowed = self.path_parameters()
        given = path_parameters or {}
        if set(given) != set(allowed):
            raise NotAllowListed(
                f"refusing to send: path {sorted(given)} is not the allow-listed target"
            )
        for name, value in given.items():
            if name in self._probes and value in self._probes[name]:
                continue
            if name not in allowed or value != allowed[name]:
                raise NotAllowListed(f"refusing to send: {name}={value!r} is not allow-listed")
