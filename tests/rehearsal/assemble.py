"""The whole build half of the rehearsal: steps 1-10 for real, then the image as steps 11-13 make it.

The three stages run in parallel, as the engine runs the graph's independent chains: web (step 1)
in a bookworm rootfs with Node standing in for the pinned Node image, kasm (steps 2-8) and system
(steps 9-10) each in a fresh trixie rootfs standing in for debian:13.2. Step 8 waits for step 1's
/helios/out. Then, as the graph's ``image()``: the system rootfs is the fresh base, s6-overlay is
copied over it, then step 8's /helios/out, then the overlays of steps 12 and 13 in plan order.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.cli.sourceinfo import source_info
from pipeline.linkcheck import LINK_CHECK
from pipeline.mirror.state import Mirror
from pipeline.order import BUILD_ORDER, Feed, Stage
from pipeline.plan import Plan, Planner
from pipeline.platforms import check_platform
from pipeline.tree import LocalTree
from pipeline.versions import load_versions
from tests.rehearsal.chroot import (
    CACHE,
    IMAGE_PATH,
    AptSources,
    Exec,
    RootfsSpec,
    host_apt_sources,
    host_arch,
    make_rootfs,
    remove_tree,
    run_in,
)
from tests.rehearsal.inputs import Inputs, prepare_inputs, sha256_of, steps_reading
from tests.rehearsal.results import Results
from tests.rehearsal.steps import VOLUMES, StageRunner, StepError, write_package_list

WORK = CACHE / "work"
IMAGE = WORK / "image"
"""The latest assembled image, kept for the boot half and for people."""
DISTRO = "debian"
DISTRO_SUITE = "trixie"
"""The suite of debian:13.2, the distro's base image."""
WEB_SUITE = "bookworm"
WEB_PACKAGES = ("ca-certificates", "curl", "git", "g++", "make", "python3", "xz-utils")
"""The part of the Node image's buildpack-deps base that step 1 can need (git, a toolchain)."""
# What the image does not hold: the graph mounts these as cache volumes while hooks run.
NOT_IN_IMAGE = ("var/cache/apt", "var/lib/apt/lists")


@dataclass(frozen=True)
class Built:
    image: Path
    plan: Plan


@dataclass(frozen=True)
class Workspace:
    """Where one build keeps what it makes: its root filesystems, scratch, image and cache volumes.

    Two workspaces share only the pristine inputs of the cache (base root filesystems, the input
    mirror and its substitutes, the s6-overlay stand-in), so a build in the second makes everything
    anew, as a build on another engine would.
    """

    work: Path
    volumes: Path
    label: str = ""
    """Put before the names of its timings and records, and names its log folder ("" for the first)."""

    @property
    def image(self) -> Path:
        return self.work / "image"


FIRST = Workspace(WORK, VOLUMES)
REBUILD = Workspace(CACHE / "rebuild" / "work", CACHE / "rebuild" / "volumes", "rebuild")
"""The second build of the reproducibility check (tests/rehearsal/test_reproducible.py)."""


