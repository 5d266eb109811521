"""The contract suite of iotcentral-client, installable (the `contract` extra).

It checks a server (an IoT Central app, a proxy in front of one, your own fake, or the bundled
simulator) against `spec/iotcentral.yaml`, in two layers: shapes (schemathesis: statuses, schemas,
content types, auth, the stateful run -> history walk) and behaviour (`_behaviour.py`: echo,
run -> history link, not-found probes, type confusion). Run it with
`iotcentral contract-test --base-url ... --device ... --command ...` (see `runner`); against a live
app every request is confined to the allow-listed device and command and paced (`_gate.py`).

This package imports `iotcentral` (the client, for versions and redaction) and, only when the
target is the in-process simulator, `iotcentral_sim`; nothing imports it but the command line.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SUITE_DIR"]

#: The folder pytest collects: the suite's test modules and its conftest.
SUITE_DIR = Path(__file__).resolve().parent
