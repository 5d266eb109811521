"""The pytest plugin, end to end with pytester: fixtures, marker, isolation, usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in process; the plugin comes from the installed ``pytest11`` entry point."""
    return pytester.runpytest("-q", *args)


def run_isolated(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in a subprocess, as a downstream project would.

    Needed for tests that make real HTTP calls: an in-process run restores ``sys.modules``
    afterwards, so httpcore modules imported lazily inside it get new class identities and
    httpx's exception mapping (``httpcore.RemoteProtocolError`` -> ``httpx...``) stops matching.
    """
    # Autoloading every installed plugin (schemathesis, hypothesis) costs ~1 s per run, so load
    # the two needed by name. The in-process runs (run) cover loading through the entry point.
    plugins = ("-p", "iotcentral_sim.pytest_plugin", "-p", "pytest_asyncio.plugin")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        return pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", *plugins, *args)


def test_plugin_is_registered_by_entry_point() -> None:
    from importlib.metadata import entry_points

    names = {ep.value for ep in entry_points(group="pytest11") if ep.name == "iotcentral_sim"}
    assert names == {"iotcentral_sim.pytest_plugin"}


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.iotcentral_sim(scenario=None, rate_limit=*"])


def test_fixture_serves_the_default_scenario_over_http(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx
        from iotcentral_sim import DEFAULT_API_TOKEN

        def test_cool_down(iotcentral_sim):
            assert iotcentral_sim.base_url.startswith("http://127.0.0.1:")
            assert iotcentral_sim.base_url.endswith("/api")
            assert iotcentral_sim.token == DEFAULT_API_TOKEN
            assert iotcentral_sim.api_version == "2022-07-31"
            r = httpx.post(
                f"{iotcentral_sim.base_url}/devices/mx1/commands/CoolDown",
                params={"api-version": iotcentral_sim.api_version},
                headers=iotcentral_sim.headers,
                json={"request": {"tempVal": 30}},
            )
            assert r.status_code == 201
            assert r.json()["response"] == {"tempVal": 30}
            assert iotcentral_sim.execution_count("mx1", "CoolDown") == 1
            assert iotcentral_sim.request_count == 1
            assert DEFAULT_API_TOKEN not in repr(iotcentral_sim)

        def test_isolated(iotcentral_sim):
            assert iotcentral_sim.execution_count("mx1", "CoolDown") == 0
        """
    )
    result = run_isolated(pytester)
    result.assert_outcomes(passed=2)


