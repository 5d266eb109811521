"""pytest plugin: a real IoT Central simulator for your tests, over loopback HTTP.

Registered through the ``pytest11`` entry point ``iotcentral_sim``, so it is active wherever
``iotcentral-client[sim]`` is installed. Importing it is cheap: the simulator, starlette and
uvicorn are imported only when a test uses a fixture.

Fixtures (each hands the test an :class:`IoTCentralSim`):

- ``iotcentral_sim``: a simulator of the test's own, served for that test only; configured by the
  ``iotcentral_sim`` marker.
- ``iotcentral_sim_shared``: one simulator served for the whole session, reset (counters,
  history, faults, throttling) before each test that uses it. Much cheaper than a server per test;
  configured once per session by overriding ``iotcentral_sim_session_options``.
- ``iotcentral_sim_session``: the same shared simulator, session-scoped and never reset (for
  session- or module-scoped fixtures built on top of it).
- ``iotcentral_sim_session_options``: the :class:`SimulatorOptions` the shared simulator is built
  with (default: the marker's defaults); override it in a ``conftest.py`` at session scope.

Usage::

    import httpx, pytest

    @pytest.mark.iotcentral_sim(scenario="scenario.yaml", rate_limit=None, time_scale=0.001)
    def test_cool_down(iotcentral_sim):
        r = httpx.post(
            f"{iotcentral_sim.base_url}/devices/mx1/commands/CoolDown",
            params={"api-version": "2022-07-31"},
            headers={"Authorization": iotcentral_sim.token},
            json={"request": {"tempVal": 30}},
        )
        assert r.status_code == 201
        assert iotcentral_sim.execution_count("mx1", "CoolDown") == 1
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._app import Simulator
    from ._faults import Fault
    from ._scenario import Scenario
    from ._server import SimulatorServer

__all__ = [
    "IoTCentralSim",
    "SimulatorOptions",
    "iotcentral_sim",
    "iotcentral_sim_session",
    "iotcentral_sim_session_options",
    "iotcentral_sim_shared",
]

_MARKER = "iotcentral_sim"
_MARKER_HELP = (
    f"{_MARKER}(scenario=None, rate_limit=20.0, time_scale=1.0, api_tokens=None): configure the "
    "simulator behind the iotcentral_sim fixture. scenario: a Scenario, a mapping in the scenario "
    "file format, or a YAML/JSON file path (relative paths start at the test file's folder)."
)


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``iotcentral_sim`` marker."""
    config.addinivalue_line("markers", _MARKER_HELP)


