"""Target platforms: which ones Helios builds, and the architecture name hooks see."""

from __future__ import annotations

import platform as host_platform

from pipeline.errors import HeliosError

# Platform -> the Debian-style architecture name given to hooks as HELIOS_ARCH.
PLATFORMS = {"linux/amd64": "amd64", "linux/arm64": "arm64"}
_MACHINE_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def check_platform(value: str) -> str:
    """Return the canonical platform for ``value`` ("linux/arm64", "arm64", "linux/arm64/v8")."""
    text = value.strip().lower()
    if "/" not in text:
        text = f"linux/{text}"
    if text == "linux/arm64/v8":
        text = "linux/arm64"
    if text not in PLATFORMS:
        raise HeliosError(f"unsupported platform {value!r}", hint=f"use one of: {', '.join(PLATFORMS)}")
    return text


def arch_of(platform: str) -> str:
    """HELIOS_ARCH for a canonical platform."""
    return PLATFORMS[check_platform(platform)]


def host_default() -> str:
    """The platform matching this machine, so a local build runs without emulation."""
    machine = host_platform.machine().lower()
    arch = _MACHINE_ARCH.get(machine)
    if arch is None:
        raise HeliosError(
            f"this machine's architecture {machine!r} has no Helios platform",
            hint=f"pass --platform with one of: {', '.join(PLATFORMS)}",
        )
    return f"linux/{arch}"
