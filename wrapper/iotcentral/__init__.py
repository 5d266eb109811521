"""iotcentral: a typed, command-safe client for Azure IoT Central device commands."""

from ._version import __version__

__all__ = ["__version__"]
