from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.device_command import DeviceCommand


T = TypeVar("T", bound="DeviceCommandCollection")


@_attrs_define
class DeviceCommandCollection:
    """The paged results of device command executions, most recent first.

    Paging: an answer with a non-empty `nextLink` has further executions behind it; a client
    gets them with a GET of `nextLink` (the same credential, api-version set to the client's
    own) until an answer has no `nextLink`. `nextLink` is an absolute URL on the origin the
    request was sent to; a client refuses to follow one to another scheme, host or port (the
    credential never travels there), one it has already followed, or beyond its page limit.
    Its query is opaque. A page may hold fewer executions than the previous one.

        Attributes:
            value (list[DeviceCommand]): The collection of device command executions.
            next_link (str | Unset): URL to get the next page of device command executions (see paging above).
    """

    value: list[DeviceCommand]
    next_link: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        value = []
        for value_item_data in self.value:
            value_item = value_item_data.to_dict()
            value.append(value_item)

        next_link = self.next_link

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "value": value,
            }
        )
        if next_link is not UNSET:
            field_dict["nextLink"] = next_link

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.device_command import DeviceCommand

        d = dict(src_dict)
        value = []
        _value = d.pop("value")
        for value_item_data in _value:
            value_item = DeviceCommand.from_dict(value_item_data)

            value.append(value_item)

        next_link = d.pop("nextLink", UNSET)

        device_command_collection = cls(
            value=value,
            next_link=next_link,
        )

        device_command_collection.additional_properties = d
        return device_command_collection

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
