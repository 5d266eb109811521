"""Client settings: service constants, timeouts, base URL checks and the User-Agent."""

from __future__ import annotations

import ipaddress
import math
import platform
import re
from dataclasses import dataclass

import httpx

from ._errors import InvalidArgumentError
from ._operations import DEFAULT_API_VERSION, SUPPORTED_API_VERSIONS
from ._version import __version__

__all__ = [
    "AZURE_SCOPE",
    "DEFAULT_API_VERSION",
    "DEFAULT_BASE_DOMAIN",
    "DEFAULT_TIMEOUT",
    "SERVICE_DEFAULT_CONNECTION_TIMEOUT",
    "SERVICE_DEFAULT_RESPONSE_TIMEOUT",
    "SUPPORTED_API_VERSIONS",
    "USER_AGENT",
    "Timeout",
]

DEFAULT_BASE_DOMAIN = "azureiotcentral.com"
AZURE_SCOPE = "https://apps.azureiotcentral.com/.default"

#: What the service assumes when a command omits connectionTimeout / responseTimeout.
SERVICE_DEFAULT_CONNECTION_TIMEOUT = 0
SERVICE_DEFAULT_RESPONSE_TIMEOUT = 30
# The generator drops minimum/maximum, and the wrapper does not ship the spec, so the bounds are
# stated here once; contract_tests/test_client_properties.py reads them from spec/iotcentral.yaml
# and fails if these ever disagree with it.
CONNECTION_TIMEOUT_RANGE = (0, 30)
RESPONSE_TIMEOUT_RANGE = (5, 30)

USER_AGENT = f"iotcentral-client/{__version__} python/{platform.python_version()}"


#: The largest timeout accepted, in seconds: a command takes at most ~60 s on the service side, and
#: larger values overflow the socket layer (OverflowError) instead of meaning anything.
MAX_TIMEOUT = 3600.0


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(f"{name} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or not 0 < value <= MAX_TIMEOUT:
        raise InvalidArgumentError(
            f"{name} must be a number of seconds above 0 and at most {MAX_TIMEOUT:.0f},"
            f" got {value!r}"
        )
    return float(value)


@dataclass(frozen=True)
class Timeout:
    """HTTP timeouts, in seconds.

    A command may legitimately take `connectionTimeout` (device coming online) plus
    `responseTimeout` (device answering) on the service side, about 60 s at most. So the read
    timeout of a run-command request is never below
    `connection_timeout + response_timeout + margin`, using the service's defaults (0 and 30) for
    whichever the call leaves out. A shorter read timeout would give up on a command that may still
    run, and nobody could tell whether it did.

    Attributes:
        connect: to open a connection (short: nothing has been sent yet, so it is safe to retry).
        read: to wait for any answer; for run-command, the floor computed above applies on top.
        margin: added to the service-side waits for the run-command read timeout.
        write: to send the request.
        pool: to wait for a free connection from the pool.
    """

    connect: float = 5.0
    read: float = 30.0
    margin: float = 15.0
    write: float = 10.0
    pool: float = 10.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "margin", "write", "pool"):
            object.__setattr__(self, name, _positive(f"timeout.{name}", getattr(self, name)))

    def command_read_timeout(
        self, connection_timeout: int | None, response_timeout: int | None
    ) -> float:
        """The read timeout for a run-command request with these service-side timeouts."""
        ct = (
            SERVICE_DEFAULT_CONNECTION_TIMEOUT if connection_timeout is None else connection_timeout
        )
        rt = SERVICE_DEFAULT_RESPONSE_TIMEOUT if response_timeout is None else response_timeout
        return max(self.read, ct + rt + self.margin)

    def for_command(
        self, connection_timeout: int | None, response_timeout: int | None
    ) -> httpx.Timeout:
        """The httpx timeout of a run-command request."""
        return httpx.Timeout(
            connect=self.connect,
            read=self.command_read_timeout(connection_timeout, response_timeout),
            write=self.write,
            pool=self.pool,
        )

    def for_read(self) -> httpx.Timeout:
        """The httpx timeout of a history request."""
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


