"""A client library for accessing Azure IoT Central device commands"""

from .client import AuthenticatedClient, Client

__all__ = (
    "AuthenticatedClient",
    "Client",
)
