"""The repository's own contract tests (client properties, model round trips, teeth, live mode,
the packaged runner) share the packaged suite's fixtures and markers."""

from __future__ import annotations

from iotcentral_contract.conftest import (  # noqa: F401 - pytest finds them by name
    pytest_collection_modifyitems,
    pytest_configure,
    simulator,
    target,
)