def test_marker_configures_scenario_file_rate_limit_and_time_scale(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(
        ".yaml",
        plant="""
        tokens:
          - token: "SharedAccessSignature sr=x&sig=plant&skn=ops&se=1"
            role: operator
        devices:
          press:
            connects_after: 20
            commands:
              Start: {handler: fixed, response: started}
        """,
    )
    pytester.makepyfile(
        """
        import httpx
        import pytest

        @pytest.mark.iotcentral_sim(scenario="plant.yaml", rate_limit=1, time_scale=0.001)
        def test_plant(iotcentral_sim):
            assert iotcentral_sim.token == "SharedAccessSignature sr=x&sig=plant&skn=ops&se=1"
            with httpx.Client(base_url=iotcentral_sim.base_url, headers=iotcentral_sim.headers,
                              params={"api-version": "2022-07-31"}) as c:
                r = c.post("/devices/press/commands/Start", json={"connectionTimeout": 30})
                assert r.status_code == 201, r.text
                assert r.json()["response"] == "started"
                assert c.get("/devices/press/commands/Start").status_code == 429
            assert iotcentral_sim.simulator.time_scale == 0.001
        """
    )
    run_isolated(pytester).assert_outcomes(passed=1)


def test_marker_accepts_a_mapping_faults_and_async_clients(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx
        import pytest

        pytestmark = pytest.mark.iotcentral_sim(
            scenario={"devices": {"d1": {"commands": {"Ping": "echo"}}}}, rate_limit=None
        )

        @pytest.mark.asyncio
        async def test_async(iotcentral_sim):
            iotcentral_sim.add_fault("status_before", status=503, retry_after=2)
            async with httpx.AsyncClient(base_url=iotcentral_sim.base_url,
                                         headers=iotcentral_sim.headers,
                                         params={"api-version": "2022-07-31"}) as c:
                r = await c.post("/devices/d1/commands/Ping", json={"request": 1})
                assert (r.status_code, r.headers["retry-after"]) == (503, "2")
                r = await c.post("/devices/d1/commands/Ping", json={"request": 1})
                assert r.status_code == 201
            assert iotcentral_sim.execution_count("d1", "Ping") == 1
            assert iotcentral_sim.faults() == []

        def test_drop_is_a_protocol_error(iotcentral_sim):
            iotcentral_sim.add_fault("drop_after")
            with pytest.raises(httpx.RemoteProtocolError):
                httpx.post(f"{iotcentral_sim.base_url}/devices/d1/commands/Ping",
                           params={"api-version": "2022-07-31"},
                           headers=iotcentral_sim.headers, json={})
            assert iotcentral_sim.execution_count("d1", "Ping") == 1
            iotcentral_sim.reset()
            assert iotcentral_sim.execution_count("d1", "Ping") == 0
        """
    )
    run_isolated(pytester, "-W", "ignore::DeprecationWarning").assert_outcomes(passed=2)


def test_shared_fixture_is_one_session_server_reset_before_each_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import httpx

        SEEN = []

        def post(sim):
            return httpx.post(
                f"{sim.base_url}/devices/mx1/commands/CoolDown",
                params={"api-version": sim.api_version}, headers=sim.headers, json={},
            )

        def test_first(iotcentral_sim_shared):
            SEEN.append(iotcentral_sim_shared)
            assert iotcentral_sim_shared.base_url.startswith("http://127.0.0.1:")
            assert iotcentral_sim_shared.simulator.rate_limit == 20.0  # the service's defaults
            iotcentral_sim_shared.add_fault("status_before", status=503)
            assert post(iotcentral_sim_shared).status_code == 503
            assert post(iotcentral_sim_shared).status_code == 201
            assert iotcentral_sim_shared.execution_count("mx1", "CoolDown") == 1
            iotcentral_sim_shared.add_fault("html")  # left pending on purpose

        def test_second(iotcentral_sim_shared, iotcentral_sim_session):
            assert SEEN == [iotcentral_sim_shared]  # the same simulator and server
            assert iotcentral_sim_shared is iotcentral_sim_session
            assert iotcentral_sim_shared.execution_count("mx1", "CoolDown") == 0
            assert iotcentral_sim_shared.request_count == 0
            assert iotcentral_sim_shared.faults() == []
            assert post(iotcentral_sim_shared).status_code == 201
        """
    )
    run_isolated(pytester).assert_outcomes(passed=2)


def test_session_options_configure_the_shared_simulator(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", plant="devices:\n  press:\n    commands: {Start: echo}\n")
    pytester.makeconftest(
        """
        import pytest
        from iotcentral_sim.pytest_plugin import SimulatorOptions

        @pytest.fixture(scope="session")
        def iotcentral_sim_session_options():
            return SimulatorOptions(scenario="plant.yaml", rate_limit=None, time_scale=0.001)
        """
    )
    pytester.mkpydir("sub").joinpath("test_it.py").write_text(
        "def test_it(iotcentral_sim_shared):\n"
        "    sim = iotcentral_sim_shared.simulator\n"
        "    assert sim.scenario.name == 'plant'  # relative to the rootdir, not to sub/\n"
        "    assert list(sim.scenario.devices) == ['press']\n"
        "    assert (sim.rate_limit, sim.time_scale) == (None, 0.001)\n"
    )
    run(pytester).assert_outcomes(passed=1)


def test_the_marker_does_not_configure_the_shared_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.iotcentral_sim(rate_limit=None)
        def test_it(iotcentral_sim_shared):
            pass
        """
    )
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*iotcentral_sim_session_options*"])


def test_bearer_only_scenario_gives_a_bearer_header(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.iotcentral_sim(scenario={"tokens": [{"token": "jwt", "type": "bearer"}]})
        def test_bearer(iotcentral_sim):
            assert iotcentral_sim.token == "Bearer jwt"
        """
    )
    run(pytester).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("iotcentral_sim(scenarios='x.yaml')", "unknown argument(s) scenarios"),
        ("iotcentral_sim('x.yaml')", "keyword arguments only"),
        ("iotcentral_sim(scenario=42)", "scenario must be"),
    ],
)
def test_bad_marker_arguments_are_usage_errors(
    pytester: pytest.Pytester, marker: str, message: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.{marker}
        def test_it(iotcentral_sim):
            pass
        """
    )
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*{message}*"])


def test_missing_scenario_file_is_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.iotcentral_sim(scenario="nowhere.yaml")
        def test_it(iotcentral_sim):
            pass
        """
    )
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*nowhere.yaml*"])


def test_importing_the_plugin_does_not_import_the_simulator() -> None:
    import subprocess
    import sys

    code = (
        "import sys, iotcentral_sim.pytest_plugin; "
        "print(sorted(m for m in ('starlette', 'uvicorn', 'openapi_core', 'iotcentral_sim._app',"
        " 'iotcentral_sim._backend', 'iotcentral_sim._pipeline') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_readme_plugin_example_runs(pytester: pytest.Pytester) -> None:
    readme = Path(__file__).resolve().parents[2] / "simulator" / "README.md"
    section = readme.read_text(encoding="utf-8").split("## Testing your own code", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_readme=example)
    run_isolated(pytester).assert_outcomes(passed=2)
