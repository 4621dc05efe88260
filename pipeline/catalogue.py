"""The distro catalogue: every ``distros/<name>/distro.toml``, validated and resolved.

A distro is data. ``extends = "<parent>"`` makes a distro reuse its parent's settings, hooks
and overlay, so a child states only what differs (alma extends rhel).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.dates import (
    DEFAULT_SOURCE_DATE,
    EARLIEST_SNAPSHOT,
    EARLIEST_SOURCE_DATE,
    TOML_EXAMPLE,
    check_moment,
    toml_text,
)
from pipeline.errors import HeliosError, suggest
from pipeline.families import FAMILIES, FAMILY_NAMES, PACKAGE_LISTS
from pipeline.layers import USER, Layers, Ref
from pipeline.layout import CONFIG_NAME, DISTROS_DIR, config_path, distro_dir
from pipeline.order import BUILD_ORDER, Scope
from pipeline.tree import Tree

LIST_DISTROS = "run `helios distros` to list them"
_PLAIN_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_VERSION = re.compile(r"^\d+(\.\d+)+$")

Check = Callable[[str, str, Any], None]
"""A key's own check: (distro.toml path, key, value); raises a HeliosError saying what to fix."""


@dataclass(frozen=True)
class Key:
    """One distro.toml key, as a row: its type, doc, default, inheritance and its own check."""

    kind: type
    doc: str
    required: bool = True
    inherited: bool = True
    choices: tuple[str, ...] = ()
    default: Any = None
    """The value when no distro of the lineage states the key (optional keys only)."""
    check: Check | None = None
    """A check beyond type and choices, run on the stated value."""


def _check_version(path: str, key: str, value: Any) -> None:
    if not _VERSION.fullmatch(str(value)):
        raise HeliosError(f"{path}: key {key!r} is {value!r}", hint="use a version like 21.1.4")


def _check_aliases(path: str, key: str, value: Any) -> None:
    for alias in value:
        if not isinstance(alias, str) or not _PLAIN_NAME.fullmatch(alias):
            raise HeliosError(
                f"{path}: alias {alias!r} is not a plain name",
                hint="lower-case letters, digits, '.', '-' and '_'",
            )


def _check_line(path: str, key: str, value: Any) -> None:
    """A value shown on one line of a table: no line breaks, no terminal escapes."""
    if not str(value).isprintable():
        raise HeliosError(
            f"{path}: key {key!r} holds control characters or line breaks: {value!r}",
            hint="write it as one line of plain text",
        )


def _check_extends(path: str, key: str, value: Any) -> None:
    check_name(str(value))


def _check_snapshot(path: str, key: str, value: Any) -> None:
    check_moment(path, key, value, earliest=EARLIEST_SNAPSHOT)


def _check_source_date(path: str, key: str, value: Any) -> None:
    check_moment(path, key, value, earliest=EARLIEST_SOURCE_DATE)


DISTRO_HOOK_STEPS = tuple(step.number for step in BUILD_ORDER if step.is_hook and step.scope is Scope.DISTRO)


def _check_inputs(path: str, key: str, value: Any) -> None:
    """``inputs`` names, per distro hook step, the versions.toml sections that distro's hooks read."""
    steps = ", ".join(map(str, DISTRO_HOOK_STEPS))
    for step, sections in value.items():
        if not step.isdigit() or int(step) not in DISTRO_HOOK_STEPS:
            raise HeliosError(
                f"{path}: inputs names step {step!r}, which runs no distro hook",
                hint=f"use the number of a step that runs distros/<name>/build/ hooks: {steps}",
            )
        if not isinstance(sections, list) or not all(isinstance(s, str) and s for s in sections):
            raise HeliosError(
                f"{path}: inputs.{step} must be a list of pipeline/versions.toml section names",
                hint='e.g. inputs = { 2 = ["cmake"] }',
            )


