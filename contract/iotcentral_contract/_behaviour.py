"""Behavioural checks: what the service *does*, beyond the shapes schemathesis validates.

Each check has a name (`CHECKS`); a violation raises `ContractViolation`, whose message starts
with `[name]`, so a failing run (and the runner's summary) says which promise was broken. The
checks take an httpx client aimed at the API root and the `Target`, so the same code runs against
the in-process simulator and, through the gate (allow-list, pacing), against a live app.

Where IoT Central's behaviour is not documented, the check says which answer it accepts and why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
from hypothesis import strategies as st

from iotcentral_contract._spec import default_api_version
from iotcentral_contract._target import Target
from iotcentral_contract._wire import assert_error_shape

#: Every behavioural check, by name, with the promise it holds the server to.
CHECKS: dict[str, str] = {
    "run-echoes-request": "a run's answer carries the `request` that was sent (equal as JSON)",
    "run-answer-fields": "a run's answer has a non-empty string `id` and an integer `responseCode`",
    "history-holds-run": "after a run, the history holds that execution (id, request, response, "
    "responseCode)",
    "unknown-device-404": "a device id that cannot exist is answered 404 DeviceNotFound",
    "unknown-command-404": "a command name that cannot exist is answered 404 CommandNotFound",
    "type-confusion-rejected": "a timeout that is not a JSON integer is rejected with a 4xx Error",
    "integral-timeout-handled": "a timeout of 10.0 is run as 10 or rejected with a 4xx Error",
    "stateful-run-history-link": "in the stateful phase, history after a run holds that run",
}

#: The device must answer for the run checks to mean anything; these say it did not.
_DEVICE_UNAVAILABLE = "the allow-listed device must be online and answer within responseTimeout"


class ContractViolation(AssertionError):
    """The server broke a behavioural promise; `check` names it (a key of `CHECKS`)."""

    def __init__(self, check: str, detail: str) -> None:
        if check not in CHECKS:
            raise ValueError(f"unknown check {check!r}")
        self.check = check
        self.detail = detail
        super().__init__(f"[{check}] {detail}")


def expect(condition: bool, check: str, detail: str) -> None:
    """Raise `ContractViolation(check, detail)` unless `condition`."""
    if not condition:
        raise ContractViolation(check, detail)


def api_version() -> str:
    """The api-version the behavioural and boundary checks send."""
    import os

    return os.environ.get("IOTC_CONTRACT_API_VERSION") or default_api_version()


# I-JSON (RFC 7493): integers beyond 2**53 and non-finite numbers do not survive every JSON
# parser, and IoT Central's is not documented; payloads stay inside what every parser keeps.
_SAFE_INT = 2**53 - 1
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-_SAFE_INT, max_value=_SAFE_INT)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)


def payloads() -> st.SearchStrategy[Any]:
    """Command payloads (`request`): any interoperable JSON value, small."""
    return st.recursive(
        _scalars,
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=8), children, max_size=3)
        ),
        max_leaves=8,
    )


def _json(response: httpx.Response, check: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ContractViolation(check, f"answer {response.status_code} is not JSON") from None


async def run(
    client: httpx.AsyncClient,
    target: Target,
    body: Any,
    *,
    device: str | None = None,
    command: str | None = None,
) -> httpx.Response:
    """POST `body` as JSON to the target's command (or a probe device/command)."""
    return await client.post(
        target.command_path(device, command),
        params={"api-version": api_version()},
        content=json.dumps(body).encode(),
        headers={"Authorization": target.authorization, "Content-Type": "application/json"},
    )


async def history(
    client: httpx.AsyncClient,
    target: Target,
    *,
    device: str | None = None,
    command: str | None = None,
) -> httpx.Response:
    """GET the target's command history (or a probe device's/command's)."""
    return await client.get(
        target.command_path(device, command),
        params={"api-version": api_version()},
        headers={"Authorization": target.authorization},
    )


def check_run_answer(response: httpx.Response, sent: Mapping[str, Any]) -> dict[str, Any]:
    """A successful run's answer echoes `request` and has a usable `id` and `responseCode`."""
    if response.status_code != 201:
        raise AssertionError(
            f"run answered {response.status_code}, not 201 ({_DEVICE_UNAVAILABLE})"
        )
    answer = _json(response, "run-echoes-request")
    expect(isinstance(answer, dict), "run-answer-fields", f"answer is not an object: {answer!r}")
    if "request" in sent:
        expect("request" in answer, "run-echoes-request", "the answer has no `request`")
        expect(
            answer["request"] == sent["request"],
            "run-echoes-request",
            f"sent request {sent['request']!r}, answer carries {answer['request']!r}",
        )
    identifier = answer.get("id")
    expect(
        isinstance(identifier, str) and identifier != "",
        "run-answer-fields",
        f"`id` must be a non-empty string, got {identifier!r}",
    )
    code = answer.get("responseCode")
    expect(
        isinstance(code, int) and not isinstance(code, bool),
        "run-answer-fields",
        f"`responseCode` must be an integer, got {code!r}",
    )
    return dict(answer)


