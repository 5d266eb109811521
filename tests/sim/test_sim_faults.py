"""Fault injection in process, with the execution counter proving exactly-once or never."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
from fakes import Sleeps
from iotcentral_sim import FAULT_KINDS, ConnectionDropped, Scenario, Simulator
from sim_helpers import AUTH, asgi_client, assert_conforms, error_code

RUN = "/devices/mx1/commands/CoolDown"
AUTH_HEADER = AUTH["Authorization"]


def count(sim: Simulator) -> int:
    return sim.execution_count("mx1", "CoolDown")


@pytest.mark.parametrize(
    ("status", "retry_after", "code", "header"),
    [
        (None, None, "InternalServerError", None),
        (500, None, "InternalServerError", None),
        (503, None, "ServiceUnavailable", "1"),
        (503, 7, "ServiceUnavailable", "7"),
        (503, 2.5, "ServiceUnavailable", "3"),
        (429, None, "TooManyRequests", "1"),
        (502, None, "BadGateway", None),
        (504, None, "GatewayTimeout", None),
        (408, None, "RequestTimeout", None),
    ],
)
async def test_status_before_answers_the_error_shape_and_never_runs(
    client: httpx.AsyncClient,
    sim: Simulator,
    status: int | None,
    retry_after: float | None,
    code: str,
    header: str | None,
) -> None:
    sim.add_fault("status_before", status=status, retry_after=retry_after)
    failed = await client.post(RUN, json={"request": 1})
    assert failed.status_code == (status or 500)
    assert error_code(failed) == code
    assert failed.headers.get("retry-after") == header
    assert count(sim) == 0
    assert (await client.get(RUN)).json() == {"value": []}
    ok = await client.post(RUN, json={"request": 2})  # times=1: used up
    assert ok.status_code == 201
    assert count(sim) == 1


async def test_status_after_runs_exactly_once_then_answers_the_error(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.add_fault("status_after", status=503, retry_after=4)
    failed = await client.post(RUN, json={"request": "x"})
    assert failed.status_code == 503
    assert error_code(failed) == "ServiceUnavailable"
    assert failed.headers["retry-after"] == "4"
    assert count(sim) == 1
    history = (await client.get(RUN)).json()
    assert history["value"][0]["request"] == "x"  # it did execute


async def test_drop_before_raises_in_process_and_never_runs(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.add_fault("drop_before")
    with pytest.raises(ConnectionDropped) as info:
        await client.post(RUN, json={"request": 1})
    assert info.value.executed is False
    assert count(sim) == 0
    assert (await client.post(RUN, json={})).status_code == 201


async def test_drop_after_raises_in_process_after_running_once(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.add_fault("drop_after")
    with pytest.raises(ConnectionDropped) as info:
        await client.post(RUN, json={"request": 1})
    assert info.value.executed is True
    assert count(sim) == 1


async def test_html_is_a_non_json_gateway_page_and_never_runs(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.add_fault("html")
    response = await client.post(RUN, json={"request": 1})
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert count(sim) == 0


async def test_html_takes_a_status(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.add_fault("html", status=503)
    response = await client.post(RUN, json={})
    assert response.status_code == 503
    assert "503 Service Unavailable" in response.text


async def test_truncated_is_a_201_with_a_cut_json_body_after_running(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.add_fault("truncated")
    response = await client.post(RUN, json={"request": {"tempVal": 30}})
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.content.startswith(b'{"id":')
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert count(sim) == 1


async def test_slow_runs_then_holds_the_answer_scaled(
    client: httpx.AsyncClient, sim: Simulator, sleeps: Sleeps
) -> None:
    sim.add_fault("slow", delay=45)
    response = await client.post(RUN, json={"request": 1})
    assert response.status_code == 201
    assert_conforms(response)
    assert sleeps.calls == [pytest.approx(45 * 0.001)]
    assert count(sim) == 1


async def test_times_counts_down_and_none_is_forever(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.add_fault("status_before", times=2)
    statuses = [(await client.post(RUN, json={})).status_code for _ in range(3)]
    assert statuses == [500, 500, 201]
    sim.add_fault("status_before", status=503, times=None)
    statuses = [(await client.post(RUN, json={})).status_code for _ in range(4)]
    assert statuses == [503] * 4
    assert len(sim.faults()) == 1
    sim.clear_faults()
    assert (await client.post(RUN, json={})).status_code == 201
    assert count(sim) == 2


async def test_faults_target_a_device_and_a_command(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.add_fault("status_before", device_id="thermostat1", times=None)
    sim.add_fault("status_before", command_name="GetStatus", times=None)
    assert (await client.post(RUN, json={})).status_code == 201
    assert (await client.post("/devices/mx1/commands/GetStatus", json={})).status_code == 500
    component = "/devices/thermostat1/components/thermostat1/commands/getMaxMinReport"
    assert (await client.post(component, json={})).status_code == 500
    assert (await client.post("/devices/thermostat1/commands/reboot", json={})).status_code == 500


async def test_faults_hit_runs_history_or_both(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.add_fault("status_before", times=None)
    assert (await client.get(RUN)).status_code == 200  # default: runs only
    sim.clear_faults()
    sim.add_fault("status_before", on="history", times=None)
    assert (await client.post(RUN, json={})).status_code == 201
    assert (await client.get(RUN)).status_code == 500
    sim.clear_faults()
    sim.add_fault("truncated", on="any", times=2)
    assert (await client.post(RUN, json={})).status_code == 201
    truncated = await client.get(RUN)
    with pytest.raises(json.JSONDecodeError):
        truncated.json()


async def test_first_added_fault_fires_first(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.add_fault("status_before", status=500)
    sim.add_fault("status_before", status=503)
    assert (await client.post(RUN, json={})).status_code == 500
    assert (await client.post(RUN, json={})).status_code == 503
    assert (await client.post(RUN, json={})).status_code == 201


async def test_faults_come_after_auth_validation_and_lookup(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.add_fault("status_before", times=1)
    assert error_code(await client.post("/devices/nope/commands/x", json={})) == "DeviceNotFound"
    assert error_code(await client.post(RUN, json={"responseTimeout": 1})) == "InvalidRequestBody"
    assert len(sim.faults()) == 1  # still pending
    assert (await client.post(RUN, json={})).status_code == 500


async def test_after_faults_do_not_run_an_offline_device(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.add_fault("status_after")
    response = await client.post("/devices/offline1/commands/CoolDown", json={})
    assert error_code(response) == "DeviceNotOnline"
    assert sim.execution_count("offline1", "CoolDown") == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "explode"}, "unknown fault kind"),
        ({"kind": "slow"}, "delay"),
        ({"kind": "status_before", "times": 0}, "times"),
        ({"kind": "status_before", "status": 42}, "status"),
        ({"kind": "status_before", "on": "both"}, "on must be"),
        ({"kind": "slow", "delay": -1}, "delay"),
        ({"kind": "status_before", "retry_after": -1}, "retry_after"),
        ({"kind": "slow", "delay": 1, "size": 10}, "size applies only to"),
        ({"kind": "oversized", "size": 0}, "size must be from 1"),
        ({"kind": "gzip_bomb", "size": 2**30 + 1}, "size must be from 1"),
        ({"kind": "oversized", "size": True}, "whole number"),
        ({"kind": "oversized", "size": 1.5}, "whole number"),
        ({"kind": "status_before", "retry_after": float("inf")}, "retry_after"),
        ({"kind": "status_before", "retry_after": float("nan")}, "retry_after"),
        ({"kind": "status_before", "retry_after": True}, "retry_after"),
        ({"kind": "slow", "delay": float("inf")}, "delay"),
        ({"kind": "slow", "delay": False}, "delay"),
        ({"kind": "slow", "delay": 86401}, "delay"),
        ({"kind": "status_before", "times": True}, "times"),
        ({"kind": "status_before", "times": 1.5}, "times"),
        ({"kind": "status_before", "status": True}, "status"),
        ({"kind": "status_before", "status": 503.0}, "status"),
        ({"kind": "status_before", "device_id": 7}, "device_id"),
        ({"kind": "status_after", "status": 404}, "use status_before for 4xx"),
        ({"kind": "status_after", "status": 429}, "use status_before for 4xx"),
    ],
)
def test_invalid_faults_are_rejected(kwargs: dict[str, object], message: str) -> None:
    sim = Simulator()
    with pytest.raises(ValueError, match=message):
        sim.add_fault(**kwargs)  # type: ignore[arg-type]
    assert sim.faults() == []


def test_status_after_accepts_the_statuses_that_may_have_run() -> None:
    sim = Simulator()
    for status in (408, 500, 503, 504):
        sim.add_fault("status_after", status=status)
    assert [f.status for f in sim.faults()] == [408, 500, 503, 504]


@pytest.mark.parametrize(
    "body",
    [
        '{"kind": "status_before", "retry_after": Infinity}',
        '{"kind": "status_before", "retry_after": NaN}',
        '{"kind": "slow", "delay": -Infinity}',
        '{"kind": "status_before", "retry_after": true}',
        '{"kind": "status_before", "times": false}',
        '{"kind": "status_before", "status": true}',
        '{"kind": "status_after", "status": 400}',
    ],
)
async def test_control_api_refuses_non_numbers_and_stores_nothing(
    client: httpx.AsyncClient, sim: Simulator, body: str
) -> None:
    added = await client.post(
        "http://sim/_sim/faults", content=body, headers={"content-type": "application/json"}
    )
    assert added.status_code == 400
    assert added.json()["error"]["code"] == "InvalidFault"
    assert sim.faults() == []
    listed = await client.get("http://sim/_sim/faults")
    assert listed.status_code == 200
    assert listed.json() == {"faults": []}
    assert (await client.post(RUN, json={})).status_code == 201  # later requests unharmed


def test_every_kind_is_documented() -> None:
    doc = Simulator.add_fault.__doc__ or ""
    assert set(FAULT_KINDS) == {
        "status_before",
        "status_after",
        "drop_before",
        "drop_after",
        "html",
        "truncated",
        "slow",
        "trickle",
        "oversized",
        "gzip_bomb",
    }
    readme = (Path(__file__).resolve().parents[2] / "simulator" / "README.md").read_text()
    for kind in FAULT_KINDS:
        assert f"``{kind}``" in doc
        assert f"| `{kind}` |" in readme


async def test_control_api_manages_faults_counters_and_reset(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    root = "http://sim/_sim"
    assert (await client.get(f"{root}/health")).json() == {"status": "ok", "scenario": "default"}
    added = await client.post(f"{root}/faults", json={"kind": "status_before", "status": 503})
    assert added.status_code == 201
    assert added.json()["faults"][0]["status"] == 503
    assert (await client.post(RUN, json={})).status_code == 503
    assert (await client.post(RUN, json={})).status_code == 201
    executions = (await client.get(f"{root}/executions")).json()["executions"]
    assert executions == [
        {
            "device_id": "mx1",
            "module": None,
            "component": None,
            "command_name": "CoolDown",
            "count": 1,
        }
    ]
    bad = await client.post(f"{root}/faults", json={"kind": "nope"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "InvalidFault"
    bad = await client.post(f"{root}/faults", json={"kind": "html", "colour": "red"})
    assert bad.status_code == 400
    bad = await client.post(
        f"{root}/faults", content=b"[1]", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400
    await client.post(f"{root}/faults", json={"kind": "html", "times": None})
    assert len((await client.get(f"{root}/faults")).json()["faults"]) == 1
    assert (await client.delete(f"{root}/faults")).status_code == 204
    assert sim.faults() == []
    assert (await client.post(f"{root}/reset")).status_code == 204
    assert count(sim) == 0
    assert (await client.get(f"{root}/executions")).json() == {"executions": []}


async def test_control_api_lists_same_named_commands_on_every_target() -> None:
    scenario = Scenario.from_dict(
        {
            "devices": {
                "d": {
                    "commands": {"Go": "echo"},
                    "components": {"c": {"commands": {"Go": "echo"}}},
                    "modules": {"m": {"commands": {"Go": "echo"}}},
                }
            }
        }
    )
    sim = Simulator(scenario, rate_limit=None)
    async with asgi_client(sim) as c:
        for path in [
            "/devices/d/commands/Go",
            "/devices/d/components/c/commands/Go",
            "/devices/d/modules/m/commands/Go",
        ]:
            assert (await c.post(path, json={})).status_code == 201
        listed = (await c.get("http://sim/_sim/executions")).json()["executions"]
    assert [(e["module"], e["component"], e["count"]) for e in listed] == [
        (None, None, 1),
        (None, "c", 1),
        ("m", None, 1),
    ]
    assert sim.execution_count("d", "Go", component="c") == 1
    assert sim.execution_count("d", "Go", module="m") == 1
    assert sim.execution_count("d", "Go", component="c", module="m") == 0


# -- trickle, oversized, gzip_bomb ----------------------------------------------------------------


async def test_trickle_runs_then_sends_the_body_a_byte_at_a_time_scaled(
    client: httpx.AsyncClient, sim: Simulator, sleeps: Sleeps
) -> None:
    sim.add_fault("trickle", delay=50)
    response = await client.post(RUN, json={"request": {"tempVal": 30}})
    assert response.status_code == 201
    assert_conforms(response)  # the normal answer, only slow to arrive
    assert int(response.headers["content-length"]) == len(response.content)
    assert sleeps.calls == [pytest.approx(50 * 0.001)] * len(response.content)
    assert count(sim) == 1


async def test_trickle_defaults_to_a_byte_a_second(
    client: httpx.AsyncClient, sim: Simulator, sleeps: Sleeps
) -> None:
    sim.add_fault("trickle", on="history")
    response = await client.get(RUN)
    assert response.json() == {"value": []}
    assert sleeps.calls == [pytest.approx(0.001)] * len(b'{"value":[]}')
    assert count(sim) == 0  # a history read runs nothing, trickled or not


async def test_trickle_stops_when_the_client_hangs_up(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def yield_only(seconds: float) -> None:
        await anyio.lowlevel.checkpoint()

    monkeypatch.setattr("iotcentral_sim._backend._sleep_for", yield_only)
    sim.add_fault("trickle", delay=1)
    body_bytes: list[bytes] = []
    hung_up = anyio.Event()
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        if received == 1:
            return {"type": "http.request", "body": b'{"request": 1}', "more_body": False}
        await hung_up.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            body_bytes.append(message["body"])
            if len(body_bytes) == 3:
                hung_up.set()  # the client gives up after three bytes

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/devices/mx1/commands/CoolDown",
        "raw_path": b"/api/devices/mx1/commands/CoolDown",
        "query_string": b"api-version=2022-07-31",
        "headers": [
            (b"authorization", AUTH_HEADER.encode()),
            (b"content-type", b"application/json"),
        ],
    }
    with anyio.fail_after(10):  # a safety net only: without the stop it would run 100 s
        await sim.app(scope, receive, send)
    assert 3 <= len(body_bytes) < 10  # the answer has over 100 bytes: it stopped early
    assert count(sim) == 1


async def test_oversized_pads_the_answer_and_sends_no_length(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.add_fault("oversized")
    response = await client.post(RUN, json={"request": {"tempVal": 30}})
    assert response.status_code == 201
    assert "content-length" not in response.headers
    assert len(response.content) == 2 * 1024 * 1024
    assert response.json()["request"] == {"tempVal": 30}  # leading whitespace: still the answer
    assert count(sim) == 1


async def test_oversized_takes_a_size_and_hits_history(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.add_fault("oversized", size=5000, on="history")
    response = await client.get(RUN)
    assert len(response.content) == 5000
    assert response.json() == {"value": []}


async def test_gzip_bomb_is_small_on_the_wire_and_inflates_to_size(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.add_fault("gzip_bomb", size=4 * 1024 * 1024)
    async with client.stream("POST", RUN, json={"request": {"tempVal": 30}}) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert response.status_code == 201
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) == len(raw)
    assert len(raw) < 4 * 1024 * 1024 / 500  # over 500:1
    inflated = gzip.decompress(raw)
    assert len(inflated) > 4 * 1024 * 1024
    assert json.loads(inflated)["request"] == {"tempVal": 30}
    assert count(sim) == 1


def test_the_default_gzip_bomb_inflates_64_mib() -> None:
    from iotcentral_sim._render import gzip_bomb

    raw = gzip_bomb(b"{}", 64 * 1024 * 1024)
    assert len(raw) < 128 * 1024
    assert len(gzip.decompress(raw)) == 64 * 1024 * 1024 + 2
    assert gzip_bomb(b"[1]", 64 * 1024 * 1024).startswith(raw[:1000])  # the prefix is reused


async def test_control_api_takes_a_size(client: httpx.AsyncClient, sim: Simulator) -> None:
    added = await client.post(
        "http://sim/_sim/faults", json={"kind": "oversized", "size": 4096, "times": 2}
    )
    assert added.status_code == 201
    assert added.json()["faults"][0]["size"] == 4096
    bad = await client.post("http://sim/_sim/faults", json={"kind": "html", "size": 4096})
    assert bad.status_code == 400
