"""Behavioural properties: what the service does with a run, not only the shape of its answers.

Live-safe: every request goes through the gate (allow-listed device and command, paced); the
not-found probes address a device that cannot exist or a command no device can define, so
nothing they send reaches a device. Each check is named (`_behaviour.CHECKS`); a violation says
which one. Against the simulator the answers are exact; where IoT Central's behaviour is not
documented, the test says which answers it accepts and why.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from iotcentral_contract import _harness
from iotcentral_contract._behaviour import (
    ContractViolation,
    check_history_holds,
    check_not_found,
    check_rejected,
    check_run_answer,
    expect,
    history,
    payloads,
    run,
)
from iotcentral_contract._spec import property_bounds
from iotcentral_contract._wire import assert_error_shape, raw_client

TIMEOUTS = ("connectionTimeout", "responseTimeout")


@settings(max_examples=12)
@given(payload=payloads())
async def test_run_echoes_the_request(payload: Any) -> None:
    """`request` comes back equal as JSON; `id` is a non-empty string, `responseCode` an int."""
    target = _harness.target()
    sent = {"request": payload}
    async with raw_client() as client:
        check_run_answer(await run(client, target, sent), sent)


# Against a live app another user may run the same command between our run and our read: the
# history keeps only the most recent execution, so theirs replaces ours (the spec allows this).
# The suite then runs again, at most this many times in all; a history that never shows our run
# (or is ever empty, or shows our run with other fields) fails.
LIVE_ATTEMPTS = 3


@settings(max_examples=5)
@given(payload=payloads())
async def test_history_holds_the_run(payload: Any) -> None:
    """After a 201 run, history holds that execution: same id, request, response, responseCode."""
    target = _harness.target()
    sent = {"request": payload}
    attempts = LIVE_ATTEMPTS if target.live else 1
    async with raw_client() as client:
        for _ in range(attempts):
            answer = check_run_answer(await run(client, target, sent), sent)
            if check_history_holds(answer, await history(client, target), exact=not target.live):
                return
    pytest.fail(
        f"[history-holds-run] in {attempts} run/read pairs the history never held our run: "
        "another user runs this command constantly, or the history is stale"
    )


@pytest.mark.parametrize("operation", ["run", "history"])
async def test_unknown_device_is_404_device_not_found(operation: str) -> None:
    """A random UUID as device id: 404 `DeviceNotFound` in the Error shape.

    IoT Central documents 404 for "device does not exist"; the code `DeviceNotFound` is the one
    the simulator answers and the client documents (README, "Errors"). 400 would say the request
    was malformed, which it is not: any string is a valid device id.
    """
    target = _harness.target()
    device = target.nonexistent_device()
    async with raw_client() as client:
        if operation == "run":
            response = await run(client, target, {"request": {"tempVal": 30}}, device=device)
        else:
            response = await history(client, target, device=device)
    check_not_found(response, "unknown-device-404", "DeviceNotFound")


@pytest.mark.parametrize("operation", ["run", "history"])
async def test_impossible_command_is_404_command_not_found(operation: str) -> None:
    """A command name no device template can declare, on the allow-listed device: 404.

    The code `CommandNotFound` is not in IoT Central's published description (it documents only
    404 for missing apps and devices); the suite accepts only that code, as the simulator answers
    and the client documents, so a proxy or fake that invents another code is caught.
    """
    target = _harness.target()
    command = target.impossible_command()
    async with raw_client() as client:
        if operation == "run":
            response = await run(client, target, {"request": {"tempVal": 30}}, command=command)
        else:
            response = await history(client, target, command=command)
    check_not_found(response, "unknown-command-404", "CommandNotFound")


def _in_range(field: str) -> st.SearchStrategy[int]:
    low, high = property_bounds("DeviceCommand", field)
    return st.integers(min_value=low, max_value=high)


def confused(field: str) -> st.SearchStrategy[Any]:
    """Values of the wrong JSON type for an int32 timeout, many of them in range if coerced."""
    return (
        _in_range(field).map(str)  # "10": a numeric string
        | _in_range(field).map(lambda n: f" {n}")
        | st.floats(min_value=0, max_value=31, exclude_min=True).filter(
            lambda f: not f.is_integer()
        )
        | st.booleans()
        | st.none()
        | st.lists(_in_range(field), min_size=1, max_size=1)
    )


@settings(max_examples=10)
@given(data=st.data())
@example(data=None)  # the issue's own case, always tried first: responseTimeout "10"
@pytest.mark.parametrize("field", TIMEOUTS)
async def test_type_confusion_is_rejected(field: str, data: st.DataObject | None) -> None:
    """A numeric string, a fraction, a boolean, null or a list as a timeout: a 4xx Error.

    The spec types both timeouts as JSON integers (int32); a server that coerces "10" into 10
    accepts requests its own description rejects. IoT Central's status for this is not
    documented (the simulator answers 422 `InvalidRequestBody`): any 4xx in the Error shape.
    """
    value: Any = "10" if data is None else data.draw(confused(field), label=field)
    target = _harness.target()
    async with raw_client() as client:
        response = await run(client, target, {field: value, "request": {"tempVal": 30}})
    check_rejected(response, field, value)


@pytest.mark.parametrize("field", TIMEOUTS)
async def test_integral_float_timeout_is_an_integer_or_rejected(field: str) -> None:
    """`10.0` is an integer to JSON Schema 2020-12 (the spec's dialect), so the spec admits it.

    Whether IoT Central's parser does is not documented: the suite accepts a run (whose answer, if
    it states the timeout, states 10) or a 4xx in the Error shape, and nothing else.
    """
    target = _harness.target()
    async with raw_client() as client:
        response = await run(client, target, {field: 10.0, "request": {"tempVal": 30}})
    check = "integral-timeout-handled"
    if response.status_code == 201:
        stated = response.json().get(field, 10)
        expect(stated == 10, check, f"{field}=10.0 was run with {field} {stated!r}")
        return
    expect(
        400 <= response.status_code < 500,
        check,
        f"{field}=10.0 answered {response.status_code}, neither 201 nor a 4xx",
    )
    try:
        assert_error_shape(response)
    except AssertionError as error:
        raise ContractViolation(check, f"{field}=10.0: {error}") from None
