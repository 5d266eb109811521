"""Contains all the data models used in inputs/outputs"""

from .api_version import ApiVersion
from .default_api_version import DefaultApiVersion
from .device_command import DeviceCommand
from .device_command_collection import DeviceCommandCollection
from .error import Error
from .error_details import ErrorDetails

__all__ = (
    "ApiVersion",
    "DefaultApiVersion",
    "DeviceCommand",
    "DeviceCommandCollection",
    "Error",
    "ErrorDetails",
)
