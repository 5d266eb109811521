"""What each request costs on the wire path, beyond what the behaviour tests see."""

from __future__ import annotations

import builtins
from typing import Any

import iotcentral as ic
import pytest
from iotcentral_sim import DEFAULT_API_TOKEN, Simulator, SimulatorServer


async def test_async_requests_do_not_repeat_a_failing_import(
    served: tuple[Simulator, SimulatorServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpcore imports sniffio on every async pool operation; without it installed each
    request re-ran the import system for a module that is not there (about 3 ms a request)."""
    _, server = served
    failed: list[str] = []
    real_import = builtins.__import__

    def spy(name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return real_import(name, *args, **kwargs)
        except ImportError:
            failed.append(name)
            raise

    async with ic.AsyncIoTCentralClient(
        base_url=server.url, credential=DEFAULT_API_TOKEN
    ) as client:
        await client.run_command("mx1", "CoolDown", {"tempVal": 1})  # lazy imports happen here
        monkeypatch.setattr(builtins, "__import__", spy)
        for _ in range(3):
            await client.run_command("mx1", "CoolDown", {"tempVal": 1})
    assert failed == []
