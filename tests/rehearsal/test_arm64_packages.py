"""The Debian plan's package steps for linux/arm64, run for real under emulation in every CI run.

Step 2 (distros/debian/build/kasm.sh and its kasm.d drop-ins) runs in an arm64 trixie rootfs and
step 9 (system.sh and its system.d drop-ins) in another, each exec as the rehearsal makes it
(steps.StageRunner: the plan's files, environment, cache volumes and mirror entries), every arm64
binary run by QEMU through binfmt_misc. Then the library check of step 11 (pipeline/linkcheck.py)
runs in the step-9 rootfs on a probe linked in the step-2 rootfs the way Xvnc links KasmVNC 1.5's
libraries: every shared library step 2 gave the build must be installed by step 9.

It is the part of an arm64 build that depends on what Debian's archive has for arm64 (libcpuid-dev
it has not), at a fraction of the whole emulated build (``-m rehearsal_arm64``, docs/rehearsal.md),
which covers these steps too and so skips this test.
"""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipeline.linkcheck import link_check_script
from pipeline.order import Feed, Stage
from pipeline.plan import Planner
from pipeline.tree import LocalTree
from pipeline.versions import load_versions
from tests.rehearsal.assemble import DISTRO, DISTRO_SUITE, _mirror_of
from tests.rehearsal.chroot import (
    CACHE,
    IMAGE_PATH,
    Exec,
    RootfsSpec,
    emulation_problem,
    host_apt_sources,
    make_rootfs,
    remove_tree,
    run_in,
)
from tests.rehearsal.conftest import emulated_arm64, shared_inputs_dir
from tests.rehearsal.inputs import MIRROR, Inputs, PrivateApt, libcpuid_tarball, steps_reading
from tests.rehearsal.results import REPO, Results
from tests.rehearsal.steps import StageRunner, StepError, write_package_list

pytestmark = pytest.mark.real_versions  # the plan's inputs are the pinned ones

ARCH = "arm64"
WORK = CACHE / "work-arm64-packages"
PROBE = "/usr/local/bin/helios-link-probe"
# What Xvnc of KasmVNC 1.5 links from step 2's packages, by pkg-config module: common/rfb's
# CMakeLists.txt (libcpuid, fmt, tbb, libva, libva-drm, libdrm; find_library(yuv)), the top-level
# one (zlib, libpng, freetype, X11) and unix/xserver/hw/vnc/Makefile.am (-lwebp -lsharpyuv -lssl
# -lcrypto -lcrypt). -L/usr/local/lib first, as the X server's configure links (XORG_LDFLAGS).
PROBE_BUILD = (
    r"""
set -eu
printf 'int main(void) { return 0; }\n' >/tmp/probe.c
modules="libcpuid fmt tbb libva libva-drm libdrm zlib libpng freetype2 x11 libwebp libsharpyuv openssl"
cc /tmp/probe.c -o /tmp/probe -L/usr/local/lib -Wl,--no-as-needed $(pkg-config --libs $modules) -lyuv -lcrypt
mkdir -p /helios/out/usr/local/bin
cp /tmp/probe /helios/out"""
    + PROBE
    + r"""
echo "probe needs:"; readelf -d /tmp/probe | awk '/NEEDED/ {gsub(/[][]/, "", $NF); print "  " $NF}'
"""
)


