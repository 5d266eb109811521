"""No id changes the path: `.`, `..`, `/`, `?`, `#`, `%`, spaces, unicode arrive as ids."""

from __future__ import annotations

from urllib.parse import unquote

import httpx
import iotcentral as ic
import pytest
from client_helpers import Script, command_json, history_json
from hypothesis import given
from hypothesis import strategies as st
from iotcentral._paths import encode_segment, protect_dot_segments
from iotcentral_sim import Simulator, SimulatorServer

TRICKY = [
    ".",
    "..",
    "...",
    "/",
    "a/../b",
    "../..",
    "?x=1",
    "#frag",
    "%",
    "%2E%2E",
    " ",
    "a b",
    "ü€😀",
    "\x00",
    ";",
    "@:",
]


def segments(request: httpx.Request) -> list[str]:
    """The raw path as the server receives it, split into decoded segments."""
    raw = request.url.raw_path.decode("ascii").split("?", 1)[0]
    return [unquote(part) for part in raw.split("/")]


@pytest.mark.parametrize("device_id", TRICKY)
def test_device_id_arrives_as_one_segment(device_id: str) -> None:
    script = Script(command_json())
    with script.client() as client:
        client.run_command(device_id, "CoolDown")
    (request,) = script.requests
    assert segments(request) == ["", "api", "devices", device_id, "commands", "CoolDown"]
    assert request.url.params["api-version"] == "2022-07-31"


def test_dot_segments_are_percent_encoded_on_the_wire() -> None:
    script = Script(command_json())
    with script.client() as client:
        client.run_command("..", "CoolDown")
        client.run_command(".", ".", component="..", module=".")
    assert script.requests[0].url.raw_path == (
        b"/api/devices/%2E%2E/commands/CoolDown?api-version=2022-07-31"
    )
    assert script.requests[1].url.raw_path == (
        b"/api/devices/%2E/modules/%2E/components/%2E%2E/commands/%2E?api-version=2022-07-31"
    )


@pytest.mark.parametrize("component", [None, "..", "c/d"])
@pytest.mark.parametrize("module", [None, ".", "m?"])
def test_every_operation_keeps_every_value_in_its_segment(
    component: str | None, module: str | None
) -> None:
    script = Script(command_json(), history_json())
    with script.client() as client:
        client.run_command("..", "..", component=component, module=module)
    script.steps = [history_json()]
    with script.client() as client:
        client.command_history("..", "..", component=component, module=module)
    expected = ["", "api", "devices", ".."]
    if module is not None:
        expected += ["modules", module]
    if component is not None:
        expected += ["components", component]
    expected += ["commands", ".."]
    assert [r.method for r in script.requests] == ["POST", "GET"]
    for request in script.requests:
        assert segments(request) == expected


@given(
    device_id=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12),
    command=st.text(st.sampled_from("./%?#; aé"), min_size=1, max_size=4),
)
def test_any_text_id_round_trips(device_id: str, command: str) -> None:
    script = Script(command_json())
    with script.client() as client:
        client.run_command(device_id, command, component=device_id)
    (request,) = script.requests
    assert segments(request) == [
        "",
        "api",
        "devices",
        device_id,
        "components",
        device_id,
        "commands",
        command,
    ]
    assert request.url.raw_path.decode("ascii").split("/")[3] == encode_segment(device_id)


def test_protect_dot_segments_only_touches_all_dot_segments() -> None:
    assert protect_dot_segments("/devices/../commands/x") == "/devices/%2E%2E/commands/x"
    assert protect_dot_segments("/devices/a.b/commands/.x") == "/devices/a.b/commands/.x"
    assert protect_dot_segments("/a/./b?q=..") == "/a/%2E/b?q=.."
    assert encode_segment("..") == "%2E%2E"
    assert encode_segment("a/b") == "a%2Fb"


@pytest.mark.parametrize("device_id", ["..", ".", "a/b", "%2E", "?x#y", " ", "ü"])
def test_the_simulator_over_http_sees_the_id(
    served: tuple[Simulator, SimulatorServer], device_id: str
) -> None:
    """Over a real socket: the simulator's 404 names exactly the id we sent."""
    _, server = served
    from iotcentral_sim import DEFAULT_API_TOKEN

    credential = ic.ApiToken(DEFAULT_API_TOKEN)
    with (
        ic.IoTCentralClient(base_url=server.url, credential=credential) as c,
        pytest.raises(ic.NotFoundError) as info,
    ):
        c.run_command(device_id, "CoolDown")
    assert info.value.code == "DeviceNotFound"
    assert f"'{device_id}'" in info.value.message


def test_a_device_named_dot_dot_runs_its_own_command(sim: Simulator) -> None:
    """With a device literally named '..', the command runs on it (counted by the simulator)."""
    from iotcentral_sim import DEFAULT_API_TOKEN, Scenario

    scenario = Scenario.from_dict(
        {"devices": {"..": {"commands": {"CoolDown": "echo"}}, ".": {"commands": {"..": "echo"}}}}
    )
    simulator = Simulator(scenario, rate_limit=None, time_scale=0.001)
    with (
        SimulatorServer(simulator) as server,
        ic.IoTCentralClient(
            base_url=server.url, credential=ic.ApiToken(DEFAULT_API_TOKEN)
        ) as client,
    ):
        result = client.run_command("..", "CoolDown", {"v": 1})
        assert result.response == {"v": 1}
        client.run_command(".", "..")
        assert client.command_history("..", "CoolDown").latest is not None
    assert simulator.execution_count("..", "CoolDown") == 1
    assert simulator.execution_count(".", "..") == 1


def test_the_query_is_never_treated_as_path_segments() -> None:
    assert protect_dot_segments("/d/..?q=/../.") == "/d/%2E%2E?q=/../."
    assert protect_dot_segments("/d/x?q=/..") == "/d/x?q=/.."


@pytest.mark.parametrize("segment", ["X", "XX", "X.", ".X", "a.b"])
def test_segments_with_anything_but_dots_are_left_alone(segment: str) -> None:
    assert (
        protect_dot_segments(f"/devices/{segment}/commands/c") == f"/devices/{segment}/commands/c"
    )
    assert encode_segment(segment) == segment


@pytest.mark.parametrize(("value", "kind"), [(7, "int"), (b"d", "bytes"), (["d"], "list")])
def test_a_non_string_id_is_named_with_its_type(value: object, kind: str) -> None:
    with pytest.raises(ic.InvalidArgumentError, match=f"device_id must be a string, got {kind}"):
        Script(command_json()).client().run_command(value, "CoolDown")  # type: ignore[arg-type]