def rehearse_build(
    repo: Path, shared_inputs: Path, results: Results, arch: str | None = None, place: Workspace = FIRST
) -> Built:
    """Steps 1-13 of the Debian distro for ``arch`` (default: the host's), in ``place``; the image.

    Another architecture than the host's runs every exec under QEMU's user emulation
    (chroot.emulation_problem), and s6-overlay's stand-in is cross-compiled for it.
    """
    arch = arch or host_arch()
    platform = check_platform(f"linux/{arch}")
    results.record("platform", platform + ("" if arch == host_arch() else f" (emulated on {host_arch()})"))
    versions = load_versions()
    sources = host_apt_sources()
    logs = results.logs / place.label if place.label else results.logs
    logs.mkdir(parents=True, exist_ok=True)
    work = place.work
    work.mkdir(parents=True, exist_ok=True)
    prefix = f"{place.label}: " if place.label else ""

    def timing(name: str, seconds: float) -> None:
        results.timing(prefix + name, seconds)

    # Which steps read a section: from a plan without a mirror, so the real pins are compared.
    bare = Planner(LocalTree(repo), versions).plan(DISTRO, platform)
    started = time.monotonic()
    inputs = debian_inputs(bare, versions, shared_inputs, sources, results, logs)
    timing("inputs (mirror, Debian sources, substitutes)", time.monotonic() - started)
    planner = Planner(LocalTree(repo), versions, mirror=_mirror_of(inputs.mirror))
    plan = planner.plan(DISTRO, platform)
    overrides: dict[int, dict[str, str]] = {n: dict(v) for n, v in inputs.env_overrides.items()}
    _substitutions(results, plan, overrides)

    def runner(stage: Stage, root: Path, base_env: Mapping[str, str]) -> StageRunner:
        return StageRunner(
            plan, planner.layers, stage, root, work / "scratch" / str(stage), logs, base_env,
            mirror=inputs.mirror, extra_env=overrides, timing=timing, volumes=place.volumes,
        )  # fmt: skip

    trixie = RootfsSpec(DISTRO_SUITE, arch, sources, keyring=str(inputs.keyring))
    bookworm = RootfsSpec(WEB_SUITE, arch, sources, include=WEB_PACKAGES)
    image_build = work / "image-build"

    def web() -> Path:
        root = work / "web"
        timing("rootfs web (bookworm + Node)", make_rootfs(bookworm, root, logs / "rootfs-web.log"))
        node_env = install_node(root, inputs.mirror, plan, overrides)
        stage = runner(Stage.WEB, root, {"PATH": IMAGE_PATH, **node_env})
        stage.run_stage()
        return stage.out

    def system() -> None:
        timing("rootfs system (trixie)", make_rootfs(trixie, image_build, logs / "rootfs-system.log"))
        stage = runner(Stage.SYSTEM, image_build, {"PATH": IMAGE_PATH})
        package_list = write_package_list(plan, work / "scratch" / "packages.list")
        stage.run_stage({Feed.PACKAGE_LIST: package_list})
        stage.record_packages()

    with ThreadPoolExecutor(max_workers=2) as pool:
        web_out = pool.submit(web)
        system_done = pool.submit(system)
        root = work / "kasm"
        timing("rootfs kasm (trixie)", make_rootfs(trixie, root, logs / "rootfs-kasm.log"))
        kasm = runner(Stage.KASM, root, {"PATH": IMAGE_PATH})
        # The kasm steps before the first that reads the web client need none: they run meanwhile.
        packing = next(step.number for step in BUILD_ORDER if Feed.WEB_CLIENT in step.consumes)
        kasm.run_stage(before=packing)
        kasm.run_from(packing, {Feed.WEB_CLIENT: web_out.result()})
        system_done.result()

    started = time.monotonic()
    _assemble(plan, repo, image_build, kasm.out, shared_inputs, results, arch, work, logs, timing)
    image = place.image
    remove_tree(work / "image-old")
    if image.exists():
        image.rename(work / "image-old")
    image_build.rename(image)
    remove_tree(work / "image-old")
    timing("steps 11-13 assemble the image", time.monotonic() - started)
    results.record(prefix + "image size (MiB, without package caches and lists)", _size_mib(image))
    results.record(prefix + "image", str(image))
    return Built(image, plan)


def debian_inputs(
    bare: Plan, versions: Mapping[str, Any], shared: Path, sources: AptSources, results: Results, logs: Path
) -> Inputs:
    """The rehearsal mirror filled for ``bare`` (the Debian plan made without a mirror, so that it
    names the real pins); substitutes are reported to ``results``."""
    return prepare_inputs(
        versions,
        shared=shared,
        sources=sources,
        suite=DISTRO_SUITE,
        arch=bare.arch,
        xorg_version=bare.distro.xorg_version,
        env_of=steps_reading(bare),
        substitute=results.substitute,
        log=logs / "inputs.log",
    )


