from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="DeviceCommand")


@_attrs_define
class DeviceCommand:
    """The device command definition.

    Attributes:
        id (str | Unset): The request ID of the device command execution.
        connection_timeout (int | Unset): Connection timeout in seconds to wait for a disconnected device to come
            online. Defaults to 0 seconds.
        response_timeout (int | Unset): Response timeout in seconds to wait for a command completion on a device.
            Defaults to 30 seconds.
        request (Any | Unset): The payload for the device command, support any primitive types or object.
        response (Any | Unset): The payload of the device command response, support any primitive types or object.
        response_code (int | Unset): The status code of the device command response.
    """

    id: str | Unset = UNSET
    connection_timeout: int | Unset = UNSET
    response_timeout: int | Unset = UNSET
    request: Any | Unset = UNSET
    response: Any | Unset = UNSET
    response_code: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        connection_timeout = self.connection_timeout

        response_timeout = self.response_timeout

        request = self.request

        response = self.response

        response_code = self.response_code

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if id is not UNSET:
            field_dict["id"] = id
        if connection_timeout is not UNSET:
            field_dict["connectionTimeout"] = connection_timeout
        if response_timeout is not UNSET:
            field_dict["responseTimeout"] = response_timeout
        if request is not UNSET:
            field_dict["request"] = request
        if response is not UNSET:
            field_dict["response"] = response
        if response_code is not UNSET:
            field_dict["responseCode"] = response_code

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        id = d.pop("id", UNSET)

        connection_timeout = d.pop("connectionTimeout", UNSET)

        response_timeout = d.pop("responseTimeout", UNSET)

        request = d.pop("request", UNSET)

        response = d.pop("response", UNSET)

        response_code = d.pop("responseCode", UNSET)

        device_command = cls(
            id=id,
            connection_timeout=connection_timeout,
            response_timeout=response_timeout,
            request=request,
            response=response,
            response_code=response_code,
        )

        device_command.additional_properties = d
        return device_command

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
