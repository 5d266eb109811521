"""Scenario files (YAML and JSON), their validation and the built-in default."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from iotcentral_sim import (
    DEFAULT_API_TOKEN,
    DEFAULT_BEARER_TOKEN,
    DEFAULT_VIEWER_TOKEN,
    Scenario,
    ScenarioError,
    Simulator,
    default_scenario,
    load_scenario,
)
from sim_helpers import asgi_client, error_code

EXAMPLE: dict[str, Any] = {
    "name": "factory",
    "tokens": [
        {"name": "ci", "token": "SharedAccessSignature sr=a&sig=b&skn=ci&se=1", "role": "operator"},
        {"name": "dash", "token": "SharedAccessSignature sr=a&sig=c&skn=d&se=1", "role": "viewer"},
        {"name": "aad", "type": "bearer", "token": "eyJ.fake.jwt", "role": "operator"},
    ],
    "devices": {
        "press-1": {
            "commands": {
                "Start": "echo",
                "Status": {"handler": "fixed", "response": {"rpm": 1200}, "response_code": 200},
                "Stop": {"handler": "fail", "response_code": 400, "response": {"error": "busy"}},
                "Calibrate": {"handler": "long_running", "response": {"eta": 60}},
            },
            "components": {"motor": {"commands": {"Reset": "echo"}}},
        },
        "press-2": {"online": False, "commands": {"Start": None}},
        "press-3": {"connects_after": 3, "responds_after": 2, "commands": {"Start": "echo"}},
        "gateway": {
            "modules": {
                "opcua": {
                    "commands": {"Restart": "echo"},
                    "components": {"reader": {"commands": {"Poll": "echo"}}},
                }
            }
        },
    },
}


def check_example(scenario: Scenario) -> None:
    assert scenario.name == "factory"
    assert set(scenario.devices) == {"press-1", "press-2", "press-3", "gateway"}
    press = scenario.devices["press-1"]
    assert press.commands["Start"].handler == "echo"
    assert press.commands["Status"].response == {"rpm": 1200}
    assert press.commands["Stop"].code == 400
    assert press.commands["Calibrate"].code == 202
    assert press.components["motor"].commands["Reset"].handler == "echo"
    assert scenario.devices["press-2"].online is False
    assert scenario.devices["press-2"].commands["Start"].handler == "echo"
    sleepy = scenario.devices["press-3"]
    assert (sleepy.online, sleepy.connects_after, sleepy.responds_after) == (False, 3.0, 2.0)
    module = scenario.devices["gateway"].modules["opcua"]
    assert module.components["reader"].commands["Poll"].handler == "echo"
    assert [(t.name, t.kind, t.role) for t in scenario.tokens] == [
        ("ci", "api", "operator"),
        ("dash", "api", "viewer"),
        ("aad", "bearer", "operator"),
    ]


def test_load_yaml(tmp_path: Path) -> None:
    path = tmp_path / "factory.yaml"
    path.write_text(yaml.safe_dump(EXAMPLE), encoding="utf-8")
    check_example(load_scenario(path))


def test_load_json(tmp_path: Path) -> None:
    path = tmp_path / "factory.json"
    path.write_text(json.dumps(EXAMPLE), encoding="utf-8")
    check_example(load_scenario(str(path)))


def test_yml_and_name_from_file(tmp_path: Path) -> None:
    path = tmp_path / "plant.yml"
    path.write_text("devices:\n  d1:\n    commands:\n      Go: echo\n", encoding="utf-8")
    scenario = load_scenario(path)
    assert scenario.name == "plant"
    assert scenario.devices["d1"].commands["Go"].handler == "echo"
    assert {t.token for t in scenario.tokens} == {
        DEFAULT_API_TOKEN,
        DEFAULT_VIEWER_TOKEN,
        DEFAULT_BEARER_TOKEN,
    }


async def test_a_loaded_scenario_drives_the_simulator(tmp_path: Path) -> None:
    path = tmp_path / "factory.json"
    path.write_text(json.dumps(EXAMPLE), encoding="utf-8")
    sim = Simulator(load_scenario(path), rate_limit=None, time_scale=0)
    ci = {"Authorization": EXAMPLE["tokens"][0]["token"]}
    async with asgi_client(sim, headers=ci) as c:
        stop = await c.post("/devices/press-1/commands/Stop", json={})
        assert (stop.status_code, stop.json()["responseCode"]) == (201, 400)
        module = "/devices/gateway/modules/opcua/components/reader/commands/Poll"
        assert (await c.post(module, json={"request": 1})).json()["response"] == 1
        offline = await c.post("/devices/press-2/commands/Start", json={"connectionTimeout": 30})
        assert error_code(offline) == "DeviceNotOnline"
        sleepy = await c.post("/devices/press-3/commands/Start", json={"connectionTimeout": 3})
        assert sleepy.status_code == 201
    async with asgi_client(sim) as c:  # the default token is not in this scenario
        assert (await c.get("/devices/press-1/commands/Stop")).status_code == 401


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"devicez": {}}, "unknown key"),
        ({"devices": []}, "devices"),
        ({"devices": {"d": {"colour": 1}}}, "devices.d: unknown key"),
        ({"devices": {"d": {"online": "yes"}}}, "devices.d.online"),
        ({"devices": {"d": {"online": True, "connects_after": 2}}}, "starts offline"),
        ({"devices": {"d": {"connects_after": -1}}}, "connects_after"),
        ({"devices": {"d": {"responds_after": "soon"}}}, "responds_after"),
        ({"devices": {"d": {"commands": {"c": "shout"}}}}, "devices.d.commands.c.handler"),
        ({"devices": {"d": {"commands": {"c": 5}}}}, "devices.d.commands.c"),
        ({"devices": {"d": {"commands": {"c": {"response_code": "x"}}}}}, "response_code"),
        ({"devices": {"d": {"modules": {"m": {"x": 1}}}}}, "devices.d.modules.m"),
        ({"devices": {"d": {"components": {"c": {"commands": 3}}}}}, "components.c.commands"),
        ({"tokens": {"a": 1}}, "tokens"),
        ({"tokens": [{"token": ""}]}, "tokens[0].token"),
        ({"tokens": [{"token": "t", "role": "root"}]}, "tokens[0].role"),
        ({"tokens": [{"token": "t", "type": "basic"}]}, "tokens[0].type"),
        ({"tokens": ["t"]}, "tokens[0]"),
    ],
)
def test_invalid_scenarios_name_the_offending_entry(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(message)):
        Scenario.from_dict(data)


def test_malformed_files_are_scenario_errors(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"bad\.json"):
        load_scenario(bad_json)
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("devices: [unclosed", encoding="utf-8")
    with pytest.raises(ScenarioError):
        load_scenario(bad_yaml)
    not_mapping = tmp_path / "list.yaml"
    not_mapping.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(ScenarioError):
        load_scenario(not_mapping)
    with pytest.raises(FileNotFoundError):
        load_scenario(tmp_path / "missing.yaml")


def test_default_scenario_covers_the_documented_devices() -> None:
    scenario = default_scenario()
    devices = scenario.devices
    assert devices["mx1"].commands["CoolDown"].handler == "echo"
    assert {c.handler for c in devices["mx1"].commands.values()} == {
        "echo",
        "fixed",
        "fail",
        "long_running",
    }
    assert {c.code for c in devices["mx1"].commands.values() if c.handler == "fail"} == {400, 500}
    assert devices["offline1"].online is False
    assert devices["offline1"].connects_after is None
    assert devices["sleepy1"].connects_after == 5
    assert devices["slow1"].responds_after == 10
    assert set(devices["thermostat1"].components) == {"thermostat1", "thermostat2"}
    module = devices["edge1"].modules["sensorModule"]
    assert "restart" in module.commands
    assert "getMaxMinReport" in module.components["thermostat"].commands
    assert Simulator().scenario == scenario


def test_token_reprs_hide_the_secret() -> None:
    scenario = Scenario.from_dict(EXAMPLE)
    for token in scenario.tokens:
        assert token.token not in repr(token)
        assert token.token not in repr(scenario)