_SAME_EXECUTION = ("id", "request", "response", "responseCode")


def check_history_holds(
    answer: Mapping[str, Any], response: httpx.Response, *, exact: bool
) -> bool:
    """History read after `answer` holds that execution.

    Returns False when the history's newest entry is *another* execution and `exact` is off (a
    concurrent user ran the same command in between: the spec allows that, the history keeping
    only the most recent execution); raises ContractViolation for everything else: an error,
    an empty history (someone's run must be there), or our entry with different fields.
    """
    expect(
        response.status_code == 200, "history-holds-run", f"history answered {response.status_code}"
    )
    document = _json(response, "history-holds-run")
    entries = document.get("value") if isinstance(document, dict) else None
    expect(isinstance(entries, list), "history-holds-run", f"no `value` list: {document!r}")
    assert isinstance(entries, list)
    expect(bool(entries), "history-holds-run", f"history is empty after run {answer.get('id')!r}")
    ours = [e for e in entries if isinstance(e, dict) and e.get("id") == answer.get("id")]
    if not ours:
        expect(
            not exact,
            "history-holds-run",
            f"history does not hold run {answer.get('id')!r}: it holds "
            f"{[e.get('id') if isinstance(e, dict) else e for e in entries]!r}",
        )
        return False
    entry = ours[0]
    for name in _SAME_EXECUTION:
        expect(
            entry.get(name, _ABSENT) == answer.get(name, _ABSENT),
            "history-holds-run",
            f"history's `{name}` is {entry.get(name, _ABSENT)!r}, the run answered "
            f"{answer.get(name, _ABSENT)!r}",
        )
    return True


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _Absent()


def check_not_found(response: httpx.Response, check: str, code: str) -> None:
    """A 404 in the Error shape with `code`."""
    expect(
        response.status_code == 404,
        check,
        f"answered {response.status_code}, not 404: {response.text[:200]!r}",
    )
    try:
        details = assert_error_shape(response)
    except AssertionError as error:
        raise ContractViolation(check, f"404 not in the Error shape: {error}") from None
    expect(details["code"] == code, check, f"error code {details['code']!r}, not {code!r}")


def check_rejected(response: httpx.Response, field: str, value: Any) -> None:
    """A 4xx in the Error shape: the confused timeout did not get past validation."""
    expect(
        400 <= response.status_code < 500,
        "type-confusion-rejected",
        f"{field}={json.dumps(value)} answered {response.status_code}, not a 4xx",
    )
    try:
        assert_error_shape(response)
    except AssertionError as error:
        raise ContractViolation(
            "type-confusion-rejected", f"{field}={json.dumps(value)}: {error}"
        ) from None


class RunHistoryLink:
    """Follows a stateful scenario: after a 201 run, a 200 history of the same target holds it.

    `exact` (the simulator, which nobody else uses): the history's entry is the very run. Against a
    live app a concurrent user may run the same command in between, so only what a concurrent
    user cannot undo is asserted: the history is not empty.
    """

    def __init__(self, exact: bool) -> None:
        self.exact = exact
        self.last_run: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}

    def observe(
        self, method: str, path_parameters: Mapping[str, Any] | None, status: int, content: bytes
    ) -> None:
        """Record a run's answer, or check a history read against the last recorded run."""
        key = tuple(sorted((k, str(v)) for k, v in (path_parameters or {}).items()))
        if method.upper() == "POST" and status == 201:
            try:
                self.last_run[key] = json.loads(content)
            except ValueError:
                return  # the shape checks report a broken body
            return
        if method.upper() != "GET" or status != 200 or key not in self.last_run:
            return
        answer = self.last_run[key]
        try:
            document = json.loads(content)
        except ValueError:
            return
        entries = document.get("value") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            return  # a shape violation: schemathesis' own checks report it
        expect(
            bool(entries),
            "stateful-run-history-link",
            f"history empty after run {answer.get('id')!r}",
        )
        if not self.exact:
            return
        newest = entries[0] if isinstance(entries[0], dict) else {}
        for name in _SAME_EXECUTION:
            expect(
                newest.get(name, _ABSENT) == answer.get(name, _ABSENT),
                "stateful-run-history-link",
                f"history's newest `{name}` is {newest.get(name, _ABSENT)!r}, the last run "
                f"answered {answer.get(name, _ABSENT)!r}",
            )
