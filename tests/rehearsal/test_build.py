"""The build half of the rehearsal: each exec gets what the plan says, failures are reported, and
the Debian image built for real holds what steps 1-13 put there.

The first tests are cheap (a few seconds): they run fixture hooks in a tiny root filesystem made of
the host's own bash and coreutils. The rest use the image that the session builds once (tens of
minutes on a first run; see conftest.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.hookenv import HOOKS_MOUNT, PACKAGES_MOUNT, WEB_MOUNT
from pipeline.order import Feed, Stage
from pipeline.plan import Planner
from pipeline.stepmounts import PACKAGES_TXT, cache_volumes, run_layout
from pipeline.tree import LocalTree
from tests.rehearsal.chroot import IMAGE_PATH, mounts_below, tiny_rootfs
from tests.rehearsal.results import REPO
from tests.rehearsal.steps import StageRunner, StepError, write_package_list

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the rehearsal needs root (chroot, mount namespaces)"
)

"""What every base image has; the system stage's settled execs use sleep, rm, find and touch."""


def processes_in(root: Path) -> list[int]:
    """The processes whose root directory is ``root``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "root").readlink() == root:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def runner_for(tree: Path, root: Path, tmp_path: Path, stage: Stage, distro: str = "base") -> StageRunner:
    planner = Planner(LocalTree(tree))
    plan = planner.plan(distro, "linux/amd64")
    return StageRunner(
        plan, planner.layers, stage, root, tmp_path / "scratch", tmp_path / "logs", {"PATH": IMAGE_PATH},
        volumes=tmp_path / "volumes",
    )  # fmt: skip


BROKEN = "#!/bin/sh\necho compiling the server\necho 'fatal: no compiler here' >&2\nsleep 300 &\nexit 3\n"


def test_a_failing_hook_stops_with_its_step_path_exit_code_and_log_tail(make_tree, tmp_path):
    tree = make_tree({"distros/base/build/kasm.sh": BROKEN})
    root = tiny_rootfs(tmp_path / "root")
    runner = runner_for(tree, root, tmp_path, Stage.KASM)

    with pytest.raises(StepError) as failure:
        runner.run(runner.plan.step(2))

    message = str(failure.value)
    assert "step 2 (kasm · kasm) failed: distros/base/build/kasm.sh exited with code 3" in message
    assert "  | compiling the server" in message
    assert "  | fatal: no compiler here" in message
    assert "step-02-kasm.log" in message
    # Nothing outlives the step: no mount, no process (the hook left `sleep 300` behind).
    assert mounts_below(root) == []
    assert processes_in(root) == []
    # Mount points made for the step are gone again; the rootfs holds what the hook wrote only.
    assert not (root / "helios").exists()
    assert not (root / "root/.npm").exists()


def test_a_hook_that_succeeds_leaves_no_mount_and_reports_its_time(make_tree, tmp_path):
    tree = make_tree()
    root = tiny_rootfs(tmp_path / "root")
    runner = runner_for(tree, root, tmp_path, Stage.KASM)
    timings: dict[str, float] = {}
    runner.timing = timings.__setitem__

    runner.run(runner.plan.step(3))

    assert list(timings) == ["step 03 kasm · turbo"]
    assert "fixture hook" in (tmp_path / "logs/step-03-turbo.log").read_text()
    assert mounts_below(root) == []


def test_killing_the_rehearsal_ends_every_process_of_its_steps(make_tree, tmp_path):
    tree = make_tree({"common/build/turbo.sh": "#!/bin/sh\nsleep 300 &\nexec sleep 301\n"})
    root = tiny_rootfs(tmp_path / "root")
    code = (
        "from pathlib import Path\nfrom pipeline.order import Stage\n"
        "from tests.rehearsal.test_build import runner_for\n"
        f"tmp = Path({str(tmp_path)!r})\n"
        f"runner = runner_for(Path({str(tree)!r}), Path({str(root)!r}), tmp, Stage.KASM)\n"
        "runner.run(runner.plan.step(3))\n"
    )
    rehearsal = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    try:
        assert wait_for(lambda: len(processes_in(root)) == 2), "the hook's two sleeps never started"
    finally:
        rehearsal.kill()
        rehearsal.wait()
    assert wait_for(lambda: processes_in(root) == []), f"left running: {processes_in(root)}"
    assert mounts_below(root) == []


def wait_for(condition, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


PROBE = """#!/bin/bash
set -eu
out=/probe/$HELIOS_STEP
mkdir -p "$out"
for f in /helios/hooks/*; do echo "$(basename "$f") $(stat -c %a "$f")"; done >"$out/files"
env -0 | sort -z >"$out/env"
while read -r _ point _ options _; do echo "$point ${options%%,*}"; done </proc/self/mounts >"$out/mounts"
if [ -e /helios/packages.list ]; then cat /helios/packages.list >"$out/packages"; fi
if [ -e /helios/web/marker ]; then cat /helios/web/marker >"$out/web"; fi
"""


def test_each_exec_gets_the_plans_files_env_and_mounts_and_nothing_else(make_tree, tmp_path):
    tree = make_tree({"common/build/package.sh": PROBE, "distros/base/build/system.sh": PROBE})
    root = tiny_rootfs(tmp_path / "root")
    (root / "probe").mkdir()
    web = tmp_path / "web-out"
    web.mkdir()
    (web / "marker").write_text("step 1 output\n")
    kasm = runner_for(tree, root, tmp_path, Stage.KASM)
    plan = kasm.plan
    packages = write_package_list(plan, tmp_path / "packages.list")

    kasm.run(plan.step(8), {Feed.WEB_CLIENT: web})
    runner_for(tree, root, tmp_path, Stage.SYSTEM).run(plan.step(9), {Feed.PACKAGE_LIST: packages})

    for number, stage, feed in ((8, Stage.KASM, WEB_MOUNT), (9, Stage.SYSTEM, PACKAGES_MOUNT)):
        planned = plan.step(number)
        probe = root / "probe" / str(number)
        layout = run_layout(planned.runs[0])
        files = dict(line.rsplit(" ", 1) for line in (probe / "files").read_text().splitlines())
        assert files == {name: "755" if perms else "644" for name, (_, perms) in layout.items()}
        env = dict(item.split("=", 1) for item in (probe / "env").read_text().split("\0") if item)
        shell = {"PWD", "SHLVL", "_", "OLDPWD"}
        expected = {"HOME": "/root", "PATH": IMAGE_PATH, **planned.env}
        assert {k: v for k, v in env.items() if k not in shell} == expected
        mounts = dict(line.split() for line in (probe / "mounts").read_text().splitlines())
        assert mounts[HOOKS_MOUNT] == "ro"
        assert mounts[feed] == "ro"
        for path in cache_volumes(plan, stage):
            assert mounts[path] == "rw"
    assert (root / "probe/8/web").read_text() == "step 1 output\n"
    assert (root / "probe/9/packages").read_text() == packages.read_text()
    assert WEB_MOUNT not in (root / "probe/9/mounts").read_text()
    assert PACKAGES_MOUNT not in (root / "probe/8/mounts").read_text()
    assert mounts_below(root) == []


# --- the real build ------------------------------------------------------------------------------


def test_the_image_holds_the_runtime_of_steps_8_to_13(image_root: Path, built, results):
    for path in ("init", "command/s6-svscan", "usr/local/bin/Xvnc", "usr/local/bin/vncserver",
                 "usr/local/share/kasmvnc/www/index.html", "usr/local/share/kasmvnc/www/view-only/index.html",
                 "opt/helios/kclient/index.js", "opt/helios/node/bin/node", "opt/helios/kasmweb.version"):  # fmt: skip
        assert (image_root / path).exists(), f"{path} is missing from the image"
    installed = (image_root / PACKAGES_TXT.lstrip("/")).read_text().splitlines()
    names = {line.split()[0] for line in installed}
    assert set(built.plan.packages) <= names, f"not installed: {set(built.plan.packages) - names}"
    assert "virtualgl" not in names
    assert (image_root / "usr/share/themes/Orchis-Orange-Dark-Compact").is_dir()
    results.record("installed packages", len(installed))


def test_overlays_are_copied_last_and_the_distro_wins(image_root: Path, built):
    winner: dict[str, Path] = {}
    for overlay in (*built.plan.step(12).overlays, *built.plan.step(13).overlays):
        base = REPO / overlay.path
        for path in base.rglob("*"):
            if path.is_file() and not path.is_symlink():
                winner[str(path.relative_to(base))] = path
    assert winner
    for relative, source in winner.items():
        assert (image_root / relative).read_bytes() == source.read_bytes(), relative


def test_nothing_of_the_build_reaches_the_image(image_root: Path, results):
    for path in ("src", "helios", "usr/local/include/turbojpeg.h", "opt/helios/node/include", "root/.npm"):
        assert not (image_root / path).exists(), f"{path} leaked into the image"
    for path in ("var/cache/apt/archives", "var/lib/apt/lists"):
        assert not list((image_root / path).glob("*.deb")) and not list(
            (image_root / path).glob("*_Packages")
        )
    assert not shutil.which("cmake", path=str(image_root / "usr/bin"))
    assert not shutil.which("gcc", path=str(image_root / "usr/bin"))


def test_a_substitute_reaches_its_step_through_the_mirror_offline(make_tree, tmp_path):
    substitute = "5" * 64
    tree = make_tree(
        {
            "distros/base/build/kclient.sh": PROBE.replace(
                "set -eu\n", "set -eu\nls -R /helios/inputs >/probe/inputs\n"
            )
        }
    )
    root = tiny_rootfs(tmp_path / "root")
    (root / "probe").mkdir()
    mirror = tmp_path / "mirror"
    (mirror / "sha256").mkdir(parents=True)
    (mirror / "sha256" / substitute).write_text("not the pinned tarball\n")
    runner = runner_for(tree, root, tmp_path, Stage.KASM)
    runner.mirror = mirror
    runner.extra_env = {6: {"NODEJS_SHA256": substitute}}

    runner.run(runner.plan.step(6))

    env = dict(item.split("=", 1) for item in (root / "probe/6/env").read_text().split("\0") if item)
    assert env["NODEJS_SHA256"] == substitute
    assert env["HELIOS_INPUTS"] == "/helios/inputs"
    assert env["HELIOS_OFFLINE"] == "true"
    assert (root / "probe/inputs").read_text().split() == [
        "/helios/inputs:",
        "sha256",
        "/helios/inputs/sha256:",
        substitute,
    ]
    assert mounts_below(root) == []
    assert not (root / "helios").exists()
