"""What the client costs on top of the HTTP it sends, as ratios against a baseline in one process.

Each contender sends the seed's run-command request through the same in-memory transport (an httpx
MockTransport answering 201), so the network is out of the picture and only client-side work is
measured: raw httpx (the baseline), the generated client, and the wrapper (validation, auth,
retry bookkeeping, headers, typed results). Timings interleave the contenders round by round and
take each one's median, so a noisy machine shifts all of them alike. Ratios, never absolute times,
are what to compare across machines.

On a busy machine the time ratio still moves by about 0.1 between runs, so the script also counts
the Python function calls each contender makes per request (cProfile): a deterministic figure
that shows any work added to the send path, whatever the noise.

    python benchmarks/bench_overhead.py [--calls 2000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import time
from collections.abc import Callable

import httpx
from iotcentral import ApiToken, IoTCentralClient
from iotcentral_api import AuthenticatedClient
from iotcentral_api.api.devices import run_command
from iotcentral_api.models import DeviceCommand

BASE_URL = "https://app.azureiotcentral.com/api"
TOKEN = "SharedAccessSignature sr=bench&sig=bench&skn=bench&se=1"
ANSWER = {"id": "1", "request": {"tempVal": 30}, "response": {"ok": True}, "responseCode": 200}
PAYLOAD = {"tempVal": 30}


def answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(201, json=ANSWER)


def contenders() -> dict[str, tuple[Callable[[], object], Callable[[], None]]]:
    """name -> (one call, close)."""
    raw = httpx.Client(base_url=BASE_URL, transport=httpx.MockTransport(answer))
    headers = {"Authorization": TOKEN}

    def raw_call() -> object:
        response = raw.post(
            "/devices/mx1/commands/CoolDown",
            params={"api-version": "2022-07-31"},
            json={"request": PAYLOAD},
            headers=headers,
        )
        return response.json()

    generated = AuthenticatedClient(
        base_url=BASE_URL,
        token=TOKEN,
        prefix="",
        httpx_args={"transport": httpx.MockTransport(answer)},
    )

    def generated_call() -> object:
        body = DeviceCommand(request=PAYLOAD)
        return run_command.sync_detailed(
            "mx1", "CoolDown", client=generated, body=body, api_version="2022-07-31"
        ).parsed

    wrapper = IoTCentralClient(
        base_url=BASE_URL, credential=ApiToken(TOKEN), transport=httpx.MockTransport(answer)
    )

    def wrapper_call() -> object:
        return wrapper.run_command("mx1", "CoolDown", PAYLOAD)

    return {
        "raw httpx (baseline)": (raw_call, raw.close),
        "generated client": (generated_call, generated.get_httpx_client().close),
        "iotcentral client": (wrapper_call, wrapper.close),
    }


def measure(calls: int, rounds: int) -> dict[str, float]:
    """Median seconds per call of each contender."""
    runners = contenders()
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for call, _ in runners.values():  # warm up pools, caches, lazy imports
        for _ in range(min(calls, 50)):
            call()
    for _ in range(rounds):
        for name, (call, _) in runners.items():
            start = time.perf_counter()
            for _ in range(calls):
                call()
            samples[name].append((time.perf_counter() - start) / calls)
    for _, close in runners.values():
        close()
    return {name: statistics.median(values) for name, values in samples.items()}


def python_calls(calls: int = 200) -> dict[str, float]:
    """Python function calls per request of each contender (deterministic, unlike time)."""
    runners = contenders()
    counts: dict[str, float] = {}
    for name, (call, close) in runners.items():
        call()  # the first call imports and warms up lazily built state
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(calls):
            call()
        profile.disable()
        close()
        counts[name] = pstats.Stats(profile).total_calls / calls  # type: ignore[attr-defined]
    return counts


def ratios(medians: dict[str, float]) -> dict[str, float]:
    """Each contender's time per call divided by the baseline's."""
    baseline = next(iter(medians.values()))
    return {name: value / baseline for name, value in medians.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print ratios as JSON")
    args = parser.parse_args()
    medians = measure(args.calls, args.rounds)
    result = ratios(medians)
    counts = python_calls()
    if args.json:
        print(json.dumps({"time": result, "python_calls": ratios(counts)}))
        return
    call_ratios = ratios(counts)
    print(f"{'':24} {'time':>6}   {'python calls':>14}")
    for name, ratio in result.items():
        print(
            f"{name:24} {ratio:5.2f}x   {counts[name]:6.0f} ({call_ratios[name]:4.2f}x)"
            f"   {medians[name] * 1e6:7.1f} us/call on this machine"
        )


if __name__ == "__main__":
    main()
