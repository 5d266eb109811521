"""Fixtures for the command-line tests: the typer app and a clean environment.

The simulator served over loopback (``served``) comes from ``tests/conftest.py``.
"""

from __future__ import annotations

import pytest
import typer
from iotcentral.cli import create_app


@pytest.fixture
def app() -> typer.Typer:
    return create_app()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """IOTC_* variables cleared, so each test sets its own."""
    for name in (
        "IOTC_APP",
        "IOTC_BASE_DOMAIN",
        "IOTC_BASE_URL",
        "IOTC_API_TOKEN",
        "IOTC_BEARER_TOKEN",
        "IOTC_API_VERSION",
    ):
        monkeypatch.delenv(name, raising=False)
