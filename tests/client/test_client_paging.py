"""History paging: `iter_command_history` follows `nextLink`, safely and within bounds.

Against the served simulator paging its history (`Simulator.set_history_paging`), and against
scripted answers for what a well-behaved simulator never does (other hosts, endless links).
"""

from __future__ import annotations

from typing import Any

import httpx
import iotcentral as ic
import pytest
from client_helpers import BASE, TOKEN, Script, error_json, history_json
from fakes import Sleeps
from iotcentral_sim import DEFAULT_API_TOKEN, Simulator, SimulatorServer

PAGE_SIZE = 2
RUNS = 5  # three pages: 2 + 2 + 1


def _run_several(client: ic.IoTCentralClient, runs: int = RUNS) -> list[str | None]:
    """Run CoolDown `runs` times; the ids, most recent first (the history's order)."""
    ids = [client.run_command("mx1", "CoolDown", {"n": n}).id for n in range(runs)]
    return ids[::-1]


def test_iteration_follows_next_link_through_every_page_of_the_served_simulator(
    served: tuple[Simulator, SimulatorServer], sim_client: ic.IoTCentralClient
) -> None:
    simulator, _ = served
    simulator.set_history_paging(page_size=PAGE_SIZE, depth=10)
    expected = _run_several(sim_client)
    before = simulator.request_count

    pager = sim_client.iter_command_history("mx1", "CoolDown")
    assert simulator.request_count == before  # lazy: nothing sent before iteration
    assert [result.id for result in pager] == expected
    assert simulator.request_count == before + 3

    pager = sim_client.iter_command_history("mx1", "CoolDown")
    pages = list(pager.by_page())
    assert [len(page) for page in pages] == [2, 2, 1]
    again = list(pager.by_page())  # each iteration starts again from the first page
    assert [[r.id for r in page] for page in again] == [[r.id for r in page] for page in pages]
    request_ids = {page.latest.client_request_id for page in [*pages, *again] if page.latest}
    assert len(request_ids) == 6  # one logical call per page
    assert [page.next_link is None for page in pages] == [False, False, True]
    for page in pages:
        assert page.http_response is not None
        request = page.http_response.request
        assert request.url.host == "127.0.0.1"
        assert request.url.params["api-version"] == sim_client.api_version
        assert request.headers["authorization"] == DEFAULT_API_TOKEN


def test_one_page_when_the_service_does_not_page(sim_client: ic.IoTCentralClient) -> None:
    _run_several(sim_client, 3)  # the service keeps only the most recent execution
    (page,) = sim_client.iter_command_history("mx1", "CoolDown").by_page()
    assert len(page) == 1
    assert page.next_link is None


def test_every_page_goes_through_send_with_its_retries(
    served: tuple[Simulator, SimulatorServer], sim_client: ic.IoTCentralClient, sleeps: Sleeps
) -> None:
    simulator, _ = served
    simulator.set_history_paging(page_size=PAGE_SIZE, depth=10)
    expected = _run_several(sim_client)
    # Every history read fails once with 503 first; reads are safe to retry.
    simulator.add_fault("status_before", status=503, on="history", times=None)
    with pytest.raises(ic.ServiceUnavailableError):
        list(sim_client.iter_command_history("mx1", "CoolDown", retry=0))
    simulator.clear_faults()
    simulator.add_fault("status_before", status=503, on="history", times=1)
    assert [r.id for r in sim_client.iter_command_history("mx1", "CoolDown")] == expected
    assert len(sleeps.calls) == 1  # one retry, then the remaining pages


async def test_async_pager_follows_every_page(
    sim: Simulator, async_sim_client: ic.AsyncIoTCentralClient
) -> None:
    sim.set_history_paging(page_size=PAGE_SIZE, depth=10)
    ids = [(await async_sim_client.run_command("mx1", "CoolDown", {"n": n})).id for n in range(3)]
    pager = async_sim_client.iter_command_history("mx1", "CoolDown")
    assert [result.id async for result in pager] == ids[::-1]
    sizes = [len(page) async for page in pager.by_page()]
    assert sizes == [2, 1]


# -- what the client refuses (scripted answers) --------------------------------------------------


