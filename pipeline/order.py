"""The build order: the one table that users' hook scripts rely on.

Everything else — the Dagger graph, ``helios plan``, validation and the docs — is derived from
:data:`BUILD_ORDER`. Changing a row changes the product's contract; do it on purpose.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Stage(enum.StrEnum):
    """Stages run in parallel until the image stage joins them."""

    WEB = "web"
    KASM = "kasm"
    SYSTEM = "system"
    IMAGE = "image"


class Action(enum.StrEnum):
    HOOK = "hook"  # run a script
    JOIN = "join"  # copy the packaged rootfs onto the fresh system base
    OVERLAY = "overlay"  # copy a root/ tree onto /


class Feed(enum.StrEnum):
    """What another part of the build hands a step, read-only (pipeline/stepmounts.py mounts it)."""

    WEB_CLIENT = "web-client"
    """The web stage's output: the built web client (HELIOS_WEB)."""
    PACKAGE_LIST = "package-list"
    """The distro's runtime package names, one a line (HELIOS_PACKAGES)."""


class Scope(enum.StrEnum):
    COMMON = "common"  # common/build/<file>, common/root/
    DISTRO = "distro"  # distros/<d>/build/<file>, distros/<d>/root/ (resolved through `extends`)


@dataclass(frozen=True)
class Step:
    """One row of the build order."""

    number: int
    stage: Stage
    action: Action
    scope: Scope | None
    name: str
    """The hook's file name, or "root" for overlays, or "" for the join."""
    summary: str
    extras: tuple[str, ...] = ()
    """Glob patterns of extra files, next to the hook, that it needs (patches, images)."""
    versions: tuple[str, ...] = ()
    """Sections of pipeline/versions.toml given to the hook as environment."""
    consumes: tuple[Feed, ...] = ()
    """What the step reads from elsewhere in the build: another stage's output, the package list."""
    settings: tuple[str, ...] = ("webrtc",)
    """distro.toml settings given to the hook as HELIOS_<SETTING> (true/false; a snapshot as its id,
    and not at all when the distro does not set it)."""
    per_distro: bool = True
    """Whether the hook learns the distro, family and arch; the web client must not vary by them."""
    library: tuple[str, ...] = ()
    """Parts of the hook library (common/build/lib/<part>.sh) the step's hooks call, beyond log."""

    @property
    def is_hook(self) -> bool:
        return self.action is Action.HOOK

    @property
    def label(self) -> str:
        """A short name for logs: 'kasm' for distros/<d>/build/kasm.sh, 'root' for overlays."""
        return self.name.removesuffix(".sh") if self.name else "join"


LIBRARY: dict[str, tuple[str, ...]] = {
    "log": (),
    "mirror": ("log",),
    "download": ("log", "mirror"),
    "git": ("log", "mirror"),
    "arch": ("log",),
    "packages": ("log",),
    "release": ("log", "download"),
    "el9": ("log",),
    "static": ("log", "download"),
    "xorg": ("log", "download"),
    "node": ("log",),
    "virtualgl": ("log",),
    "apt": ("log",),
    "archive": ("log",),
}
"""The hook library's parts (common/build/lib/<part>.sh) and the parts each one calls."""


def library_closure(parts: tuple[str, ...]) -> tuple[str, ...]:
    """``parts``, log and every part they need, in LIBRARY order."""
    wanted: set[str] = set()
    todo = ["log", *parts]
    while todo:
        part = todo.pop()
        if part not in wanted:
            wanted.add(part)
            todo += LIBRARY.get(part, ())
    return tuple(part for part in LIBRARY if part in wanted)


BUILD_ORDER: tuple[Step, ...] = (
    Step(1, Stage.WEB, Action.HOOK, Scope.COMMON, "novnc.sh",
         "KasmWeb/noVNC client, interactive and view-only",
         extras=("novnc-*.patch", "splash.jpg"), versions=("kasmweb",), per_distro=False,
         library=("git", "node")),
    Step(2, Stage.KASM, Action.HOOK, Scope.DISTRO, "kasm.sh",
         "distro packages needed to build KasmVNC and the X server",
         settings=("webrtc", "snapshot"), library=("el9", "release", "static", "apt", "archive")),
    Step(3, Stage.KASM, Action.HOOK, Scope.COMMON, "turbo.sh",
         "libjpeg-turbo for KasmVNC", versions=("libjpeg_turbo",), library=("download",)),
    Step(4, Stage.KASM, Action.HOOK, Scope.COMMON, "kasm.sh",
         "KasmVNC server with the helios patches",
         extras=("kasmvnc-*.patch",), versions=("kasmvnc",), library=("git",)),
    Step(5, Stage.KASM, Action.HOOK, Scope.DISTRO, "xorg.sh",
         "X server at the distro's xorg_version", versions=("xorg",), library=("xorg",)),
    Step(6, Stage.KASM, Action.HOOK, Scope.DISTRO, "kclient.sh",
         "Node.js and native build dependencies for kclient", versions=("nodejs",),
         library=("release",)),
    Step(7, Stage.KASM, Action.HOOK, Scope.COMMON, "kclient.sh",
         "kclient with the helios patch (no file server, audio on)",
         extras=("kclient-*.patch",), versions=("kclient",), settings=("webrtc", "file_transfer"),
         library=("git", "node")),
    Step(8, Stage.KASM, Action.HOOK, Scope.COMMON, "package.sh",
         "packs KasmVNC, the X server, kclient and the web client into a rootfs",
         versions=("kasmvnc", "nodejs"), consumes=(Feed.WEB_CLIENT,), library=("arch",)),
    Step(9, Stage.SYSTEM, Action.HOOK, Scope.DISTRO, "system.sh",
         "distro runtime packages from common/packages.toml",
         consumes=(Feed.PACKAGE_LIST,), settings=("webrtc", "virtualgl", "snapshot"),
         library=("packages", "el9", "virtualgl", "apt", "archive")),
    Step(10, Stage.SYSTEM, Action.HOOK, Scope.COMMON, "system.sh",
         "packages and setup common to all distros",
         versions=("orchis_theme", "cascadia_code"), library=("git", "download")),
    Step(11, Stage.IMAGE, Action.JOIN, None, "",
         "the build toolchain never reaches the image"),
    Step(12, Stage.IMAGE, Action.OVERLAY, Scope.COMMON, "root",
         "common runtime overlay"),
    Step(13, Stage.IMAGE, Action.OVERLAY, Scope.DISTRO, "root",
         "distro runtime overlay (wins over common)"),
)  # fmt: skip


def first_consumer(feed: Feed) -> Step:
    """The first step that reads ``feed``: where a runner must have it at hand."""
    return next(step for step in BUILD_ORDER if feed in step.consumes)
