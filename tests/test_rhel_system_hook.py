"""Step 9 of the RHEL family (distros/rhel/build/system.sh): the VirtualGL switch and its errors.

The hook's ``virtualgl`` function runs for real under bash (sourced: ``main`` does not run), with
the Debian hook's curl and gpg stand-ins (tests/test_debian_system_hook.py says how they answer)
and these, which answer as the real tools do for the case at hand:

- dnf: ``makecache --repo R`` exits 1 with "Errors during downloading metadata for repository 'R'"
  when the repository cannot be reached; ``list --available --repo R NAME`` exits 1 with "Error: No
  matching Packages to list" when R has no NAME for this architecture; ``install`` succeeds.
- rpm: ``--import KEY`` records the key it was told to trust.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.test_debian_system_hook import (
    CURL,
    GPG,
    OTHER,
    PINNED,
    calls,
    error_line,
    run_hook_function,
    write_stubs,
)

REPO = Path(__file__).resolve().parent.parent
HOOK = REPO / "distros/rhel/build/system.sh"

DNF = r"""#!/bin/bash
echo "dnf $*" >>"$STUB_LOG"
case " $* " in
  *" makecache "*)
    if [[ ${STUB_DNF:-} == unreachable ]]; then
      echo "Errors during downloading metadata for repository 'helios-virtualgl':" >&2
      echo "  - Curl error (6): Couldn't resolve host name for https://packagecloud.io/..." >&2
      echo "Error: Failed to download metadata for repo 'helios-virtualgl'" >&2
      exit 1
    fi ;;
  *" list "*)
    if [[ ${STUB_DNF:-} == no-package ]]; then
      echo "Error: No matching Packages to list" >&2
      exit 1
    fi
    echo "Available Packages"
    echo "VirtualGL.x86_64  3.1.4-20250409  helios-virtualgl" ;;
  *" install "*) ;;
  *) echo "dnf stand-in: unexpected arguments $*" >&2; exit 2 ;;
esac
"""
RPM = '#!/bin/bash\necho "rpm $*" >>"$STUB_LOG"\n'


@pytest.fixture
def stubs(tmp_path: Path) -> Path:
    return write_stubs(tmp_path, {"curl": CURL, "gpg": GPG, "dnf": DNF, "rpm": RPM})


def run_virtualgl(tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The RHEL hook's VirtualGL function, its key and repository file under ``tmp``."""
    files = {"VGL_KEY": str(tmp / "RPM-GPG-KEY-VirtualGL"), "VGL_REPO": str(tmp / "helios-virtualgl.repo")}
    return run_hook_function(HOOK, "virtualgl", tmp, files | env)


def test_virtualgl_false_skips_it_without_touching_the_network(stubs: Path) -> None:
    result = run_virtualgl(stubs, HELIOS_VIRTUALGL="false")
    assert result.returncode == 0, result.stderr
    assert "VirtualGL skipped: the distro sets virtualgl = false" in result.stdout
    assert calls(stubs) == ""


def test_a_value_other_than_true_or_false_is_an_error(stubs: Path) -> None:
    result = run_virtualgl(stubs, HELIOS_VIRTUALGL="yes")
    assert result.returncode == 1
    assert "expected true or false" in error_line(result)


def test_an_unreachable_key_host_is_the_step_s_own_error_naming_the_repository(stubs: Path) -> None:
    result = run_virtualgl(stubs, STUB_CURL="unreachable")
    assert result.returncode == 1
    line = error_line(result)
    assert "the VirtualGL project key" in line and "curl exit 6" in line
    assert "packagecloud.io/dcommander/virtualgl" in line and "virtualgl = false" in line
    assert "dnf" not in calls(stubs)


def test_an_unreachable_repository_is_the_step_s_own_error_naming_it(stubs: Path) -> None:
    result = run_virtualgl(stubs, STUB_DNF="unreachable")
    assert result.returncode == 1
    line = error_line(result)
    assert "dnf could not read the VirtualGL repository https://packagecloud.io/dcommander/virtualgl" in line
    assert "virtualgl = false" in line
    assert "dnf install" not in calls(stubs)


def test_a_key_with_another_fingerprint_is_refused_before_rpm_trusts_it(stubs: Path) -> None:
    result = run_virtualgl(stubs, STUB_FPR=OTHER)
    assert result.returncode == 1
    assert OTHER in error_line(result) and PINNED in error_line(result)
    assert "rpm" not in calls(stubs) and "dnf" not in calls(stubs)


def test_the_package_is_installed_from_the_signed_repository_and_configured(stubs: Path) -> None:
    result = run_virtualgl(stubs)
    assert result.returncode == 0, result.stderr
    log = calls(stubs)
    assert f"rpm --import {stubs / 'RPM-GPG-KEY-VirtualGL'}" in log
    assert "dnf install -y --setopt=install_weak_deps=False VirtualGL" in log
    assert "vglserver_config +glx +s +f +t" in log
    assert not (stubs / "helios-virtualgl.repo").exists(), "the repository file stays in the image"


def test_an_arch_without_a_package_goes_on_without_vglrun(stubs: Path) -> None:
    result = run_virtualgl(stubs, STUB_DNF="no-package", HELIOS_ARCH="arm64")
    assert result.returncode == 0, result.stderr
    assert "no VirtualGL package for arm64" in result.stdout
    assert "dnf install" not in calls(stubs)
