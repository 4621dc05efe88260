"""The input mirror: which pinned upstream inputs each step reads, and where a local mirror keeps them.

A mirror is a folder laid out by content (docs/inputs.md)::

    sha256/<hex>                          a file (tarball, zip), named by its sha256
    git/<owner>/<repo>/<commit>.bundle    a git source: a bundle `git clone` accepts, HEAD = commit

This module is the one place that knows which sections of pipeline/versions.toml name inputs, and
whether each is a file or a git source. A step consumes the inputs of the sections it declares
(pipeline/order.py); the image stage consumes s6-overlay's release assets. Engine-free.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.errors import HeliosError
from pipeline.versions import SOURCE, section_env

if TYPE_CHECKING:
    from pipeline.plan import Plan

INPUTS_MOUNT = "/helios/inputs"
"""Where a step finds its own mirror entries, read-only."""
INPUTS_ENV = "HELIOS_INPUTS"
OFFLINE_ENV = "HELIOS_OFFLINE"
FILES_DIR = "sha256"
GIT_DIR = "git"
BUNDLE_SUFFIX = ".bundle"
S6_SECTION = "s6_overlay"
XORG_SECTION = "xorg"
# s6-overlay's release assets: file name (with {arch} in s6's spelling) -> its key in [s6_overlay].
S6_ASSETS = {
    "s6-overlay-noarch.tar.xz": "sha256_noarch",
    "s6-overlay-{arch}.tar.xz": "sha256",
    "s6-overlay-symlinks-noarch.tar.xz": "sha256_symlinks_noarch",
    "s6-overlay-symlinks-arch.tar.xz": "sha256_symlinks_arch",
}
HEX64 = re.compile(r"[0-9a-f]{64}")
HEX40 = re.compile(r"[0-9a-f]{40}")


class Kind(enum.StrEnum):
    FILE = "file"
    GIT = "git"


@dataclass(frozen=True)
class Input:
    """One pinned upstream input: a file by sha256, or a git source by full commit id."""

    section: str
    """The versions.toml section that pins it."""
    name: str
    """What it is, for people: the section, or an asset's file name."""
    kind: Kind
    url: str
    pin: str

    @property
    def path(self) -> str:
        """Its place in a mirror, relative to the mirror's root."""
        if self.kind is Kind.FILE:
            return f"{FILES_DIR}/{self.pin}"
        return git_path(self.url, self.pin)

    @property
    def pin_label(self) -> str:
        return f"{'sha256' if self.kind is Kind.FILE else 'commit'} {self.pin}"


def git_path(url: str, commit: str) -> str:
    """git/<owner>/<repo>/<commit>.bundle: owner and repo are the last two parts of the URL's path.

    The same rule as ``_mirror_git_path`` in common/build/lib/mirror.sh (a test keeps them equal).
    """
    path = url.split("://", 1)[-1]
    path = path.split("/", 1)[1] if "/" in path else ""
    parts = path.rstrip("/").removesuffix(".git").split("/")
    if len(parts) < 2 or not all(parts[-2:]):
        raise HeliosError(
            f"cannot tell owner/repo from the git URL {url!r}",
            hint=f"pin git sources in {SOURCE} by a URL like https://host/<owner>/<repo>.git",
        )
    return f"{GIT_DIR}/{parts[-2]}/{parts[-1]}/{commit}{BUNDLE_SUFFIX}"


def section_inputs(
    versions: Mapping[str, Any], section: str, *, arch: str, xorg_version: str
) -> tuple[Input, ...]:
    """The inputs a section pins for ``arch``: a git source (commit + url), a file (sha256 + url), or none."""
    env = section_env(versions, section, arch=arch, xorg_version=xorg_version)
    prefix = section.upper()
    if section == XORG_SECTION:
        return (Input(section, f"xorg-server-{xorg_version}", Kind.FILE, _xorg_url(versions, xorg_version),
                      env["XORG_SHA256"]),)  # fmt: skip
    url = env.get(f"{prefix}_URL", "")
    for key, kind in ((f"{prefix}_COMMIT", Kind.GIT), (f"{prefix}_SHA256", Kind.FILE)):
        if key in env:
            if not url:
                raise HeliosError(
                    f"{SOURCE}: [{section}] pins {kind.value} {env[key]} but has no url",
                    hint="add the upstream url, so a mirror can be made and checked",
                )
            return (Input(section, section, kind, url, env[key]),)
    return ()


def _xorg_url(versions: Mapping[str, Any], version: str) -> str:
    template = versions.get(XORG_SECTION, {}).get("url", "")
    if not isinstance(template, str) or "{version}" not in template:
        raise HeliosError(
            f"{SOURCE}: [xorg] url must be the release tarball's URL with {{version}} in it",
            hint='e.g. url = "https://.../xorg-server-{version}.tar.gz"',
        )
    return template.format(version=version)


def step_inputs(
    versions: Mapping[str, Any], sections: Iterable[str], *, arch: str, xorg_version: str
) -> tuple[Input, ...]:
    """The inputs a hook step consumes: those of the versions.toml sections it reads."""
    found: list[Input] = []
    for section in sections:
        found += section_inputs(versions, section, arch=arch, xorg_version=xorg_version)
    return tuple(found)