def _mirror_of(folder: Path) -> Mirror:
    """The rehearsal mirror as the planner sees it: each entry with a digest of its content."""
    entries = {
        str(path.relative_to(folder)): path.name if path.parent.name == "sha256" else sha256_of(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
    return Mirror(entries, location=str(folder))


def _substitutions(results: Results, plan: Plan, overrides: dict[int, dict[str, str]]) -> None:
    """The stand-ins that are not inputs: base images, VirtualGL."""
    results.substitute(
        f"base image {plan.base} (steps 2-10)",
        f"no container registry here: a debootstrap {DISTRO_SUITE} minbase rootfs from Debian's archive, "
        "with the image's deb822 sources (suite, -updates, -security) and empty package caches",
    )
    results.substitute(
        f"Node image {plan.web_image} (step 1)",
        f"no container registry here: a debootstrap {WEB_SUITE} minbase rootfs with {', '.join(WEB_PACKAGES)} "
        "(the part of buildpack-deps step 1 uses), the Node.js tarball stand-in unpacked into /usr/local as "
        "the image does (no yarn, no corepack)",
    )
    step9 = plan.step(9)
    if "HELIOS_VIRTUALGL" not in step9.env:
        raise AssertionError(
            "step 9 gets no HELIOS_VIRTUALGL from the plan: the rehearsal cannot skip VirtualGL"
        )
    overrides.setdefault(9, {})["HELIOS_VIRTUALGL"] = "false"
    results.substitute(
        "VirtualGL (step 9)",
        "its apt repository is not reachable here: skipped with HELIOS_VIRTUALGL=false "
        f"(the plan gives {step9.env['HELIOS_VIRTUALGL']})",
    )


def install_node(
    root: Path, mirror: Path, plan: Plan, overrides: dict[int, dict[str, str]]
) -> dict[str, str]:
    """Node into /usr/local of the web rootfs, from the tarball stand-in, as the Node image does."""
    version = overrides.get(6, {}).get("NODEJS_VERSION", plan.step(6).env["NODEJS_VERSION"])
    sha256 = overrides.get(6, {}).get("NODEJS_SHA256", plan.step(6).env["NODEJS_SHA256"])
    subprocess.run(
        ["tar", "-xJf", str(mirror / "sha256" / sha256), "-C", str(root / "usr/local"),
         "--strip-components=1", "--no-same-owner"],
        check=True,
    )  # fmt: skip
    (root / "usr/local/bin/nodejs").symlink_to("node")
    return {"NODE_VERSION": version}


def _assemble(
    plan: Plan, repo: Path, image: Path, kasm_out: Path, shared: Path, results: Results, arch: str, work: Path,
    logs: Path, timing: Callable[[str, float], None],
) -> None:  # fmt: skip
    """Steps 11-13 over the system rootfs ``image``, in the graph's order."""
    from tests.rehearsal.s6 import s6_overlay_tree

    s6_version = plan.s6_overlay["version"]
    started = time.monotonic()
    s6 = s6_overlay_tree(work / "s6", shared, arch=arch)
    timing("s6-overlay from source", time.monotonic() - started)
    results.substitute(
        f"s6-overlay {s6_version} release tarballs (step 11)",
        "their host is not reachable here: built from the pinned skarnet and s6-overlay sources of the "
        "input mirror at the versions s6-overlay names (tests/rehearsal/s6.py says how it differs)",
    )
    # As graph.image() with the commit's SOURCE_DATE_EPOCH, which `helios build` passes from git.
    epoch = source_info(repo).epoch
    staging = work / "stamped"
    _copy_over(_stamped(s6, staging, epoch), image)
    _copy_over(_stamped(kasm_out, staging, epoch), image)
    log = logs / "step-11-link-check.log"
    code = run_in(image, Exec(["sh", "-c", LINK_CHECK], {"PATH": IMAGE_PATH}), log)
    if code != 0:
        raise StepError(f"step 11: {log.read_text(errors='replace').strip()}\n(full log: {log})")
    for overlay in (ref for planned in plan.stage(Stage.IMAGE) for ref in planned.overlays):
        _copy_over(_stamped(repo / overlay.path, staging, epoch), image)
    remove_tree(staging)


def _stamped(source: Path, staging: Path, epoch: int) -> Path:
    """A copy of ``source`` whose every entry has the time ``epoch``, as Directory.with_timestamps."""
    remove_tree(staging)
    subprocess.run(["cp", "-a", str(source), str(staging)], check=True)
    subprocess.run(["find", str(staging), "-exec", "touch", "-h", "-d", f"@{epoch}", "{}", "+"], check=True)
    return staging


def _copy_over(source: Path, dest: Path) -> None:
    """Merge ``source`` into ``dest`` as Directory.with_directory("/") does (files replace files)."""
    subprocess.run(["cp", "-a", f"{source}/.", f"{dest}/"], check=True)


def _size_mib(image: Path) -> float:
    """What the image would hold, in MiB: the rootfs without package caches and lists."""
    excludes = [f"--exclude=./{path}/*" for path in NOT_IN_IMAGE]
    du = subprocess.run(["du", "-s", "--block-size=1K", "-x", *excludes, "."], cwd=image,
                        check=True, capture_output=True, text=True)  # fmt: skip
    return round(int(du.stdout.split()[0]) / 1024, 1)


def remove_scratch() -> None:
    shutil.rmtree(WORK / "scratch", ignore_errors=True)
