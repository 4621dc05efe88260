"""Package lists: turn ``common/packages.toml`` into the names one distro's list installs.

The file declares its lists (``lists = [...]``) and then groups of logical packages::

    [desktop]
    xfce4-panel = "xfce4-panel"                     # same name in every list
    thunar = { debian = "thunar", ubuntu = "thunar", rhel = "Thunar", alpine = "thunar" }
    fastfetch = { debian = "fastfetch", ubuntu = false, rhel = false, alpine = "fastfetch" }

A per-list value is a name, a list of names, or ``false`` (skipped on purpose). Every entry must
name or skip every list, so adding a list or a package can never silently drop something. The
result is sorted and de-duplicated, so the same file always gives the same bytes (and the same
cache key) whatever the order of its entries.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Any

from pipeline.errors import HeliosError
from pipeline.layout import PACKAGES_FILE

# Debian, RPM and apk package names: letters, digits and + - . _ (RPM allows upper case).
_PACKAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]*$")

_FORMAT_HINT = (
    'write `name = "pkg"` for one name everywhere, or `name = { debian = "...", ubuntu = "...", '
    'rhel = "...", alpine = "..." }` with a name, a list of names, or false for each list'
)


@dataclass(frozen=True)
class PackageFile:
    """A parsed and validated package file: its lists and, per list, the names to install."""

    source: str
    lists: tuple[str, ...]
    names: dict[str, tuple[str, ...]]

    def package_list(self, list_name: str) -> list[str]:
        """The sorted, de-duplicated names of ``list_name``."""
        if list_name not in self.names:
            raise HeliosError(
                f"{self.source}: unknown package list {list_name!r}",
                hint=f"use one of: {', '.join(self.lists)} (the `lists` key of {self.source})",
            )
        return list(self.names[list_name])


def parse(text: str, *, source: str = PACKAGES_FILE) -> PackageFile:
    """Parse and validate a package file; ``source`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HeliosError(
            f"{source}: invalid TOML: {exc}", hint="fix the syntax at that line and column"
        ) from None

    lists = _lists(data, source)
    names: dict[str, set[str]] = {name: set() for name in lists}
    for group, entries in data.items():
        if group == "lists":
            continue
        if not isinstance(entries, dict):
            raise HeliosError(
                f"{source}: top-level key {group!r} must be a group table, not {_kind(entries)}",
                hint=f"put packages under a group header such as [{group}]",
            )
        for package, value in entries.items():
            where = f"{source}: [{group}] {package}"
            for list_name, found in _entry(value, lists, where).items():
                names[list_name].update(found)
    return PackageFile(
        source=source,
        lists=lists,
        names={name: tuple(sorted(found)) for name, found in names.items()},
    )


def package_list(text: str, list_name: str, *, source: str = PACKAGES_FILE) -> list[str]:
    """The sorted, de-duplicated package names of ``list_name`` in the package file ``text``."""
    return parse(text, source=source).package_list(list_name)


def _lists(data: dict[str, Any], source: str) -> tuple[str, ...]:
    lists = data.get("lists")
    hint = 'start the file with lists = ["debian", "ubuntu", "rhel", "alpine"]'
    if lists is None:
        raise HeliosError(f"{source}: missing the `lists` key", hint=hint)
    if not isinstance(lists, list) or not lists or not all(isinstance(item, str) and item for item in lists):
        raise HeliosError(f"{source}: `lists` must be a non-empty array of list names", hint=hint)
    if len(set(lists)) != len(lists):
        raise HeliosError(f"{source}: `lists` names a list twice", hint="name each list once")
    return tuple(lists)


def _entry(value: Any, lists: tuple[str, ...], where: str) -> dict[str, tuple[str, ...]]:
    """The names one entry gives each list (an empty tuple where it is skipped)."""
    if isinstance(value, str):
        return {list_name: _names(value, where) for list_name in lists}
    if not isinstance(value, dict):
        raise HeliosError(f"{where}: must be a name or a table, not {_kind(value)}", hint=_FORMAT_HINT)

    unknown = sorted(set(value) - set(lists))
    if unknown:
        raise HeliosError(
            f"{where}: unknown package list {', '.join(map(repr, unknown))}",
            hint=f"the lists are: {', '.join(lists)}",
        )
    missing = [list_name for list_name in lists if list_name not in value]
    if missing:
        raise HeliosError(
            f"{where}: neither names nor skips the list {', '.join(map(repr, missing))}",
            hint="give each list a name, a list of names, or false to skip it on purpose",
        )
    result: dict[str, tuple[str, ...]] = {}
    for list_name in lists:
        item = value[list_name]
        if item is False:
            result[list_name] = ()
        elif isinstance(item, str):
            result[list_name] = _names(item, f"{where}.{list_name}")
        elif isinstance(item, list) and item and all(isinstance(name, str) for name in item):
            result[list_name] = tuple(name for one in item for name in _names(one, f"{where}.{list_name}"))
        else:
            raise HeliosError(
                f"{where}.{list_name}: must be a name, a non-empty list of names, or false, "
                f"not {_kind(item)}",
                hint=_FORMAT_HINT,
            )
    return result


def _names(name: str, where: str) -> tuple[str, ...]:
    if not _PACKAGE_NAME.fullmatch(name):
        raise HeliosError(
            f"{where}: {name!r} is not a package name",
            hint="use the plain package name (no spaces, versions, URLs or options)",
        )
    return (name,)


def _kind(value: Any) -> str:
    if value is True:
        return "true"
    return {
        str: "a string",
        list: "an array",
        dict: "a table",
        int: "a number",
        float: "a number",
        bool: "a boolean",
    }.get(type(value), type(value).__name__)