def s6_inputs(versions: Mapping[str, Any], arch: str) -> tuple[Input, ...]:
    """s6-overlay's four release assets for ``arch``, as the image stage fetches them."""
    env = section_env(versions, S6_SECTION, arch=arch, xorg_version="")
    prefix = S6_SECTION.upper()
    base = env.get(f"{prefix}_URL", "").rstrip("/")
    s6_arch = env.get(f"{prefix}_ARCH", "")
    if not base or not s6_arch:
        raise HeliosError(
            f"{SOURCE}: [s6_overlay] needs url (the release download folder) and arch",
            hint="pin both next to the checksums",
        )
    assets = []
    for pattern, key in S6_ASSETS.items():
        name = pattern.format(arch=s6_arch)
        assets.append(Input(S6_SECTION, name, Kind.FILE, f"{base}/{name}", env[f"{prefix}_{key.upper()}"]))
    return tuple(assets)


class State(enum.StrEnum):
    """What a build will find at an input's place in the mirror."""

    SOUND = "sound"
    """There, and verified against its pin."""
    CORRUPT = "corrupt"
    """Something is there that a step would refuse: wrong content, unreadable, a folder, a bad link."""
    MISSING = "missing"
    """Nothing is there: the step fetches it upstream (or fails, offline)."""
    UNCHECKED = "unchecked"
    """There, but not verified here (each step verifies its own entries as it reads them)."""


Verifier = Callable[["Input"], "str | None"]
"""What is wrong with an input's entry (None: sound); raises NotVerifiable when it cannot tell."""


class NotVerifiable(Exception):  # noqa: N818 -- a reason, not a failure
    """An entry that cannot be verified here, and why (e.g. git is not installed)."""


REPAIR_HINT = (
    "repair the mirror with `helios inputs DIR` on a connected machine (it replaces corrupt entries and "
    "adds missing ones), then carry DIR over"
)


@dataclass(frozen=True)
class Mirror:
    """What a mirror holds, and how a build uses it.

    ``entries`` maps each entry's path (``sha256/<hex>``, ``git/.../<commit>.bundle``) to a digest
    of its content, so a plan's step digests change exactly when an entry the step reads changes.
    ``problems`` maps the places where an entry should be but something else stands (a folder, a
    link to nothing, an unreadable file) to what is wrong. ``verify``, where the mirror can be
    read here, checks an entry against its pin.
    """

    entries: Mapping[str, str]
    offline: bool = False
    location: str = "the input mirror"
    problems: Mapping[str, str] = field(default_factory=dict)
    verify: Verifier | None = None
    _states: dict[str, tuple[State, str]] = field(default_factory=dict, compare=False, repr=False)

    def has(self, item: Input) -> bool:
        return item.path in self.entries

    def present(self, inputs: Iterable[Input]) -> tuple[str, ...]:
        """The paths of ``inputs`` that the mirror holds, in order, without repeats."""
        return tuple(dict.fromkeys(i.path for i in inputs if self.has(i)))

    def state(self, item: Input) -> tuple[State, str]:
        """What a step will find at ``item``'s place, and why when it is not sound (checked once)."""
        if item.path not in self._states:
            self._states[item.path] = self._state(item)
        return self._states[item.path]

    def _state(self, item: Input) -> tuple[State, str]:
        if item.path in self.problems:
            return State.CORRUPT, self.problems[item.path]
        if not self.has(item):
            return State.MISSING, ""
        if self.verify is None:
            return State.UNCHECKED, "its step verifies it"
        try:
            problem = self.verify(item)
        except NotVerifiable as reason:
            return State.UNCHECKED, str(reason)
        return (State.SOUND, "") if problem is None else (State.CORRUPT, problem)

    def refusals(self, inputs: Iterable[Input]) -> list[HeliosError]:
        """Why the mirror cannot serve a build that consumes ``inputs``: one error per input.

        A corrupt entry would fail its step (a step never falls back to upstream from a corrupt
        entry), so it is refused before anything runs; offline, so is a missing one.
        """
        problems = []
        for item in unique(inputs):
            state, why = self.state(item)
            what, where = f"{item.name} ({item.pin_label})", f"{self.location}/{item.path}"
            if state is State.CORRUPT:
                problems.append(HeliosError(f"{where}, {what}: {why}"))
            elif state is State.MISSING and self.offline:
                problems.append(
                    HeliosError(f"offline build: {what} is not in the mirror: expected at {where}")
                )
        return problems


def empty_mirror(given: str) -> HeliosError:
    """The mirror ``given`` (e.g. "--inputs ./m") holds no entry at all: most likely the wrong folder."""
    layout = f"{FILES_DIR}/<sha256>, {GIT_DIR}/<owner>/<repo>/<commit>.bundle"
    return HeliosError(
        f"{given} holds no mirror entries ({layout})",
        hint="fill it with `helios inputs DIR`, or pass the folder that holds the mirror",
    )


def entry_kind(path: str) -> tuple[Kind, str] | None:
    """(kind, pin) of a mirror path laid out as an entry, or None for anything else."""
    parts = path.split("/")
    if len(parts) == 2 and parts[0] == FILES_DIR and HEX64.fullmatch(parts[1]):
        return Kind.FILE, parts[1]
    if len(parts) == 4 and parts[0] == GIT_DIR and parts[3].endswith(BUNDLE_SUFFIX):
        commit = parts[3].removesuffix(BUNDLE_SUFFIX)
        if HEX40.fullmatch(commit):
            return Kind.GIT, commit
    return None


def unique(inputs: Iterable[Input]) -> list[Input]:
    """``inputs`` without repeats of the same mirror path, first seen first."""
    first: dict[str, Input] = {}
    for item in inputs:
        first.setdefault(item.path, item)
    return list(first.values())


def plan_inputs(plans: Iterable[Plan]) -> list[Input]:
    """Every input the ``plans`` consume (their steps', s6-overlay's), without repeats."""
    return unique(item for plan in plans for planned in plan.steps for item in planned.inputs)
