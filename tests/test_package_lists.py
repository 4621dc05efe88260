"""The resolve scripts of the workflow's package-lists job (tests/package_lists.py).

The job runs them in every distro's base image on GitHub; here each is generated for every distro
and platform and checked by the shell that will run it (``bash -n``, or ``sh -n`` for Alpine's).
The Debian one runs for real in a trixie root filesystem in tests/rehearsal/test_package_lists.py.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from pipeline.catalogue import Catalogue
from pipeline.packages import package_list
from pipeline.tree import LocalTree
from tests.conftest import REPO
from tests.package_lists import resolve_script

DISTROS = sorted(Catalogue(LocalTree(REPO)).distros)
WORKFLOW = (REPO / ".github/workflows/ci.yml").read_text()
MANAGER = {"debian": "apt-get -s", "rhel": "dnf install --assumeno", "alpine": "apk add --simulate"}


@pytest.mark.real_versions
@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
@pytest.mark.parametrize("distro", DISTROS)
def test_every_distro_gets_a_script_its_shell_accepts(distro: str, platform: str) -> None:
    info = Catalogue(LocalTree(REPO)).get(distro)
    base, script = resolve_script(distro, platform)
    assert base == info.base
    shell = "sh" if info.family == "alpine" else "bash"
    assert script.startswith(f"#!/bin/{shell}\n"), "the job runs the script through its shebang"
    if shutil.which(shell):
        checked = subprocess.run([shell, "-n"], input=script, capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
    assert MANAGER[info.family] in script
    for name in package_list((REPO / "common/packages.toml").read_text(), info.packages):
        assert f" {name}" in script, f"{distro}: step 9's {name} is not resolved"


def test_the_workflow_resolves_every_distro_on_both_platforms() -> None:
    job = WORKFLOW.split("  package-lists:", 1)[1].split("\n  engine-tests:", 1)[0]
    matrix = job.split("distro: [", 1)[1].split("]", 1)[0].split(", ")
    assert sorted(matrix) == DISTROS
    assert "platform: [linux/amd64, linux/arm64]" in job
    assert "docker/setup-qemu-action" in job and "python -m tests.package_lists" in job
