"""What step 2 of the Debian family builds itself, where an archive lacks a library KasmVNC links.

- libcpuid: Debian 13 and Ubuntu build libcpuid-dev for x86 only, so on arm64 Debian's
  kasm.d/60-libcpuid.sh builds the pinned release static, and step 9 installs no runtime package
  for it (both ask the archive with apt_has_candidate). Run for real on arm64 in
  tests/rehearsal/test_arm64_packages.py.
- libwebp on Ubuntu 22.04: Xvnc links -lsharpyuv, which came with libwebp 1.3; jammy has 1.2.2, so
  jammy's kasm.d/60-libwebp.sh builds the pinned 1.5.0 static. jammy's libwebp-dev stays installed
  (libtiff-dev depends on it), so the X server's link must take the archives in /usr/local first.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.plan import Planner
from pipeline.tree import LocalTree
from tests.conftest import REPO

LIB = REPO / "common" / "build" / "lib.sh"
LIBCPUID = "distros/debian/build/kasm.d/60-libcpuid.sh"
LIBWEBP = "distros/jammy/build/kasm.d/60-libwebp.sh"
FAMILY = ["debian", "kali", "ubuntu", "jammy"]


@pytest.mark.real_versions
@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
@pytest.mark.parametrize("distro", FAMILY)
def test_every_debian_family_step_2_can_build_libcpuid_from_the_pin(distro: str, platform: str) -> None:
    step = Planner(LocalTree(REPO)).plan(distro, platform).step(2)
    assert LIBCPUID in [run.script.path for run in step.runs]
    assert re.fullmatch(r"[0-9a-f]{64}", step.env["LIBCPUID_SHA256"])
    assert step.env["LIBCPUID_VERSION"] and step.env["LIBCPUID_URL"]


def test_the_libcpuid_drop_in_asks_the_archive_then_builds_the_pin() -> None:
    words = (REPO / LIBCPUID).read_text().split()
    assert "apt_has_candidate" in words and "build_static_libcpuid" in words
    assert "libcpuid-dev" not in (REPO / "distros/debian/build/kasm.sh").read_text().split()


@pytest.mark.real_versions
@pytest.mark.parametrize("distro", FAMILY)
def test_only_jammy_builds_libwebp_with_sharpyuv(distro: str) -> None:
    step = Planner(LocalTree(REPO)).plan(distro, "linux/amd64").step(2)
    runs = [run.script.path for run in step.runs]
    if distro == "jammy":
        assert runs[-1] == LIBWEBP and "LIBWEBP_SHA256" in step.env
        assert "build_static_libwebp" in (REPO / LIBWEBP).read_text().split()
    else:
        assert LIBWEBP not in runs and "LIBWEBP_SHA256" not in step.env


def test_the_x_server_links_the_static_libraries_before_the_distros() -> None:
    """XORG_LDFLAGS (the X server's configure) and STATIC_LIBRARY_LDFLAGS (the check of each static
    build) are the same flags, and name /usr/local's library folders."""

    def constant(part: str, name: str) -> str:
        text = (REPO / "common/build/lib" / part).read_text()
        match = re.search(rf'^{name}="([^"]*)"$', text, re.M)
        assert match, f"{part} defines no {name}"
        return match.group(1)

    flags = constant("xorg.sh", "XORG_LDFLAGS")
    assert flags == constant("static.sh", "STATIC_LIBRARY_LDFLAGS") == "-L/usr/local/lib -L/usr/local/lib64"
    assert 'LDFLAGS="$XORG_LDFLAGS"' in (REPO / "common/build/lib/xorg.sh").read_text()


# A distro's libwebp.a and ours: one object each, told apart by the symbol they define.
ARCHIVE = """set -euo pipefail
mkdir -p "$1"
printf 'int %s(void) { return 0; }\\n' "$2" >"$1/webp.c"
cc -c -fPIC "$1/webp.c" -o "$1/webp.o"
ar rcs "$1/libwebp.a" "$1/webp.o"
"""


@pytest.fixture
def decoy(tmp_path: Path) -> dict[str, str]:
    """A libwebp.a that gcc finds before ld's own default folders, as jammy's libwebp-dev's is found
    before /usr/local/lib (gcc passes LIBRARY_PATH folders as -L, after the command line's)."""
    if shutil.which("cc") is None or shutil.which("ar") is None or shutil.which("pkg-config") is None:
        pytest.skip("needs cc, ar and pkg-config")
    distro = tmp_path / "distro-lib"
    subprocess.run(["bash", "-c", ARCHIVE, "x", str(distro), "distro_webp"], check=True)
    pc = tmp_path / "pc"
    pc.mkdir()
    (pc / "libwebp.pc").write_text(
        "prefix=/usr/local\nlibdir=${prefix}/lib\nName: libwebp\nDescription: x\nVersion: 1.5.0\n"
        "Libs: -L${libdir} -lwebp\n"
    )
    return {"LIBRARY_PATH": str(distro), "PKG_CONFIG_PATH": str(pc), "TMPDIR": str(tmp_path)}


def check_in_private_usr_local(setup: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a private /usr/local")
    script = (
        f"mount -t tmpfs helios-usr-local /usr/local\n{setup}\n"
        f'set -euo pipefail; source "{LIB}"; _static_library_check libwebp libwebp 1.5.0'
    )
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", script],
        env={**os.environ, "HELIOS_STEP": "2", **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_static_check_proves_the_link_takes_ours_over_a_distro_copy(decoy: dict[str, str]) -> None:
    ours = f"bash -c {shlex.quote(ARCHIVE)} x /usr/local/lib ours_webp"
    result = check_in_private_usr_local(ours, decoy)
    assert result.returncode == 0, result.stderr
    assert "the linker takes /usr/local/lib/libwebp.a" in result.stdout


def test_the_static_check_names_a_distro_copy_that_wins(decoy: dict[str, str]) -> None:
    result = check_in_private_usr_local("true", decoy)
    assert result.returncode == 1
    assert (
        f"[helios step 2] error: libwebp: -lwebp links {decoy['LIBRARY_PATH']}/libwebp.a, "
        "not the one built into /usr/local"
    ) in result.stderr
