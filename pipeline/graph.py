"""The Dagger graph of a build plan: lazy containers, one hook per exec, nothing of the build in the image.

Stages web, kasm and system are independent chains until step 8 and step 11 join them, so the
engine runs them in parallel by itself. Each script runs with only itself, its extras and the
library parts it uses mounted (pipeline/stepmounts.py); a step's environment is set just for its
scripts, then removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import dagger
from dagger import dag

from pipeline.converter import share_converter
from pipeline.hookenv import HOOKS_MOUNT, INPUTS_ENV, INPUTS_MOUNT, OUT_DIR
from pipeline.imageconfig import (
    ENTRYPOINT,
    HEALTH_INTERVAL_S,
    HEALTH_RETRIES,
    HEALTH_START_PERIOD_S,
    HEALTH_TIMEOUT_S,
    HEALTHCHECK,
    HTTP_PORT,
)
from pipeline.layers import REPO, USER, Ref
from pipeline.linkcheck import LINK_CHECK
from pipeline.order import Action, Feed, Stage
from pipeline.plan import Plan, PlannedStep, Run
from pipeline.stepmounts import (
    PACKAGES_TXT,
    cache_volumes,
    feeds,
    hook_command,
    package_listing,
    packages_record_command,
    run_layout,
)

# dagger-io would make a cattrs converter for every selection of the graph (pipeline/converter.py).
share_converter()


class Sources:
    """The directories files come from: the repository's tree, optionally the user's hooks, and
    optionally a local input mirror (pipeline/mirror/)."""

    def __init__(
        self,
        repo: dagger.Directory,
        user: dagger.Directory | None = None,
        mirror: dagger.Directory | None = None,
    ) -> None:
        self._dirs = {REPO: repo} | ({USER: user} if user is not None else {})
        self.mirror = mirror

    def file(self, ref: Ref) -> dagger.File:
        return self._dirs[ref.layer].file(ref.path)

    def directory(self, ref: Ref) -> dagger.Directory:
        return self._dirs[ref.layer].directory(ref.path)


Mount = tuple[str, dagger.Directory | dagger.File]


def run_files(sources: Sources, run: Run) -> dagger.Directory:
    """A directory holding just one script (executable) and the files beside it, keyed by content."""
    files = dag.directory()
    for name, (ref, permissions) in run_layout(run).items():
        files = files.with_file(name, sources.file(ref), permissions=permissions)
    return files


def mirror_entries(sources: Sources, paths: Iterable[str]) -> dagger.Directory:
    """A directory with just the mirror entries ``paths``, at their mirror paths, keyed by content.

    A step sees only its own entries, so adding or changing any other entry re-runs nothing.
    """
    entries = dag.directory()
    if sources.mirror is None:
        return entries
    for path in paths:
        entries = entries.with_file(path, sources.mirror.file(path))
    return entries


def fed(planned: PlannedStep, available: dict[Feed, dagger.Directory | dagger.File]) -> list[Mount]:
    """The mounts of what ``planned`` consumes (its row's ``consumes``), from what the stage has at hand."""
    return [(path, available[feed]) for path, feed in feeds(planned.step).items()]


def run_hook(
    sources: Sources, plan: Plan, planned: PlannedStep, *, mounts: Iterable[Mount] = ()
) -> Callable[[dagger.Container], dagger.Container]:
    """A container fragment that runs a step's hook and drop-ins, then removes its mounts and env."""
    step_mounts = list(mounts)
    if INPUTS_ENV in planned.env:  # the plan gave the step a mirror: its entries, read-only
        step_mounts.append((INPUTS_MOUNT, mirror_entries(sources, planned.mirrored)))

    def apply(ctr: dagger.Container) -> dagger.Container:
        for path, source in step_mounts:
            if isinstance(source, dagger.File):
                ctr = ctr.with_mounted_file(path, source)
            else:
                ctr = ctr.with_mounted_directory(path, source, read_only=path == INPUTS_MOUNT)
        for name, value in planned.env.items():
            ctr = ctr.with_env_variable(name, value)
        for run in planned.runs:
            ctr = ctr.with_mounted_directory(HOOKS_MOUNT, run_files(sources, run))
            ctr = ctr.with_exec(hook_command(plan, planned, run))
        for name in planned.env:
            ctr = ctr.without_env_variable(name)
        for path, _ in step_mounts:
            ctr = ctr.without_mount(path)
        return ctr.without_mount(HOOKS_MOUNT)

    return apply


def with_caches(plan: Plan, stage: Stage) -> Callable[[dagger.Container], dagger.Container]:
    """Mount the package caches of the distro's family, keyed per distro, platform and stage.

    They are LOCKED (apt and dnf take their own locks), and a lock is held for a whole exec, so
    each stage has its own volumes: the system stage never waits for a KasmVNC compile.
    """

    def apply(ctr: dagger.Container) -> dagger.Container:
        for path, key in cache_volumes(plan, stage).items():
            ctr = ctr.with_mounted_cache(path, dag.cache_volume(key), sharing=dagger.CacheSharingMode.LOCKED)
        return ctr

    return apply


def without_caches(plan: Plan, stage: Stage) -> Callable[[dagger.Container], dagger.Container]:
    def apply(ctr: dagger.Container) -> dagger.Container:
        for path in cache_volumes(plan, stage):
            ctr = ctr.without_mount(path)
        return ctr

    return apply


def web_client(sources: Sources, plan: Plan) -> dagger.Directory:
    """The web stage (step 1): the web client, built on the engine's own platform (plain JavaScript)."""
    ctr = dag.container().from_(plan.web_image)
    caches = cache_volumes(plan, Stage.WEB)
    for path, key in caches.items():
        ctr = ctr.with_mounted_cache(path, dag.cache_volume(key))
    for planned in plan.stage(Stage.WEB):
        ctr = ctr.with_(run_hook(sources, plan, planned))
    for path in caches:
        ctr = ctr.without_mount(path)
    return ctr.directory(OUT_DIR)


def distro_base(plan: Plan) -> dagger.Container:
    """A fresh container of the distro's base image for the target platform."""
    return dag.container(platform=dagger.Platform(plan.platform)).from_(plan.base)


def kasm_rootfs(sources: Sources, plan: Plan, web: dagger.Directory) -> dagger.Directory:
    """Steps 2-8: build KasmVNC, the X server and kclient, and pack them as a rootfs."""
    ctr = distro_base(plan).with_(with_caches(plan, Stage.KASM))
    for planned in plan.stage(Stage.KASM):
        ctr = ctr.with_(run_hook(sources, plan, planned, mounts=fed(planned, {Feed.WEB_CLIENT: web})))
    return ctr.with_(without_caches(plan, Stage.KASM)).directory(OUT_DIR)


def system_base(sources: Sources, plan: Plan) -> dagger.Container:
    """Steps 9-10: the distro's runtime packages and common setup; this becomes the image."""
    packages = dag.directory().with_new_file("packages.list", package_listing(plan)).file("packages.list")
    ctr = distro_base(plan).with_(with_caches(plan, Stage.SYSTEM))
    for planned in plan.stage(Stage.SYSTEM):
        ctr = ctr.with_(run_hook(sources, plan, planned, mounts=fed(planned, {Feed.PACKAGE_LIST: packages})))
    return ctr.with_(without_caches(plan, Stage.SYSTEM)).with_(installed_packages(plan))


def installed_packages(plan: Plan) -> Callable[[dagger.Container], dagger.Container]:
    """Record every installed package with its version in the image, sorted, for audits and diffs."""
    command = packages_record_command(plan)

    def apply(ctr: dagger.Container) -> dagger.Container:
        return ctr.with_exec(command)

    return apply


def s6_overlay(plan: Plan, mirror: dagger.Directory | None = None) -> dagger.Directory:
    """s6-overlay for the target architecture, checksum-verified and unpacked as a rootfs.

    Each release asset comes from the plan's input mirror when it holds it, else from its URL;
    either way its sha256 is checked before anything unpacks it.
    """
    joined = next(p for p in plan.steps if p.step.action is Action.JOIN)
    downloads, checks = dag.directory(), []
    for asset in joined.inputs:
        if mirror is not None and asset.path in joined.mirrored:
            origin = f"the input mirror entry {asset.path}"
            downloads = downloads.with_file(asset.name, mirror.file(asset.path))
        else:
            origin = asset.url
            downloads = downloads.with_file(asset.name, dag.http(asset.url, checksum=f"sha256:{asset.pin}"))
        checks.append(
            f"echo '{asset.pin}  /tarballs/{asset.name}' | sha256sum -c --status"
            f" || {{ echo 'error: {origin} is corrupt: it does not have sha256 {asset.pin}' >&2; exit 1; }}"
        )
    unpack = [f"tar -C /s6 -Jxpf /tarballs/{asset.name}" for asset in joined.inputs]
    script = "; ".join(["set -e", "mkdir -p /s6", *checks, *unpack])
    return (
        dag.container()
        .from_(plan.web_image)
        .with_mounted_directory("/tarballs", downloads)
        .with_exec(["sh", "-c", script])
        .without_mount("/tarballs")
        .directory("/s6")
    )


STAMPED = "/helios/stamped"


def with_file_times(directory: dagger.Directory, epoch: int, tool_image: str) -> dagger.Directory:
    """``directory`` with every file, folder and link given the time ``epoch``, links not followed.

    Not Directory.with_timestamps: in Dagger 0.21 it follows links, so it fails on a link whose
    target lies outside the folder (step 8 packs absolute links such as etc/kasmvnc) and would touch
    the engine's own file where one points, and it leaves the links' own times as they were.
    """
    return (
        dag.container()
        .from_(tool_image)
        .with_directory(STAMPED, directory)
        .with_exec(["find", STAMPED, "-exec", "touch", "-h", "-d", f"@{epoch}", "{}", "+"])
        .directory(STAMPED)
    )


def image(
    sources: Sources, plan: Plan, *, labels: dict[str, str] | None = None, epoch: int | None = None
) -> dagger.Container:
    """Steps 11-13 and the image config: the final, runnable image of ``plan``.

    With ``epoch`` (SOURCE_DATE_EPOCH), every file the image stage copies gets that time, so two
    builds of one commit copy identical layers.
    """

    def stamped(directory: dagger.Directory) -> dagger.Directory:
        return directory if epoch is None else with_file_times(directory, epoch, plan.web_image)

    web = web_client(sources, plan)
    ctr = (
        system_base(sources, plan)
        .with_directory("/", stamped(s6_overlay(plan, sources.mirror)))
        .with_directory("/", stamped(kasm_rootfs(sources, plan, web)))
        .with_exec(["sh", "-c", LINK_CHECK])
    )
    for overlay in (ref for planned in plan.stage(Stage.IMAGE) for ref in planned.overlays):
        ctr = ctr.with_directory("/", stamped(sources.directory(overlay)))
    for name, value in plan.image_env.items():
        ctr = ctr.with_env_variable(name, value)
    ctr = (
        ctr.with_entrypoint(list(ENTRYPOINT))
        .without_default_args()
        .with_exposed_port(HTTP_PORT, description="Helios web desktop")
        .with_docker_healthcheck(
            list(HEALTHCHECK),
            interval=f"{HEALTH_INTERVAL_S}s",
            timeout=f"{HEALTH_TIMEOUT_S}s",
            start_period=f"{HEALTH_START_PERIOD_S}s",
            retries=HEALTH_RETRIES,
        )
    )
    for name, value in (labels or {}).items():
        ctr = ctr.with_label(name, value)
    return ctr


def oci_labels(plan: Plan, *, version: str, revision: str, source_url: str, epoch: int) -> dict[str, str]:
    """The image's OCI labels, all derived from the inputs (``epoch`` gives "created").

    They are applied last, so they never invalidate a build step.
    """
    moment = datetime.fromtimestamp(epoch, UTC)
    labels = {
        "org.opencontainers.image.title": f"helios-{plan.distro.name}",
        "org.opencontainers.image.description": plan.distro.description,
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.revision": revision,
        "org.opencontainers.image.source": source_url,
        "org.opencontainers.image.created": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "org.opencontainers.image.base.name": plan.base,
        "io.helios.distro": plan.distro.name,
        "io.helios.platform": plan.platform,
        "io.helios.packages": PACKAGES_TXT,
    }
    return {name: value for name, value in labels.items() if value}
