"""History paging in the simulator: depth, page size, nextLink, and its control surfaces."""

from __future__ import annotations

import httpx
import pytest
from iotcentral_sim import Simulator, SimulatorServer
from sim_helpers import asgi_client, assert_conforms, error_code

HISTORY = "/devices/mx1/commands/CoolDown"
VERSION = "2022-10-31-preview"  # any supported version; the nextLink must keep the request's own


async def _run(client: httpx.AsyncClient, times: int) -> list[str]:
    ids = []
    for n in range(times):
        answer = await client.post(HISTORY, json={"request": {"n": n}})
        assert answer.status_code == 201
        ids.append(answer.json()["id"])
    return ids[::-1]  # history order: most recent first


async def test_by_default_history_holds_only_the_most_recent_execution(sim: Simulator) -> None:
    async with asgi_client(sim) as c:
        ids = await _run(c, 3)
        answer = await c.get(HISTORY)
    assert_conforms(answer)
    assert answer.json() == {"value": [sim.last_execution("mx1", "CoolDown")]}
    assert answer.json()["value"][0]["id"] == ids[0]


async def test_pages_of_the_configured_size_linked_by_absolute_same_origin_next_links() -> None:
    sim = Simulator(rate_limit=None, time_scale=0, history_page_size=2, history_depth=4)
    # The second client has no default query: httpx would replace the link's query with it.
    async with (
        asgi_client(sim, params={"api-version": VERSION}) as c,
        asgi_client(sim, params={}) as follow,
    ):
        ids = await _run(c, 5)  # depth 4: the oldest falls out
        pages = [await c.get(HISTORY)]
        while "nextLink" in pages[-1].json() and len(pages) < 5:
            link = httpx.URL(pages[-1].json()["nextLink"])
            assert (link.scheme, link.host, link.path) == ("http", "sim", f"/api{HISTORY}")
            assert link.params["api-version"] == VERSION
            pages.append(await follow.get(str(link)))
    for page in pages:
        assert_conforms(page)
    assert [[item["id"] for item in page.json()["value"]] for page in pages] == [
        ids[0:2],
        ids[2:4],
    ]


@pytest.mark.parametrize("token", ["-1", "x", "1" * 12])
async def test_a_skip_parameter_it_did_not_issue_is_refused(token: str) -> None:
    sim = Simulator(rate_limit=None, time_scale=0, history_page_size=1, history_depth=3)
    async with asgi_client(sim) as c:
        answer = await c.get(HISTORY, params={"api-version": "2022-07-31", "skipToken": token})
    assert answer.status_code == 400
    assert error_code(answer) == "InvalidParameter"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"history_page_size": 0}, "page_size"),
        ({"history_page_size": 1001}, "page_size"),
        ({"history_depth": 0}, "depth"),
        ({"history_depth": True}, "depth"),
    ],
)
def test_out_of_range_settings_are_refused_naming_the_field(
    options: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Simulator(**options)  # type: ignore[arg-type]


def test_the_control_api_sets_paging_and_reset_restores_it(
    served: tuple[Simulator, SimulatorServer],
) -> None:
    simulator, server = served
    control = server.url.removesuffix("/api") + "/_sim/history-paging"
    answer = httpx.post(control, json={"page_size": 3, "depth": 7})
    assert answer.json() == {"page_size": 3, "depth": 7}
    assert simulator.history_paging == {"page_size": 3, "depth": 7}
    refused = httpx.post(control, json={"page_size": 0})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "InvalidSetting"
    assert "page_size" in refused.json()["error"]["message"]
    simulator.reset()
    assert httpx.get(control).json() == {"page_size": None, "depth": 1}


def test_the_paging_control_is_guarded_like_the_rest_of_the_control_api(
    served: tuple[Simulator, SimulatorServer],
) -> None:
    simulator, server = served
    control = server.url.removesuffix("/api") + "/_sim/history-paging"
    as_text = httpx.post(
        control, content=b'{"page_size": 2}', headers={"content-type": "text/plain"}
    )
    cross_site = httpx.post(
        control, json={"page_size": 2}, headers={"origin": "https://evil.example"}
    )
    assert (as_text.status_code, cross_site.status_code) == (415, 403)
    assert simulator.history_paging == {"page_size": None, "depth": 1}  # nothing changed
