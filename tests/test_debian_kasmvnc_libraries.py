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
# apt-cache depends' own output: the package, then one indented "Depends: name" line a dependency.
APT_CACHE_WITHOUT_YUV = """#!/bin/sh
for last; do :; done
case $last in
  libyuv-dev) echo "E: No packages found" >&2; exit 0 ;;
  *) printf '%s\\n  Depends: %s\\n  Depends: libc6-dev\\n' "$last" "$(echo "$last" | sed 's/-dev$/42/')" ;;
esac
"""


def linked_dev_packages() -> list[str]:
    match = re.search(r"^LINKED_DEV_PACKAGES=\(([^)]*)\)", DROP_IN.read_text(), re.M)
    assert match, "the drop-in names its -dev packages in LINKED_DEV_PACKAGES=(...)"
    return match.group(1).split()


def run_drop_in(tmp_path: Path, stubs: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in stubs.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "stub.log"
    log.touch()
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HELIOS_LIB": str(LIB),
           "HELIOS_STEP": "9", "STUB_LOG": str(log)}  # fmt: skip
    result = subprocess.run(["bash", str(DROP_IN)], env=env, capture_output=True, text=True, check=False)
    return result, log.read_text()


def test_it_covers_what_step_2_installs_for_xvnc_to_link() -> None:
    step_2 = (REPO / "distros/debian/build/kasm.sh").read_text()
    for dev in linked_dev_packages():
        assert re.search(rf"^\s+{re.escape(dev)} \\$", step_2, re.M), f"{dev} is not installed by step 2"


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
    result, log = run_drop_in(tmp_path, {"apt-get": APT_GET, "apt-cache": APT_CACHE_WITHOUT_YUV})
    assert result.returncode != 0
    assert "[helios step 9] error: apt knows no library package that libyuv-dev depends on" in result.stderr
    assert "apt-get install" not in log


@pytest.mark.real_versions
@pytest.mark.parametrize("distro", ["debian", "kali", "ubuntu", "jammy"])
def test_every_debian_family_distro_runs_it_after_its_step_9(distro: str) -> None:
    step = Planner(LocalTree(REPO)).plan(distro, "linux/amd64").step(9)
    assert [run.script.path for run in step.runs][-1] == str(DROP_IN.relative_to(REPO))
