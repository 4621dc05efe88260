"""What a hook step is given besides its environment: its files, other steps' output, its caches.

Engine-free, so that the Dagger graph and anything else that executes a plan's hooks (the
rehearsal in tests/rehearsal) lay out the same files at the same paths and mount the same things.
"""

from __future__ import annotations

import enum

from pipeline.layers import Ref
from pipeline.order import PACKAGE_STEP, PACKAGES_LIST_STEP, Stage, Step
from pipeline.plan import Plan, Run

HOOKS_MOUNT = "/helios/hooks"
OUT_DIR = "/helios/out"
WEB_MOUNT = "/helios/web"
PACKAGES_MOUNT = "/helios/packages.list"

# Package-manager caches per family: mounted while hooks run, never part of the image.
FAMILY_CACHES = {
    "debian": ("/var/cache/apt", "/var/lib/apt/lists"),
    "rhel": ("/var/cache/dnf",),
    "alpine": ("/var/cache/apk",),
}
NPM_CACHE = "/root/.npm"
WEB_NPM_VOLUME = "helios-web-npm"
"""The web stage's npm cache: one for every distro, as the web client does not vary by distro."""

PACKAGES_TXT = "/opt/helios/packages.txt"
# How each family lists its installed packages, one "name version" line each.
PACKAGE_QUERY = {
    "debian": r"dpkg-query -W -f='${Package} ${Version}\n'",
    "rhel": r"rpm -qa --qf '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}\n'",
    "alpine": "apk info -v",
}


class Feed(enum.StrEnum):
    """What another part of the build hands a step, read-only."""

    WEB_CLIENT = "web-client"
    """Step 1's /helios/out."""
    PACKAGE_LIST = "package-list"
    """The distro's runtime package names, one a line (:func:`package_listing`)."""


def feeds(step: Step) -> dict[str, Feed]:
    """The read-only inputs ``step`` gets from elsewhere in the build, by mount path."""
    if step.number == PACKAGE_STEP:
        return {WEB_MOUNT: Feed.WEB_CLIENT}
    if step.number == PACKAGES_LIST_STEP:
        return {PACKAGES_MOUNT: Feed.PACKAGE_LIST}
    return {}


def package_listing(plan: Plan) -> str:
    """The content of /helios/packages.list for ``plan``."""
    return "".join(f"{name}\n" for name in plan.packages)


def run_layout(run: Run) -> dict[str, tuple[Ref, int | None]]:
    """The files of /helios/hooks while ``run`` executes: name -> (source, permissions).

    The script under its mounted name, executable; every file beside it under its own name.
    """
    layout: dict[str, tuple[Ref, int | None]] = {run.mounted: (run.script, 0o755)}
    for extra in run.files:
        layout[extra.name] = (extra, None)
    return layout


def cache_volumes(plan: Plan, stage: Stage) -> dict[str, str]:
    """The package caches mounted while ``stage``'s hooks run: path -> cache volume name.

    The web stage shares one npm cache; the kasm and system stages get their family's caches keyed
    per distro, platform and stage (the kasm stage also npm's, for kclient).
    """
    if stage is Stage.WEB:
        return {NPM_CACHE: WEB_NPM_VOLUME}
    paths = FAMILY_CACHES[plan.distro.family]
    if stage is Stage.KASM:
        paths = (*paths, NPM_CACHE)
    return {path: f"helios-{plan.distro.name}-{plan.arch}-{stage}{path.replace('/', '-')}" for path in paths}


def packages_record_script(plan: Plan) -> str:
    """The shell command that records every installed package, sorted, in PACKAGES_TXT."""
    query = PACKAGE_QUERY[plan.distro.family]
    return f"mkdir -p {PACKAGES_TXT.rsplit('/', 1)[0]} && {query} | LC_ALL=C sort > {PACKAGES_TXT}"
