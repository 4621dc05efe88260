"""The version of this Helios checkout, used in tags and labels."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def helios_version() -> str:
    """The installed version of the ``helios`` project (0.0.0 when it is not installed)."""
    try:
        return version("helios")
    except PackageNotFoundError:
        return "0.0.0"
