"""Pinned upstream versions and checksums (pipeline/versions.toml), turned into hook environment.

A section ``[libjpeg_turbo]`` with keys ``version`` and ``sha256`` becomes ``LIBJPEG_TURBO_VERSION``
and ``LIBJPEG_TURBO_SHA256``. A value that is a table keyed by architecture is resolved for the
target architecture. ``[xorg]`` is special: the version comes from the distro, and ``XORG_SHA256``
from ``[xorg.sha256]`` keyed by that version.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from pipeline.errors import HeliosError

VERSIONS_FILE = Path(__file__).with_name("versions.toml")
SOURCE = "pipeline/versions.toml"


def load_versions(path: Path | None = None) -> dict[str, Any]:
    """The parsed versions file (by default pipeline/versions.toml; each file is read once)."""
    return _load(path or VERSIONS_FILE)


@cache
def _load(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError as error:
        raise HeliosError(f"{SOURCE} is missing", hint="restore it from the repository") from error
    except tomllib.TOMLDecodeError as error:
        raise HeliosError(f"{SOURCE} is not valid TOML: {error}", hint="fix the syntax") from error


def section_env(versions: Mapping[str, Any], section: str, *, arch: str, xorg_version: str) -> dict[str, str]:
    """The environment a step gets from one section of the versions file."""
    data = versions.get(section)
    if not isinstance(data, Mapping):
        raise HeliosError(f"{SOURCE}: section [{section}] is missing", hint="add it with its pinned values")
    prefix = section.upper()
    if section == "xorg":
        return {"XORG_VERSION": xorg_version, "XORG_SHA256": _xorg_checksum(data, xorg_version)}
    env = {}
    for key, value in data.items():
        env[f"{prefix}_{key.upper()}"] = _scalar(section, key, value, arch)
    return env


def _scalar(section: str, key: str, value: object, arch: str) -> str:
    if isinstance(value, Mapping):
        if arch not in value:
            raise HeliosError(
                f"{SOURCE}: [{section}] {key} has no value for architecture {arch!r}",
                hint=f'add {arch} = "..." to it, or build for one of: {", ".join(value)}',
            )
        value = value[arch]
    if not isinstance(value, str) or not value:
        raise HeliosError(
            f"{SOURCE}: [{section}] {key} must be a non-empty string, not {value!r}",
            hint="pin the exact value (versions and checksums are strings)",
        )
    return value


def _xorg_checksum(data: Mapping[str, Any], version: str) -> str:
    checksums = data.get("sha256", {})
    value = checksums.get(version) if isinstance(checksums, Mapping) else None
    if not isinstance(value, str) or not value:
        known = ", ".join(checksums) if isinstance(checksums, Mapping) else "none"
        raise HeliosError(
            f"{SOURCE}: no sha256 for X server {version} in [xorg.sha256] (known: {known})",
            hint="add the tarball's checksum there, or set xorg_version in distro.toml to a known version",
        )
    return value


def image_ref(versions: Mapping[str, Any], name: str) -> str:
    """A pinned helper image from the ``[images]`` section (e.g. the Node image of the web stage)."""
    images = versions.get("images", {})
    ref = images.get(name) if isinstance(images, Mapping) else None
    if not isinstance(ref, str) or not ref:
        raise HeliosError(f"{SOURCE}: [images] {name} is missing", hint="pin the image reference there")
    return ref