DEFAULT_TIMEOUT = Timeout()

_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def _is_host(raw_host: bytes) -> bool:
    """A DNS name or an IP address, nothing else (httpx gives IDNA-encoded ASCII, no brackets)."""
    host = raw_host.decode("ascii").rstrip(".")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return all(_LABEL.match(label) for label in host.split("."))  # "" fails too
    return True


def is_loopback(host: str) -> bool:
    """True for `localhost`, 127.0.0.0/8 and ::1: names that cannot leave the machine.

    Not `*.localhost`: RFC 6761 reserves them, but many resolvers forward them to DNS.
    """
    host = host.lower().rstrip(".")  # an httpx URL's host: no brackets around IPv6
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: object) -> str:
    """Validate a base URL and return it without a trailing slash.

    Only https is accepted, except plain http to a loopback address (the local simulator). User
    info, query and fragment are refused: they would end up in logs or change every request.
    """
    if not isinstance(base_url, str | httpx.URL):
        raise InvalidArgumentError(f"base_url must be a string, got {type(base_url).__name__}")
    try:
        url = httpx.URL(str(base_url))
    except httpx.InvalidURL as exc:
        raise InvalidArgumentError(f"base_url is not a valid URL: {exc}") from None
    if url.scheme not in ("https", "http") or not url.host:
        raise InvalidArgumentError(
            f"base_url must be an absolute https:// URL, got {str(base_url)!r}"
        )
    if not _is_host(url.raw_host):
        raise InvalidArgumentError(
            f"base_url must name a host (a DNS name or an IP address), got host {url.host!r}"
        )
    if url.scheme == "http" and not is_loopback(url.host):
        raise InvalidArgumentError(
            "base_url uses plain http:// to a non-loopback host; credentials would travel in the"
            f" clear. Use https:// (http:// is allowed only for localhost, 127.0.0.0/8 and ::1),"
            f" got host {url.host!r}"
        )
    if url.userinfo:
        raise InvalidArgumentError("base_url must not contain a user name or password")
    if url.query or url.fragment:
        raise InvalidArgumentError("base_url must not contain a query or a fragment")
    return str(url).rstrip("/")


def app_base_url(app: object, base_domain: object) -> str:
    """`https://{app}.{base_domain}/api`, after checking that both are host names."""
    if not isinstance(app, str) or not app:
        raise InvalidArgumentError(
            f"app must be the application's subdomain (e.g. 'myapp'), got {app!r}"
        )
    if not _LABEL.match(app):
        hint = " (pass only the subdomain, or use base_url=)" if "." in app else ""
        raise InvalidArgumentError(
            "app must be a DNS label (letters, digits and '-', at most 63 characters)"
            f"{hint}, got {app!r}"
        )
    if not isinstance(base_domain, str) or not base_domain:
        raise InvalidArgumentError(f"base_domain must be a host name, got {base_domain!r}")
    labels = base_domain.rstrip(".").split(".")
    if not all(_LABEL.match(label) for label in labels):
        raise InvalidArgumentError(f"base_domain must be a host name, got {base_domain!r}")
    return f"https://{app}.{base_domain.rstrip('.')}/api"


def check_api_version(api_version: object) -> str:
    """The api-version, if this client supports it."""
    if api_version not in SUPPORTED_API_VERSIONS:
        allowed = ", ".join(SUPPORTED_API_VERSIONS)
        raise InvalidArgumentError(f"api_version must be one of {allowed}, got {api_version!r}")
    assert isinstance(api_version, str)
    return api_version


def check_timeout(timeout: object) -> Timeout:
    """A Timeout, or None for the default."""
    if timeout is None:
        return DEFAULT_TIMEOUT
    if not isinstance(timeout, Timeout):
        raise InvalidArgumentError(
            f"timeout must be an iotcentral.Timeout, got {type(timeout).__name__}"
        )
    return timeout
