"""Package families: every fact that differs between apt, dnf and apk distros, in one table.

A distro names its family in distro.toml (``family = "rhel"``); the pipeline then takes from its
row the package caches mounted while hooks run, the command that records installed packages, and
which lists of common/packages.toml belong to it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """One package family."""

    name: str
    caches: tuple[str, ...]
    """Package-manager caches: cache volumes while hooks run, never part of the image."""
    package_query: str
    """Lists every installed package, one "name version" line each."""
    package_lists: tuple[str, ...]
    """The lists of common/packages.toml written for this family (the first is its default)."""
    archive_snapshots: bool = False
    """Whether its archives publish dated snapshots that steps 2 and 9 can install from
    (distro.toml ``snapshot``; common/build/lib/archive.sh knows the services)."""
    build_records: tuple[str, ...] = ()
    """What the package tools write about the build itself, removed after each system-stage exec
    (pipeline/settle.py): install logs, and caches keyed by inode numbers and change times."""


FAMILY_TABLE: tuple[Family, ...] = (
    Family(
        "debian",
        caches=("/var/cache/apt", "/var/lib/apt/lists"),
        package_query=r"dpkg-query -W -f='${Package} ${Version}\n'",
        package_lists=("debian", "ubuntu"),
        archive_snapshots=True,
        build_records=(
            "/var/log/apt/*",
            "/var/log/dpkg.log",
            "/var/log/alternatives.log",
            "/var/cache/ldconfig/aux-cache",
        ),
    ),
    Family(
        "rhel",
        caches=("/var/cache/dnf",),
        package_query=r"rpm -qa --qf '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}\n'",
        package_lists=("rhel",),
        build_records=(
            "/var/log/dnf.log",
            "/var/log/dnf.librepo.log",
            "/var/log/dnf.rpm.log",
            "/var/log/hawkey.log",
            "/var/cache/ldconfig/aux-cache",
        ),
    ),
    Family(
        "alpine",
        caches=("/var/cache/apk",),
        package_query="apk info -v",
        package_lists=("alpine",),
    ),
)

FAMILIES: dict[str, Family] = {family.name: family for family in FAMILY_TABLE}
FAMILY_NAMES = tuple(FAMILIES)
PACKAGE_LISTS = tuple(name for family in FAMILY_TABLE for name in family.package_lists)
