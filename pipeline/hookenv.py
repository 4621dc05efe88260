"""The container paths a hook works with, and the HELIOS_* variables that tell hooks where they are.

One set of constants: the Dagger graph and the rehearsal mount things at these paths, and every hook
step gets them as environment (docs/hooks.md lists them), so no hook spells a path of its own.
"""

from __future__ import annotations

from pipeline.order import Feed, Step

HOOKS_MOUNT = "/helios/hooks"
"""The running script, its extras and the hook library (read-only)."""
LIBRARY_MOUNT = f"{HOOKS_MOUNT}/lib.sh"
OUT_DIR = "/helios/out"
"""What a stage hands on: step 1's web client, step 8's runtime rootfs."""
WEB_MOUNT = "/helios/web"
"""Step 1's /helios/out, read-only, for the steps that consume the web client."""
PACKAGES_MOUNT = "/helios/packages.list"
"""The distro's runtime package names, one a line, for the steps that consume the package list."""
INPUTS_MOUNT = "/helios/inputs"
"""With an input mirror: the step's own entries, read-only (pipeline/mirror/)."""
INPUTS_ENV = "HELIOS_INPUTS"
"""Names INPUTS_MOUNT for a step that has mirror entries."""
OFFLINE_ENV = "HELIOS_OFFLINE"
"""``true`` when a step must not fetch a pinned input from upstream."""

FEED_MOUNTS: dict[Feed, str] = {Feed.WEB_CLIENT: WEB_MOUNT, Feed.PACKAGE_LIST: PACKAGES_MOUNT}
FEED_ENV: dict[Feed, str] = {Feed.WEB_CLIENT: "HELIOS_WEB", Feed.PACKAGE_LIST: "HELIOS_PACKAGES"}

PATH_ENV: dict[str, str] = {
    "HELIOS_HOOKS": HOOKS_MOUNT,
    "HELIOS_LIB": LIBRARY_MOUNT,
    "HELIOS_OUT": OUT_DIR,
}
"""Given to every hook step."""


def path_env(step: Step) -> dict[str, str]:
    """The path variables of ``step``: the common ones, and one per feed it consumes."""
    return PATH_ENV | {FEED_ENV[feed]: FEED_MOUNTS[feed] for feed in step.consumes}
