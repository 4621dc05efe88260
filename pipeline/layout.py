"""The layout of a Helios tree: where every hook, overlay and config lives, in one place.

A tree (the repository, or a user's ``--hooks`` tree over it) holds ``common/`` and ``distros/``:

    common/build/<hook>.sh        common hooks, their extras and <hook>.d/ drop-ins
    common/build/lib.sh           the hook library's loader, with its parts in common/build/lib/
    common/root/                  the common runtime overlay
    common/packages.toml          the package lists (repository only)
    common/image.toml             the image's environment defaults (repository only)
    distros/<d>/distro.toml       a distro's settings
    distros/<d>/build/            that distro's hooks and drop-ins
    distros/<d>/root/             that distro's runtime overlay

Everything that reads or uploads a tree asks this module rather than spelling a path itself.
"""

from __future__ import annotations

COMMON = "common"
DISTROS_DIR = "distros"
TOPS = (COMMON, DISTROS_DIR)
"""The only top-level folders of a tree; nothing else of a checkout is uploaded or read."""

BUILD = "build"
ROOT = "root"
CONFIG_NAME = "distro.toml"
COMMON_BUILD = f"{COMMON}/{BUILD}"
COMMON_ROOT = f"{COMMON}/{ROOT}"
PACKAGES_FILE = f"{COMMON}/packages.toml"
IMAGE_CONFIG = f"{COMMON}/image.toml"
DROP_IN_SUFFIX = ".d"
"""``<hook>.d/`` next to a hook holds scripts that run right after it, in lexical order."""

HOOK_LIBRARY = f"{COMMON_BUILD}/lib.sh"
"""The hook library's loader, mounted as /helios/hooks/lib.sh beside every script."""
LIBRARY_PARTS = f"{COMMON_BUILD}/lib"
"""The hook library's parts (<part>.sh), each mounted only for the steps that use it."""


def distro_dir(name: str) -> str:
    return f"{DISTROS_DIR}/{name}"


def config_path(name: str) -> str:
    """distros/<name>/distro.toml."""
    return f"{distro_dir(name)}/{CONFIG_NAME}"


def distro_build(name: str) -> str:
    return f"{distro_dir(name)}/{BUILD}"


def distro_root(name: str) -> str:
    return f"{distro_dir(name)}/{ROOT}"


def drop_in_folder(hook: str) -> str:
    """The drop-in folder name of hook file ``hook``: kasm.sh -> kasm.d."""
    return hook.removesuffix(".sh") + DROP_IN_SUFFIX


def library_part(part: str) -> str:
    """common/build/lib/<part>.sh."""
    return f"{LIBRARY_PARTS}/{part}.sh"


def host_include() -> list[str]:
    """Globs of a tree's files, for uploading a host folder: only the tree, never the checkout."""
    return [f"{top}/**" for top in TOPS]


def source_ignore() -> list[str]:
    """The same rule as :func:`host_include`, as a Dagger ``Ignore`` list (exclude all but the tree)."""
    kept = [pattern for top in TOPS for pattern in (f"!{top}", f"!{top}/**")]
    return ["*", *kept, "**/__pycache__"]


TEXT_PATTERNS = (f"{DISTROS_DIR}/*/{CONFIG_NAME}", f"{COMMON}/*.toml")
"""Files the core reads with their text (configs)."""
NAME_PATTERNS = (
    f"{DISTROS_DIR}/*/{BUILD}/*",
    f"{DISTROS_DIR}/*/{BUILD}/*{DROP_IN_SUFFIX}/*",
    f"{COMMON_BUILD}/*",
    f"{COMMON_BUILD}/*{DROP_IN_SUFFIX}/*",
    f"{LIBRARY_PARTS}/*",
    f"{COMMON_ROOT}/**/*",
    f"{DISTROS_DIR}/*/{ROOT}/**/*",
)
"""Files the core needs by name only (hooks, extras, overlays)."""


def is_script(path: str) -> bool:
    """A hook, drop-in or library script: a ``*.sh`` file of a build folder (not an overlay's)."""
    parts = path.split("/")
    return path.endswith(".sh") and BUILD in parts[:-1] and ROOT not in parts[:-1]
