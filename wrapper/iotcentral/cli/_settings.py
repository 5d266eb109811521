"""Where the command line sends and with which credential: `Settings` and `connect`.

`Settings` holds what the connection options (`_options`) and their IOTC_* variables gave; it is
built with keyword arguments only, so a new option cannot shift the others. `connect` opens the
client it describes or, with no app configured, one for an embedded simulator (the `sim` extra,
which the `cli` extra includes) and says so on stderr.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from .._auth import ApiToken, BearerToken, TokenCredentialAuth
from .._client import IoTCentralClient
from .._config import DEFAULT_API_VERSION, DEFAULT_BASE_DOMAIN
from .._redact import secrets_in
from ._output import UsageError, error

__all__ = ["Settings", "connect"]

_INSTALL_AZURE = "--azure needs azure-identity: pip install 'iotcentral-client[azure]'"
_INSTALL_SIM = (
    "no app configured and the embedded simulator is not installed:"
    " pip install 'iotcentral-client[sim]', or set IOTC_APP / IOTC_BASE_URL"
)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The app, credential and retries given on the command line or in the environment."""

    app: str | None = None
    base_domain: str = DEFAULT_BASE_DOMAIN
    base_url: str | None = None
    api_token: str | None = field(default=None, repr=False)
    bearer_token: str | None = field(default=None, repr=False)
    azure: bool = False
    max_retries: int = 3
    api_version: str = DEFAULT_API_VERSION

    @property
    def secrets(self) -> tuple[str, ...]:
        """What error messages must not show: the given tokens."""
        return secrets_in(self.api_token) + secrets_in(self.bearer_token)

    def credential(self) -> ApiToken | BearerToken | TokenCredentialAuth:
        """The one credential chosen; `UsageError` if none or more than one."""
        chosen = [
            name
            for name, value in (
                ("--api-token", self.api_token),
                ("--bearer-token", self.bearer_token),
                ("--azure", self.azure),
            )
            if value
        ]
        if len(chosen) > 1:
            raise UsageError(f"choose one credential, got {' and '.join(chosen)}")
        if self.api_token:
            return ApiToken(self.api_token)
        if self.bearer_token:
            return BearerToken(self.bearer_token)
        if self.azure:
            try:
                identity = importlib.import_module("azure.identity")  # the optional `azure` extra
            except ImportError:
                raise UsageError(_INSTALL_AZURE) from None
            return TokenCredentialAuth(identity.DefaultAzureCredential())
        raise UsageError(
            "no credentials: set IOTC_API_TOKEN (or --api-token), IOTC_BEARER_TOKEN"
            " (or --bearer-token), or pass --azure"
        )


@contextlib.contextmanager
def connect(settings: Settings) -> Iterator[IoTCentralClient]:
    """A client for `settings`; with no app configured, one for an embedded simulator."""
    if settings.app or settings.base_url:
        if settings.app and settings.base_url:
            raise UsageError("give either --app/IOTC_APP or --base-url/IOTC_BASE_URL, not both")
        with IoTCentralClient(
            settings.app or None,
            base_url=settings.base_url or None,
            base_domain=settings.base_domain,
            credential=settings.credential(),
            retry=settings.max_retries,
            api_version=settings.api_version,
        ) as client:
            yield client
        return
    try:
        from iotcentral_sim import DEFAULT_API_TOKEN, Simulator, SimulatorServer
    except ImportError:
        raise UsageError(_INSTALL_SIM) from None
    with SimulatorServer(Simulator(), host="127.0.0.1", port=0) as server:
        error(
            f"no app configured (IOTC_APP or IOTC_BASE_URL): using the embedded simulator at"
            f" {server.url}"
        )
        with IoTCentralClient(
            base_url=server.url,
            credential=ApiToken(DEFAULT_API_TOKEN),
            retry=settings.max_retries,
            api_version=settings.api_version,
        ) as client:
            yield client