SCHEMA: dict[str, Key] = {
    "description": Key(str, "one line shown by `helios distros`", inherited=False, check=_check_line),
    "base": Key(str, "base image reference, e.g. rockylinux/rockylinux:9.6"),
    "family": Key(str, "package family", choices=FAMILY_NAMES),
    "packages": Key(str, "which list of common/packages.toml to install", choices=PACKAGE_LISTS),
    "xorg_version": Key(str, "X server version built for KasmVNC, e.g. 21.1.4", check=_check_version),
    "webrtc": Key(bool, "whether the web client and kclient offer WebRTC"),
    "virtualgl": Key(bool, "whether step 9 installs VirtualGL (default true)", required=False, default=True),
    "file_transfer": Key(
        bool,
        "whether step 7 ships kclient's file manager for the user's home (default false)",
        required=False,
        default=False,
    ),
    "aliases": Key(
        list, "other names for this distro", required=False, inherited=False, default=(), check=_check_aliases
    ),
    "extends": Key(
        str,
        "a distro whose settings, hooks and overlay this one reuses",
        required=False,
        check=_check_extends,
    ),
    "default": Key(
        bool, "the one distro also published as 'latest'", required=False, inherited=False, default=False
    ),
    "snapshot": Key(
        datetime,
        f"the distro archive as it was at this moment, e.g. {TOML_EXAMPLE} (a TOML date and time, no "
        "quotes): steps 2 and 9 install from its snapshot (snapshot.debian.org, snapshot.ubuntu.com)",
        required=False,
        check=_check_snapshot,
    ),
    "source_date": Key(
        datetime,
        "SOURCE_DATE_EPOCH of the distro's build steps, e.g. 2026-01-01T00:00:00Z: the date compiled "
        "into the programs and given to the files the system stage writes (default: snapshot if set, "
        f"else {toml_text(DEFAULT_SOURCE_DATE)})",
        required=False,
        default=DEFAULT_SOURCE_DATE,
        check=_check_source_date,
    ),
    "inputs": Key(
        dict,
        "pipeline/versions.toml sections this distro's own hooks read, by step number: "
        '{ 2 = ["cmake"] } gives step 2 CMAKE_* and its mirror entries',
        required=False,
        default={},
        check=_check_inputs,
    ),
}


@dataclass(frozen=True)
class Distro:
    """A resolved distro: its own settings merged over its ancestors'."""

    name: str
    description: str
    base: str
    family: str
    packages: str
    xorg_version: str
    webrtc: bool
    virtualgl: bool
    file_transfer: bool
    aliases: tuple[str, ...]
    is_default: bool
    inputs: Mapping[int, tuple[str, ...]]
    """Extra versions.toml sections per distro hook step, beyond what the step's row declares."""
    snapshot: datetime | None
    """The moment of the distro archive that steps 2 and 9 install from; None: the archive of the day."""
    source_date: datetime
    """SOURCE_DATE_EPOCH of the distro's build steps (pipeline/dates.py)."""
    lineage: tuple[str, ...]
    """This distro then its ancestors, nearest first: where its hooks and overlays are looked up."""

    @property
    def extends(self) -> str | None:
        return self.lineage[1] if len(self.lineage) > 1 else None

    def setting(self, key: str) -> object:
        """A distro.toml setting by its key (webrtc, virtualgl, ...), as the build order's rows name it."""
        return getattr(self, key)


def check_name(name: str) -> str:
    """Return ``name`` if it is a plain distro name, else raise a HeliosError saying why."""
    if not _PLAIN_NAME.fullmatch(name or ""):
        raise HeliosError(
            f"{name!r} is not a valid distro name",
            hint="use a plain lower-case name like 'rhel' (letters, digits, '.', '-', '_'; no spaces or /)",
        )
    return name