@dataclass(frozen=True, kw_only=True)
class SimulatorOptions:
    """The keyword arguments the ``iotcentral_sim`` marker accepts (validated)."""

    scenario: Any = None
    rate_limit: float | None = 20.0
    time_scale: float = 1.0
    api_tokens: Sequence[str] | None = None

    @classmethod
    def from_marker(cls, marker: pytest.Mark | None) -> SimulatorOptions:
        """Read the closest marker; unknown or positional arguments are a usage error."""
        if marker is None:
            return cls()
        if marker.args:
            raise pytest.UsageError(f"@pytest.mark.{_MARKER} takes keyword arguments only")
        allowed = {"scenario", "rate_limit", "time_scale", "api_tokens"}
        unknown = sorted(set(marker.kwargs) - allowed)
        if unknown:
            raise pytest.UsageError(
                f"@pytest.mark.{_MARKER}: unknown argument(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        return cls(**marker.kwargs)

    def build_scenario(self, base_dir: Path) -> Scenario | None:
        """Turn the ``scenario`` option into a :class:`Scenario` (``None``: the default)."""
        from ._scenario import Scenario, load_scenario  # lazy

        value = self.scenario
        if value is None or isinstance(value, Scenario):
            return value
        if isinstance(value, Mapping):
            return Scenario.from_dict(value)
        if isinstance(value, str | os.PathLike):
            path = Path(value)
            return load_scenario(path if path.is_absolute() else base_dir / path)
        raise pytest.UsageError(
            f"@pytest.mark.{_MARKER}: scenario must be a Scenario, a mapping or a file path"
        )


class IoTCentralSim:
    """What the plugin's fixtures hand a test: a running simulator and how to reach it.

    ``base_url``: the client base URL (``http://127.0.0.1:<port>/api``). ``token``: an
    ``Authorization`` header value allowed to run commands (an API token sent raw, or
    ``Bearer ...`` when the scenario has only bearer tokens). ``headers``: that header as a dict.
    ``api_version``: the spec's default api-version (``DefaultApiVersion``; every version of its
    ``ApiVersion`` enum is served: ``simulator.spec.api_versions``). ``simulator`` / ``server``: the
    underlying objects, for anything not wrapped here.
    """

    def __init__(self, simulator: Simulator, server: SimulatorServer) -> None:
        self.simulator = simulator
        self.server = server
        self.base_url: str = server.url
        self.api_version: str = simulator.spec.default_api_version
        self.token: str = _runner_header(simulator)

    def __repr__(self) -> str:
        return f"IoTCentralSim(base_url={self.base_url!r}, simulator={self.simulator!r})"

    @property
    def headers(self) -> dict[str, str]:
        """``{"Authorization": token}``."""
        return {"Authorization": self.token}

    def execution_count(
        self,
        device_id: str,
        command_name: str,
        *,
        component: str | None = None,
        module: str | None = None,
    ) -> int:
        """How many times the command reached the device (see ``Simulator.execution_count``)."""
        return self.simulator.execution_count(
            device_id, command_name, component=component, module=module
        )

    @property
    def request_count(self) -> int:
        """How many requests reached the command API."""
        return self.simulator.request_count

    def add_fault(self, kind: str, **options: Any) -> None:
        """Inject a fault (see ``Simulator.add_fault`` for the kinds and options)."""
        self.simulator.add_fault(kind, **options)

    def faults(self) -> list[Fault]:
        """The faults still pending."""
        return self.simulator.faults()

    def clear_faults(self) -> None:
        """Remove every pending fault."""
        self.simulator.clear_faults()

    def reset(self) -> None:
        """Counters, history, faults and throttling back to the scenario's start."""
        self.simulator.reset()


def _runner_header(simulator: Simulator) -> str:
    runners = [t for t in simulator.tokens if t.can_run]
    for token in runners:
        if token.kind == "api":
            return token.token
    for token in runners:
        return f"Bearer {token.token}"
    return ""


@contextmanager
def _served(options: SimulatorOptions, base_dir: Path) -> Iterator[IoTCentralSim]:
    """A simulator built from ``options``, served on a free loopback port until the block ends."""
    from ._app import Simulator  # lazy: only tests that use a fixture pay for it
    from ._server import SimulatorServer

    simulator = Simulator(
        options.build_scenario(base_dir),
        api_tokens=options.api_tokens,
        rate_limit=options.rate_limit,
        time_scale=options.time_scale,
    )
    with SimulatorServer(simulator) as server:
        yield IoTCentralSim(simulator, server)


@pytest.fixture
def iotcentral_sim(request: pytest.FixtureRequest) -> Iterator[IoTCentralSim]:
    """A simulator served on a free loopback port for this test (sync and async clients work).

    Configure it with ``@pytest.mark.iotcentral_sim(scenario=..., rate_limit=...,
    time_scale=..., api_tokens=...)``. Nothing is shared between tests.
    """
    options = SimulatorOptions.from_marker(request.node.get_closest_marker(_MARKER))
    with _served(options, Path(request.path).parent) as sim:
        yield sim


@pytest.fixture(scope="session")
def iotcentral_sim_session_options() -> SimulatorOptions:
    """How the session's shared simulator is built: override this fixture to configure it.

    For example, in ``conftest.py``::

        @pytest.fixture(scope="session")
        def iotcentral_sim_session_options():
            return SimulatorOptions(rate_limit=None, time_scale=0.001)

    A relative ``scenario`` path starts at the rootdir.
    """
    return SimulatorOptions()


@pytest.fixture(scope="session")
def iotcentral_sim_session(
    request: pytest.FixtureRequest, iotcentral_sim_session_options: SimulatorOptions
) -> Iterator[IoTCentralSim]:
    """One simulator served on a free loopback port for the whole session; never reset.

    Use ``iotcentral_sim_shared`` in tests: it is this simulator, reset before each test.
    """
    with _served(iotcentral_sim_session_options, request.config.rootpath) as sim:
        yield sim


@pytest.fixture
def iotcentral_sim_shared(
    request: pytest.FixtureRequest, iotcentral_sim_session: IoTCentralSim
) -> IoTCentralSim:
    """The session's shared simulator, reset before this test (counters, faults, throttling...).

    Configured once per session by ``iotcentral_sim_session_options``; the ``iotcentral_sim``
    marker does not apply to it, so a test carrying the marker is a usage error.
    """
    if request.node.get_closest_marker(_MARKER) is not None:
        raise pytest.UsageError(
            f"@pytest.mark.{_MARKER} configures the iotcentral_sim fixture only; configure the "
            "shared simulator of iotcentral_sim_shared with the iotcentral_sim_session_options "
            "fixture"
        )
    iotcentral_sim_session.reset()
    return iotcentral_sim_session
