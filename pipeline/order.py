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


@dataclass(frozen=True)
class Switched:
    """Extra files of a step that its hook reads only when a distro setting has a value.

    They are mounted only where the hook reads them, so editing one re-runs no build that skips it.
    tests/test_step_files.py holds each against the hook's own choice of files.
    """

    pattern: str
    """A glob of file names among the step's extras."""
    setting: str
    """The distro.toml setting (one of the step's ``settings``) that decides."""
    when: bool
    """The value of the setting under which the hook reads them."""


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
    switched: tuple[Switched, ...] = ()
    """Those of the extras the hook reads only under a setting."""
    versions: tuple[str, ...] = ()
    """Sections of pipeline/versions.toml given to the hook as environment."""
    consumes: tuple[Feed, ...] = ()
    """What the step reads from elsewhere in the build: another stage's output, the package list."""
    settings: tuple[str, ...] = ("webrtc",)
    """distro.toml settings given to the hook as HELIOS_<SETTING> (true/false; a snapshot as its id,
    and not at all when the distro does not set it)."""
    per_distro: bool = True
    """Whether the hook learns the distro, family and arch; the web client must not vary by them."""

    @property
    def is_hook(self) -> bool:
        return self.action is Action.HOOK

    @property
    def label(self) -> str:
        """A short name for logs: 'kasm' for distros/<d>/build/kasm.sh, 'root' for overlays."""
        return self.name.removesuffix(".sh") if self.name else "join"


BUILD_ORDER: tuple[Step, ...] = (
    Step(1, Stage.WEB, Action.HOOK, Scope.COMMON, "novnc.sh",
         "KasmWeb/noVNC client, interactive and view-only",
         extras=("novnc-*.patch", "splash.jpg"),
         switched=(Switched("novnc-*webrtc-off*.patch", "webrtc", when=False),),
         versions=("kasmweb",), per_distro=False),
    Step(2, Stage.KASM, Action.HOOK, Scope.DISTRO, "kasm.sh",
         "distro packages needed to build KasmVNC and the X server",
         settings=("webrtc", "snapshot")),
    Step(3, Stage.KASM, Action.HOOK, Scope.COMMON, "turbo.sh",
         "libjpeg-turbo for KasmVNC", versions=("libjpeg_turbo",)),
    Step(4, Stage.KASM, Action.HOOK, Scope.COMMON, "kasm.sh",
         "KasmVNC server with the helios patches",
         extras=("kasmvnc-*.patch",), versions=("kasmvnc",)),
    Step(5, Stage.KASM, Action.HOOK, Scope.DISTRO, "xorg.sh",
         "X server at the distro's xorg_version", versions=("xorg",)),
    Step(6, Stage.KASM, Action.HOOK, Scope.DISTRO, "kclient.sh",
         "Node.js and native build dependencies for kclient", versions=("nodejs",)),
    Step(7, Stage.KASM, Action.HOOK, Scope.COMMON, "kclient.sh",
         "kclient with the helios patch (audio on; the file server only with file_transfer)",
         extras=("kclient-*.patch",),
         switched=(Switched("kclient-*-file-transfer.patch", "file_transfer", when=True),),
         versions=("kclient",), settings=("webrtc", "file_transfer")),
    Step(8, Stage.KASM, Action.HOOK, Scope.COMMON, "package.sh",
         "packs KasmVNC, the X server, kclient and the web client into a rootfs",
         versions=("kasmvnc", "nodejs"), consumes=(Feed.WEB_CLIENT,)),
    Step(9, Stage.SYSTEM, Action.HOOK, Scope.DISTRO, "system.sh",
         "distro runtime packages from common/packages.toml",
         consumes=(Feed.PACKAGE_LIST,), settings=("webrtc", "virtualgl", "snapshot")),
    Step(10, Stage.SYSTEM, Action.HOOK, Scope.COMMON, "system.sh",
         "packages and setup common to all distros",
         versions=("orchis_theme", "cascadia_code")),
    Step(11, Stage.IMAGE, Action.JOIN, None, "",
         "the build toolchain never reaches the image"),
    Step(12, Stage.IMAGE, Action.OVERLAY, Scope.COMMON, "root",
         "common runtime overlay"),
    Step(13, Stage.IMAGE, Action.OVERLAY, Scope.DISTRO, "root",
         "distro runtime overlay (wins over common)"),
)  # fmt: skip