def _load_raw(layers: Layers, name: str) -> dict[str, Any]:
    ref = layers.find_file(config_path(name))
    if ref is None:
        folder = layers.dirs(distro_dir(name))[-1]
        raise HeliosError(
            f"{folder}/{CONFIG_NAME} is missing",
            hint=f"every distro folder needs a {CONFIG_NAME} (a user's folder may instead override "
            "the hooks of a distro of the same name)",
        )
    path = str(ref)
    try:
        data = tomllib.loads(layers.read_bytes(ref).decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise HeliosError(f"{path} is not valid TOML: {error}", hint="fix the syntax") from error
    for key, value in data.items():
        _check_key(path, key, value)
    return data


def _check_key(path: str, key: str, value: object) -> None:
    spec = SCHEMA.get(key)
    if spec is None:
        hint = suggest(key, SCHEMA, f"known keys: {', '.join(SCHEMA)}")
        raise HeliosError(f"{path}: unknown key {key!r}", hint=hint)
    if not isinstance(value, spec.kind) or (spec.kind is str and not value):
        expected = {
            str: "a non-empty string",
            bool: "true or false",
            list: "a list of names",
            dict: "a table",
            datetime: f"a date and time with its zone, like {TOML_EXAMPLE} (no quotes)",
        }[spec.kind]
        raise HeliosError(f"{path}: key {key!r} must be {expected}, not {value!r}", hint=spec.doc)
    if spec.choices and value not in spec.choices:
        raise HeliosError(f"{path}: key {key!r} is {value!r}", hint=f"use one of: {', '.join(spec.choices)}")
    if spec.check is not None:
        spec.check(path, key, value)


def _resolve_inputs(value: Mapping[str, list[str]]) -> dict[int, tuple[str, ...]]:
    return {int(step): tuple(sections) for step, sections in value.items()}


class Catalogue:
    """All distros of a tree (or of layered trees), loaded eagerly so every mistake is found at once.

    A user layer may add distros; its distro.toml replaces ours for a distro of the same name.
    """

    def __init__(self, source: Tree | Layers) -> None:
        self.layers = source if isinstance(source, Layers) else Layers(source)
        entries = self.layers.entries(DISTROS_DIR)
        names = [name for name, ref in entries.items() if self.layers.dirs(ref.path)]
        for name in names:
            if not _PLAIN_NAME.fullmatch(name):
                raise HeliosError(
                    f"{entries[name]}/ is not a valid distro folder name",
                    hint="rename it to a plain lower-case name (letters, digits, '.', '-' and '_')",
                )
        self._raw = {name: _load_raw(self.layers, name) for name in names}
        self._configs = {name: self.layers.find_file(config_path(name)) for name in names}
        self.distros = {name: self._resolve(name) for name in names}
        self._aliases = self._index_aliases()
        defaults = [name for name, distro in self.distros.items() if distro.is_default]
        if len(defaults) > 1:
            raise HeliosError(
                f"{' and '.join(str(self.config(n)) for n in defaults)} all set default = true",
                hint="only one distro can be published as 'latest'",
            )

    def _lineage(self, name: str) -> tuple[str, ...]:
        chain = [name]
        while (parent := self._raw[chain[-1]].get("extends")) is not None:
            if parent not in self._raw:
                others = [other for other in self._raw if other not in chain]  # never itself: a cycle
                raise HeliosError(
                    f"{self.config(chain[-1])}: extends unknown distro {parent!r}",
                    hint=suggest(parent, others, LIST_DISTROS),
                )
            if parent in chain:
                cycle = " -> ".join([*chain, parent])
                raise HeliosError(
                    f"{self.config(name)}: 'extends' forms a cycle: {cycle}",
                    hint="remove 'extends' from one of these distros",
                )
            chain.append(parent)
        return tuple(chain)

    def _resolve(self, name: str) -> Distro:
        lineage = self._lineage(name)
        merged: dict[str, Any] = {}
        for ancestor in reversed(lineage):
            for key, value in self._raw[ancestor].items():
                if ancestor == name or SCHEMA[key].inherited:
                    merged[key] = value
        merged.setdefault("packages", merged.get("family"))
        if merged.get("snapshot") is not None:
            merged.setdefault("source_date", merged["snapshot"])  # the archive's moment is the build's
        for key, spec in SCHEMA.items():
            if spec.required and key not in merged:
                raise self._missing(name, lineage if spec.inherited else (name,), key, spec)
            merged.setdefault(key, spec.default)
        self._check_packages(name, lineage, merged["family"], merged["packages"])
        if merged["snapshot"] is not None and not FAMILIES[merged["family"]].archive_snapshots:
            raise HeliosError(
                f"{self.config(name)}: snapshot is set, but the archives of the {merged['family']} family "
                "publish no dated snapshots that Helios can install from",
                hint="remove snapshot (it works for Debian's and Ubuntu's archives only)",
            )
        return Distro(
            name=name,
            description=merged["description"],
            base=merged["base"],
            family=merged["family"],
            packages=merged["packages"],
            xorg_version=merged["xorg_version"],
            webrtc=merged["webrtc"],
            virtualgl=merged["virtualgl"],
            file_transfer=merged["file_transfer"],
            aliases=tuple(merged["aliases"]),
            is_default=merged["default"],
            inputs=_resolve_inputs(merged["inputs"]),
            snapshot=merged["snapshot"],
            source_date=merged["source_date"],
            lineage=lineage,
        )

    def _missing(self, name: str, lineage: tuple[str, ...], key: str, spec: Key) -> HeliosError:
        """A required key no distro of ``lineage`` sets, blamed on the file most likely to be edited."""
        blamed = self._blamed(lineage)
        where = "or in a distro it extends " if spec.inherited else ""
        return HeliosError(
            f"{blamed}: missing key {key!r}{self._for(name, blamed)}",
            hint=f"set it in this file {where}({spec.doc})",
        )

    def _check_packages(self, name: str, lineage: tuple[str, ...], family: str, packages: str) -> None:
        """The package list belongs to the distro's family: rhel's list never reaches apt."""
        lists = FAMILIES[family].package_lists
        if packages not in lists:
            blamed = self._blamed(lineage)
            raise HeliosError(
                f"{blamed}: packages = {packages!r} is not a list of the {family!r} family"
                + self._for(name, blamed),
                hint=f"set `packages` in this file to one of: {', '.join(lists)}",
            )

    def _for(self, name: str, blamed: Ref | str) -> str:
        """ " (for NAME, which extends it)" when ``blamed`` is not ``name``'s own file."""
        return "" if blamed == self.config(name) else f" (for {name}, which extends it)"

    def _blamed(self, names: tuple[str, ...]) -> Ref | str:
        """Of the distro.toml files of ``names``, the user's nearest one, else the first one.

        A problem that involves our files and the user's is the user's to fix: their file changed.
        """
        configs = [self.config(name) for name in names]
        users = [config for config in configs if isinstance(config, Ref) and config.layer == USER]
        return (users or configs)[0]

    def _index_aliases(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for distro in self.distros.values():
            for alias in distro.aliases:
                clash = alias if alias in self.distros else index.get(alias)
                if clash is not None:
                    raise self._alias_clash(alias, distro.name, clash)
                index[alias] = distro.name
        return index

    def _alias_clash(self, alias: str, declared_by: str, taken_by: str) -> HeliosError:
        """``declared_by`` names ``alias``, which ``taken_by`` already is or names: blame the user's side."""
        blamed = self._blamed((declared_by, taken_by))
        other = taken_by if blamed == self.config(declared_by) else declared_by
        if alias == taken_by:
            clash = f"alias {alias!r} of {declared_by!r} is also the name of the distro {taken_by!r}"
        else:
            first, second = sorted((declared_by, taken_by))
            clash = f"alias {alias!r} is named by both {first!r} and {second!r}"
        return HeliosError(
            f"{blamed}: {clash} ({other}: {self.config(other)})",
            hint="aliases must be unique across all distros and differ from distro names",
        )

    def config(self, name: str) -> Ref | str:
        """Where distro ``name``'s distro.toml comes from (for messages)."""
        return self._configs.get(name) or config_path(name)

    def names(self) -> list[str]:
        return sorted(self.distros)

    def get(self, name: str) -> Distro:
        """The distro called ``name`` or having it as an alias; a HeliosError if there is none."""
        check_name(name)
        canonical = name if name in self.distros else self._aliases.get(name)
        if canonical is None:
            raise HeliosError(
                f"unknown distro {name!r}; known distros: {', '.join(self.names()) or 'none'}",
                hint=suggest(name, [*self.distros, *self._aliases], LIST_DISTROS),
            )
        return self.distros[canonical]