def _page(ids: list[str], next_link: str | None = None) -> httpx.Response:
    extra: dict[str, Any] = {} if next_link is None else {"nextLink": next_link}
    return history_json(*({"id": i} for i in ids), **extra)


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example.com/api/devices/mx1/commands/CoolDown?page=2",
        "http://myapp.azureiotcentral.com/api/devices/mx1/commands/CoolDown?page=2",
        "https://myapp.azureiotcentral.com:8443/api/devices/mx1/commands/CoolDown?page=2",
        "https://user:pw@myapp.azureiotcentral.com/api/devices/mx1/commands/CoolDown",
        "//evil.example.com/api/next",
    ],
)
def test_a_next_link_off_the_clients_origin_is_refused_and_never_sent(link: str) -> None:
    script = Script(_page(["a"], link), _page(["b"]))
    with script.client() as client:
        pager = client.iter_command_history("mx1", "CoolDown")
        seen: list[str | None] = []
        with pytest.raises(ic.PagingError) as caught:
            seen.extend(result.id for result in pager)
    assert seen == ["a"]  # the first page was delivered before the refusal
    assert len(script.requests) == 1  # the token never went anywhere else
    assert TOKEN not in str(caught.value)
    assert not caught.value.may_have_executed


def test_a_same_origin_next_link_keeps_its_query_but_carries_the_clients_version() -> None:
    link = f"{BASE}/devices/mx1/commands/CoolDown?skip=1&api-version=1999-01-01"
    relative = "/api/devices/mx1/commands/CoolDown?skip=2"
    script = Script(_page(["a"], link), _page(["b"], relative), _page(["c"]))
    with script.client(api_version=ic.SUPPORTED_API_VERSIONS[-1]) as client:
        assert [r.id for r in client.iter_command_history("mx1", "CoolDown")] == ["a", "b", "c"]
    second, third = script.requests[1], script.requests[2]
    assert second.url.params.get_list("api-version") == [ic.SUPPORTED_API_VERSIONS[-1]]
    assert second.url.params["skip"] == "1"
    assert third.url.params["skip"] == "2"
    assert str(third.url).startswith(f"{BASE}/devices/mx1/commands/CoolDown?")
    assert third.headers["authorization"] == TOKEN


def test_a_next_link_that_repeats_stops_paging() -> None:
    link = f"{BASE}/devices/mx1/commands/CoolDown?skip=1"
    script = Script(_page(["a"], link))  # the last step repeats: the same link forever
    with script.client() as client, pytest.raises(ic.PagingError, match="repeats"):
        list(client.iter_command_history("mx1", "CoolDown"))
    assert len(script.requests) == 2


def test_paging_stops_at_max_pages() -> None:
    counter = iter(range(1, 1000))

    def endless(request: httpx.Request) -> httpx.Response:
        n = next(counter)
        return _page([str(n)], f"{BASE}/devices/mx1/commands/CoolDown?skip={n}")

    script = Script(endless)
    with script.client() as client:
        pages = client.iter_command_history("mx1", "CoolDown", max_pages=4).by_page()
        got: list[int] = []
        with pytest.raises(ic.PagingError, match="max_pages=4"):
            got.extend(len(page) for page in pages)
    assert got == [1, 1, 1, 1]
    assert len(script.requests) == 4


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "3", 100_001])
def test_max_pages_is_checked_before_anything_is_sent(bad: Any) -> None:
    script = Script(_page(["a"]))
    with script.client() as client, pytest.raises(ic.InvalidArgumentError, match="max_pages"):
        client.iter_command_history("mx1", "CoolDown", max_pages=bad)
    assert script.requests == []


def test_an_error_on_a_later_page_is_its_typed_error() -> None:
    link = f"{BASE}/devices/mx1/commands/CoolDown?skip=1"
    script = Script(_page(["a"], link), error_json(404, "DeviceNotFound"))
    with script.client(retry=0) as client, pytest.raises(ic.NotFoundError):
        list(client.iter_command_history("mx1", "CoolDown"))
    assert len(script.requests) == 2


def test_an_empty_next_link_ends_paging() -> None:
    script = Script(_page(["a"], ""))
    with script.client() as client:
        assert [r.id for r in client.iter_command_history("mx1", "CoolDown")] == ["a"]
    assert len(script.requests) == 1
