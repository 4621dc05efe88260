"""Step 9's drop-in distros/debian/build/system.d/50-kasmvnc-libraries.sh.

It installs the runtime packages that step 2's -dev packages depend on. The real apt-cache of this
machine answers where it knows the packages; apt-get is a stand-in that records what it is asked
to install (installing for real would change this machine).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.plan import Planner
from pipeline.tree import LocalTree

REPO = Path(__file__).resolve().parent.parent
DROP_IN = REPO / "distros/debian/build/system.d/50-kasmvnc-libraries.sh"
LIB = REPO / "common/build/lib.sh"

APT_GET = """#!/bin/sh
echo "apt-get $*" >>"$STUB_LOG"
"""
# apt-cache's own output. `depends`: the package, then one indented "Depends: name" line a
# dependency; "E: No packages found" for a package the lists lack. `policy`: the package with its
# "Candidate:" line, and nothing at all (exit 0) for a package the lists lack for this architecture.
# MISSING names the packages this archive lacks (an arm64 archive lacks libcpuid-dev).
APT_CACHE = """#!/bin/sh
for last; do :; done
case " $MISSING " in
  *" $last "*)
    [ "$1" = policy ] || echo "E: No packages found" >&2
    exit 0 ;;
esac
case $1 in
  policy) printf '%s:\\n  Installed: (none)\\n  Candidate: 1.0-1\\n  Version table:\\n' "$last" ;;
  *) printf '%s\\n  Depends: %s\\n  Depends: libc6-dev\\n' "$last" "$(echo "$last" | sed 's/-dev$/42/')" ;;
esac
"""


def linked_dev_packages() -> list[str]:
    match = re.search(r"^LINKED_DEV_PACKAGES=\(([^)]*)\)", DROP_IN.read_text(), re.M)
    assert match, "the drop-in names its -dev packages in LINKED_DEV_PACKAGES=(...)"
    return match.group(1).split()


def run_drop_in(
    tmp_path: Path, stubs: dict[str, str], missing: str = ""
) -> tuple[subprocess.CompletedProcess[str], str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in stubs.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "stub.log"
    log.touch()
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HELIOS_LIB": str(LIB),
           "HELIOS_STEP": "9", "HELIOS_ARCH": "arm64", "STUB_LOG": str(log), "MISSING": missing}  # fmt: skip
    result = subprocess.run(["bash", str(DROP_IN)], env=env, capture_output=True, text=True, check=False)
    return result, log.read_text()


def test_it_covers_what_step_2_installs_for_xvnc_to_link() -> None:
    """Each -dev package is in step 2's list, or installed by one of its drop-ins."""
    step_2 = (REPO / "distros/debian/build/kasm.sh").read_text()
    drop_ins = "\n".join(path.read_text() for path in (REPO / "distros/debian/build/kasm.d").glob("*.sh"))
    for dev in linked_dev_packages():
        listed = re.search(rf"^\s+{re.escape(dev)} \\$", step_2, re.M)
        dropped_in = re.search(
            rf"apt-get install -y --no-install-recommends {re.escape(dev)}$", drop_ins, re.M
        )
        assert listed or dropped_in, f"{dev} is not installed by step 2"


def real_depends(dev: str) -> list[str]:
    """The library packages ``apt-cache show`` lists in DEV's Depends field (another apt view)."""
    shown = subprocess.run(["apt-cache", "show", "--no-all-versions", dev], capture_output=True, text=True)
    field = re.search(r"^Depends: (.*)$", shown.stdout, re.M)
    names = [part.split()[0] for part in field.group(1).split(",")] if field else []
    return [name for name in names if name.startswith("lib") and not name.endswith("-dev")]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("apt-cache") is None, reason="needs apt-cache (a Debian-family machine)")
def test_it_installs_the_runtime_libraries_this_archive_pairs_with_them(tmp_path: Path) -> None:
    known = [dev for dev in linked_dev_packages() if real_depends(dev)]
    if len(known) < len(linked_dev_packages()):
        pytest.skip("this machine's apt lists lack some of the -dev packages (run apt-get update)")
    result, log = run_drop_in(tmp_path, {"apt-get": APT_GET})
    assert result.returncode == 0, result.stderr
    installed = log.split("--no-install-recommends", 1)[1].split()
    expected = sorted({name for dev in known for name in real_depends(dev)})
    assert installed == expected
    assert all(not name.endswith("-dev") for name in installed)


def test_a_dev_package_the_archive_lacks_stops_the_step_naming_it(tmp_path: Path) -> None:
    result, log = run_drop_in(tmp_path, {"apt-get": APT_GET, "apt-cache": APT_CACHE}, missing="libyuv-dev")
    assert result.returncode != 0
    assert "[helios step 9] error: apt knows no library package that libyuv-dev depends on" in result.stderr
    assert "apt-get install" not in log


def test_libcpuid_an_archive_lacks_is_left_to_step_2s_static_build(tmp_path: Path) -> None:
    """Debian's arm64 archive has no libcpuid-dev: step 2 linked libcpuid static, so nothing of it
    is installed here, and every other library still is."""
    result, log = run_drop_in(tmp_path, {"apt-get": APT_GET, "apt-cache": APT_CACHE}, missing="libcpuid-dev")
    assert result.returncode == 0, result.stderr
    installed = log.split("--no-install-recommends", 1)[1].split()
    assert installed == sorted(
        dev.replace("-dev", "42") for dev in linked_dev_packages() if dev != "libcpuid-dev"
    )
    assert (
        "no libcpuid-dev for arm64 in the archive: step 2 linked it static" in result.stdout + result.stderr
    )


def test_only_libcpuid_may_be_missing(tmp_path: Path) -> None:
    result, _ = run_drop_in(tmp_path, {"apt-get": APT_GET, "apt-cache": APT_CACHE}, missing="libfmt-dev")
    assert result.returncode != 0
    assert "apt knows no library package that libfmt-dev depends on" in result.stderr


@pytest.mark.real_versions
@pytest.mark.parametrize("distro", ["debian", "kali", "ubuntu", "jammy"])
def test_every_debian_family_distro_runs_it_after_its_step_9(distro: str) -> None:
    step = Planner(LocalTree(REPO)).plan(distro, "linux/amd64").step(9)
    assert [run.script.path for run in step.runs][-1] == str(DROP_IN.relative_to(REPO))
