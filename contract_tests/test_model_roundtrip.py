"""Property (a): the generated models round-trip every spec-valid command, collection and error."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from iotcentral_api.models import DeviceCommand, DeviceCommandCollection, Error
from iotcentral_contract._spec import instances_of


@given(instances_of("DeviceCommand"))
def test_device_command_round_trips(document: dict[str, Any]) -> None:
    assert DeviceCommand.from_dict(document).to_dict() == document


@given(instances_of("DeviceCommandCollection"))
def test_device_command_collection_round_trips(document: dict[str, Any]) -> None:
    assert DeviceCommandCollection.from_dict(document).to_dict() == document


@given(instances_of("Error"))
def test_error_round_trips(document: dict[str, Any]) -> None:
    parsed = Error.from_dict(document)
    assert parsed.to_dict() == document
    assert parsed.error.code == document["error"]["code"]
    assert parsed.error.message == document["error"]["message"]
