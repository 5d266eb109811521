"""The distribution's version, single-sourced for packaging and the User-Agent."""

__version__ = "0.1.0"