@pytest.fixture(scope="module")
def arm64_steps(request: pytest.FixtureRequest, results: Results) -> dict[str, Path]:
    """Steps 2 and 9 of the Debian plan for linux/arm64, run in emulated arm64 rootfs: their roots."""
    from tests.rehearsal.conftest import missing_prerequisite

    if emulated_arm64(request.config):
        pytest.skip("the whole arm64 rehearsal of this session runs steps 2 and 9 itself")
    reason = missing_prerequisite() or emulation_problem(ARCH)
    if reason:
        pytest.skip(reason)
    versions = load_versions()
    sources = host_apt_sources()
    logs = results.logs / "arm64-packages"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    apt = PrivateApt(CACHE / "apt-sources-arm64", sources, DISTRO_SUITE, ARCH, logs / "inputs.log")
    inputs = Inputs(MIRROR, apt.keyring(CACHE / "keyrings" / DISTRO_SUITE))
    (MIRROR / "sha256").mkdir(parents=True, exist_ok=True)
    bare = Planner(LocalTree(REPO), versions).plan(DISTRO, f"linux/{ARCH}")

    libcpuid_tarball(
        inputs, versions["libcpuid"], shared_inputs_dir(), apt, steps_reading(bare), results.substitute
    )
    planner = Planner(LocalTree(REPO), versions, mirror=_mirror_of(MIRROR))
    plan = planner.plan(DISTRO, f"linux/{ARCH}")
    overrides = {n: dict(v) for n, v in inputs.env_overrides.items()}
    overrides.setdefault(9, {})["HELIOS_VIRTUALGL"] = "false"
    results.substitute(
        "VirtualGL (arm64 step 9)",
        "its apt repository is not reachable here: skipped with HELIOS_VIRTUALGL=false",
    )
    spec = RootfsSpec(DISTRO_SUITE, ARCH, sources, keyring=str(inputs.keyring))
    roots = {"kasm": WORK / "kasm", "system": WORK / "system"}
    package_list = write_package_list(plan, WORK / "scratch" / "packages.list")

    def stage(name: str, stage: Stage, number: int) -> None:
        seconds = make_rootfs(spec, roots[name], logs / f"rootfs-{name}.log")
        results.timing(f"arm64 packages: rootfs {name} (trixie, arm64)", seconds)
        runner = StageRunner(
            plan, planner.layers, stage, roots[name], WORK / "scratch" / name, logs, {"PATH": IMAGE_PATH},
            mirror=MIRROR, extra_env=overrides,
            timing=lambda label, seconds: results.timing(f"arm64 packages: {label}", seconds),
        )  # fmt: skip
        runner.run(plan.step(number), {Feed.PACKAGE_LIST: package_list})

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = [pool.submit(stage, "kasm", Stage.KASM, 2), pool.submit(stage, "system", Stage.SYSTEM, 9)]
            for future in done:
                future.result()
    except StepError as error:
        results.record("arm64 packages failure", str(error))
        raise
    results.timing("arm64 packages: steps 2 and 9 in all", time.monotonic() - started)
    return roots


def test_arm64_step_2_gives_kasmvnc_its_libraries(arm64_steps: dict[str, Path], results: Results) -> None:
    """The pkg-config modules KasmVNC 1.5's CMakeLists.txt requires resolve in the arm64 build stage,
    libcpuid from the pinned release (Debian has no libcpuid-dev for arm64)."""
    kasm = arm64_steps["kasm"]
    log = results.logs / "arm64-packages" / "probe-build.log"
    log.write_text("")
    out = kasm / "helios/out"
    remove_tree(out)
    code = run_in(kasm, Exec(["sh", "-c", PROBE_BUILD], {"PATH": IMAGE_PATH}), log)
    assert code == 0, f"the probe does not link in the arm64 step-2 rootfs:\n{log.read_text()[-3000:]}"
    assert (kasm / "usr/local/lib/libcpuid.a").is_file(), "libcpuid was not built static for arm64"
    assert not (kasm / "usr/lib/aarch64-linux-gnu/libcpuid.so").exists()
    needed = log.read_text().split("probe needs:", 1)[1].split()
    assert "libfmt.so.10" in needed and not any("cpuid" in name for name in needed), needed


def test_arm64_step_9_installs_every_library_step_2_linked(
    arm64_steps: dict[str, Path], results: Results
) -> None:
    """Step 11's check, on the step-2 probe in the step-9 rootfs: nothing 'not found'."""
    kasm, system = arm64_steps["kasm"], arm64_steps["system"]
    probe = kasm / "helios/out" / PROBE.lstrip("/")
    if not probe.is_file():
        pytest.fail("no probe from the step-2 rootfs (test_arm64_step_2_gives_kasmvnc_its_libraries failed)")
    target = system / PROBE.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(probe, target)
    log = results.logs / "arm64-packages" / "link-check.log"
    log.write_text("")
    try:
        code = run_in(system, Exec(["sh", "-c", link_check_script((PROBE,))], {"PATH": IMAGE_PATH}), log)
    finally:
        target.unlink()
    assert code == 0, log.read_text()
    assert "every packed program finds its shared libraries" in log.read_text()
