"""Authentication (401), authorisation (403) and never echoing a token."""

from __future__ import annotations

import logging

import httpx
import pytest
from iotcentral_sim import (
    DEFAULT_API_TOKEN,
    DEFAULT_BEARER_TOKEN,
    DEFAULT_VIEWER_TOKEN,
    Scenario,
    Simulator,
)
from sim_helpers import Q, asgi_client, assert_conforms, error_code

RUN = "/devices/mx1/commands/CoolDown"
SECRET = "SharedAccessSignature sr=app&sig=very-secret-signature&skn=ops&se=4102444800000"


async def test_missing_authorization_is_401(sim: Simulator) -> None:
    async with asgi_client(sim, headers={}) as c:
        run = await c.post(RUN, json={"request": 1})
        history = await c.get(RUN)
    assert run.status_code == 401
    assert error_code(run) == "Unauthorized"
    assert history.status_code == 401
    assert error_code(history) == "Unauthorized"
    assert sim.execution_count("mx1", "CoolDown") == 0


@pytest.mark.parametrize(
    "header",
    [
        "SharedAccessSignature sr=x&sig=wrong&skn=operator&se=1",
        f"Bearer {DEFAULT_API_TOKEN}",  # an API token is not a bearer token
        DEFAULT_BEARER_TOKEN,  # a bearer token sent without its scheme
        "Bearer ",
        "   ",
    ],
)
async def test_unknown_token_is_401(sim: Simulator, header: str) -> None:
    async with asgi_client(sim, headers={"Authorization": header}) as c:
        run = await c.post(RUN, json={"request": 1})
    assert run.status_code == 401
    assert error_code(run) == "Unauthorized"
    assert sim.execution_count("mx1", "CoolDown") == 0


async def test_default_api_and_bearer_tokens_may_run(sim: Simulator) -> None:
    for header in (
        DEFAULT_API_TOKEN,
        f"Bearer {DEFAULT_BEARER_TOKEN}",
        f"bearer {DEFAULT_BEARER_TOKEN}",
    ):
        async with asgi_client(sim, headers={"Authorization": header}) as c:
            run = await c.post(RUN, json={"request": 1})
        assert run.status_code == 201, header
    assert sim.execution_count("mx1", "CoolDown") == 3


async def test_viewer_may_read_history_but_not_run(sim: Simulator) -> None:
    async with asgi_client(sim, headers={"Authorization": DEFAULT_VIEWER_TOKEN}) as c:
        run = await c.post(RUN, json={"request": 1})
        history = await c.get(RUN)
    assert run.status_code == 403
    assert error_code(run) == "Forbidden"
    assert history.status_code == 200
    assert_conforms(history)
    assert sim.execution_count("mx1", "CoolDown") == 0


async def test_api_tokens_replace_the_scenarios_api_tokens_but_keep_bearer() -> None:
    sim = Simulator(api_tokens=[SECRET], rate_limit=None)
    async with asgi_client(sim, headers={"Authorization": SECRET}) as c:
        assert (await c.post(RUN, json={})).status_code == 201
    async with asgi_client(sim, headers={"Authorization": DEFAULT_API_TOKEN}) as c:
        assert (await c.post(RUN, json={})).status_code == 401
    async with asgi_client(sim, headers={"Authorization": f"Bearer {DEFAULT_BEARER_TOKEN}"}) as c:
        assert (await c.post(RUN, json={})).status_code == 201


def test_api_tokens_must_be_a_sequence_not_a_string() -> None:
    with pytest.raises(TypeError):
        Simulator(api_tokens=SECRET)


async def test_scenario_tokens_and_roles() -> None:
    scenario = Scenario.from_dict(
        {
            "tokens": [
                {"token": SECRET, "role": "administrator"},
                {"token": "viewer-bearer", "type": "bearer", "role": "viewer"},
            ],
            "devices": {"d": {"commands": {"c": "echo"}}},
        }
    )
    sim = Simulator(scenario, rate_limit=None)
    async with asgi_client(sim, headers={"Authorization": SECRET}) as c:
        assert (await c.post("/devices/d/commands/c", json={})).status_code == 201
    async with asgi_client(sim, headers={"Authorization": "Bearer viewer-bearer"}) as c:
        assert (await c.post("/devices/d/commands/c", json={})).status_code == 403
        assert (await c.get("/devices/d/commands/c")).status_code == 200
    async with asgi_client(sim, headers={"Authorization": DEFAULT_API_TOKEN}) as c:
        assert (await c.post("/devices/d/commands/c", json={})).status_code == 401


async def test_no_tokens_means_everything_is_401() -> None:
    sim = Simulator(Scenario.from_dict({"tokens": [], "devices": {}}), rate_limit=None)
    async with asgi_client(sim) as c:
        assert (await c.get(RUN)).status_code == 401


async def test_tokens_are_never_echoed(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sim_with_secret = Simulator(api_tokens=[SECRET], rate_limit=None)
    responses: list[httpx.Response] = []
    for simulator, header in [
        (sim, SECRET),  # unknown here
        (sim, f"Bearer {SECRET}"),
        (sim, DEFAULT_VIEWER_TOKEN),  # 403
        (sim_with_secret, SECRET),  # 201
    ]:
        async with asgi_client(simulator, headers={"Authorization": header}) as c:
            responses.append(await c.post(RUN, json={"request": 1}))
            responses.append(await c.get(RUN))
            responses.append(await c.post("/devices/nope/commands/x", json={}))
            responses.append(await c.post(RUN, json={"responseTimeout": 1}))
            responses.append(await c.post(RUN, params={"api-version": "1999"}, json={}))
    assert {r.status_code for r in responses} >= {200, 201, 400, 401, 403, 404, 422}
    secrets = [SECRET, "very-secret-signature", DEFAULT_VIEWER_TOKEN, DEFAULT_API_TOKEN]
    for response in responses:
        dump = response.text + repr(dict(response.headers))
        for secret in secrets:
            assert secret not in dump
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in repr(sim_with_secret)
        assert secret not in repr(sim_with_secret.tokens)
        assert secret not in repr(sim_with_secret.scenario)


async def test_api_version_is_checked_before_auth(sim: Simulator) -> None:
    async with asgi_client(sim, headers={}, params={}) as c:
        response = await c.post(RUN, json={})
    assert response.status_code == 400
    assert error_code(response) == "MissingApiVersionParameter"


async def test_auth_is_checked_before_the_body_and_the_device(sim: Simulator) -> None:
    async with asgi_client(sim, headers={"Authorization": DEFAULT_VIEWER_TOKEN}) as c:
        bad_body = await c.post(RUN, content=b"{", headers={"content-type": "application/json"})
        no_device = await c.post("/devices/nope/commands/x", params=Q, json={})
    assert error_code(bad_body) == "Forbidden"
    assert error_code(no_device) == "Forbidden"
