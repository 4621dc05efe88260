"""What a hook step is given besides its environment: its files, other steps' output, its caches.

Engine-free, so that the Dagger graph and anything else that executes a plan's hooks (the
rehearsal in tests/rehearsal) lay out the same files at the same paths and mount the same things.
"""

from __future__ import annotations

from pipeline.dates import epoch
from pipeline.families import FAMILIES
from pipeline.hookenv import FEED_MOUNTS, HOOKS_MOUNT
from pipeline.layers import Ref
from pipeline.layout import LIBRARY_PARTS
from pipeline.order import Feed, Stage, Step
from pipeline.plan import Plan, PlannedStep, Run
from pipeline.settle import settled

NPM_CACHE = "/root/.npm"
WEB_NPM_VOLUME = "helios-web-npm"
"""The web stage's npm cache: one for every distro, as the web client does not vary by distro."""

PACKAGES_TXT = "/opt/helios/packages.txt"


def feeds(step: Step) -> dict[str, Feed]:
    """The read-only inputs ``step`` gets from elsewhere in the build (its row's ``consumes``), by path."""
    return {FEED_MOUNTS[feed]: feed for feed in step.consumes}


def package_listing(plan: Plan) -> str:
    """The content of /helios/packages.list for ``plan``."""
    return "".join(f"{name}\n" for name in plan.packages)


def run_layout(run: Run) -> dict[str, tuple[Ref, int | None]]:
    """The files of /helios/hooks while ``run`` executes: name -> (source, permissions).

    The script under its mounted name, executable; its extras under their own names; the hook
    library's parts in lib/ beside the loader lib.sh.
    """
    layout: dict[str, tuple[Ref, int | None]] = {run.mounted: (run.script, 0o755)}
    for extra in run.extras:
        layout[extra.name] = (extra, None)
    for part in run.library:
        in_library = part.path.startswith(f"{LIBRARY_PARTS}/")
        layout[f"lib/{part.name}" if in_library else part.name] = (part, None)
    return layout


def cache_volumes(plan: Plan, stage: Stage) -> dict[str, str]:
    """The package caches mounted while ``stage``'s hooks run: path -> cache volume name.

    The web stage shares one npm cache; the kasm and system stages get their family's caches keyed
    per distro, platform and stage (the kasm stage also npm's, for kclient).
    """
    if stage is Stage.WEB:
        return {NPM_CACHE: WEB_NPM_VOLUME}
    paths = FAMILIES[plan.distro.family].caches
    if stage is Stage.KASM:
        paths = (*paths, NPM_CACHE)
    return {path: f"helios-{plan.distro.name}-{plan.arch}-{stage}{path.replace('/', '-')}" for path in paths}


def packages_record_script(plan: Plan) -> str:
    """The shell command that records every installed package, sorted, in PACKAGES_TXT."""
    query = FAMILIES[plan.distro.family].package_query
    return f"mkdir -p {PACKAGES_TXT.rsplit('/', 1)[0]} && {query} | LC_ALL=C sort > {PACKAGES_TXT}"


def hook_command(plan: Plan, planned: PlannedStep, run: Run) -> list[str]:
    """The exec arguments of ``run``: its script, settled when the step writes the image (system stage)."""
    command = [f"{HOOKS_MOUNT}/{run.mounted}"]
    if planned.step.stage is not Stage.SYSTEM:
        return command
    return settled(command, plan.distro.family, epoch(plan.distro.source_date))


def packages_record_command(plan: Plan) -> list[str]:
    """The exec arguments that record the installed packages: the system stage's last exec, settled."""
    command = ["sh", "-c", packages_record_script(plan)]
    return settled(command, plan.distro.family, epoch(plan.distro.source_date))
