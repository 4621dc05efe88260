"""Step 2's static builds of what a distro lacks (build_static_library in the hook library).

The RHEL drop-in distros/rhel/build/kasm.d/50-kasmvnc-libraries.sh is run for real here: libwebp
from the pinned release tarball (the identical file Debian ships as libwebp_1.5.0.orig.tar.gz,
fetched with apt from this machine's Debian archive), with cmake, cc and pkgconf of this machine,
in a private mount namespace whose /usr/local is a fresh tmpfs. EL9's pkgconf, which never looks
in /usr/local, is played by a wrapper around the real pkgconf that has EL9's default search path
(its compiled-in /usr/lib64/pkgconfig:/usr/share/pkgconfig, here under a temporary folder).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.network, pytest.mark.slow]

LIB = REPO / "common" / "build" / "lib.sh"
DROP_IN = REPO / "distros" / "rhel" / "build" / "kasm.d" / "50-kasmvnc-libraries.sh"
VERSIONS = tomllib.loads((REPO / "pipeline" / "versions.toml").read_text())
WEBP = VERSIONS["libwebp"]
WEBP_DEBIAN_VERSION = "1.5.0-0.1"  # trixie's libwebp, whose .orig.tar.gz is the upstream release

# EL9's pkgconf: the default search path is compiled in (pkgconf.spec: %{_libdir}/pkgconfig and
# %{_datadir}/pkgconfig); `--variable pc_path pkg-config` reports it, PKG_CONFIG_LIBDIR replaces it.
EL9_PKGCONF = """#!/bin/bash
if [[ "$*" == "--variable pc_path pkg-config" ]]; then
  echo "$EL9_PC_PATH"
  exit 0
fi
PKG_CONFIG_LIBDIR=$EL9_PC_PATH exec {pkgconf} "$@"
"""

# A CMake project that installs a static libcpuid.a and libcpuid.pc, standing in for libcpuid
# (whose pinned archive this machine cannot fetch: Debian repacks that release).
FAKE_CPUID_CMAKE = """cmake_minimum_required(VERSION 3.13)
project(cpuid VERSION 0.8.1 LANGUAGES C)
include(GNUInstallDirs)
file(WRITE ${CMAKE_BINARY_DIR}/cpuid.c "int cpuid_present(void) { return 1; }\\n")
add_library(cpuid ${CMAKE_BINARY_DIR}/cpuid.c)
install(TARGETS cpuid ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
file(WRITE ${CMAKE_BINARY_DIR}/libcpuid.pc "prefix=${CMAKE_INSTALL_PREFIX}
libdir=${CMAKE_INSTALL_FULL_LIBDIR}
Name: libcpuid
Description: stand-in
Version: ${PROJECT_VERSION}
Libs: -L${CMAKE_INSTALL_FULL_LIBDIR} -lcpuid
")
install(FILES ${CMAKE_BINARY_DIR}/libcpuid.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
"""

# What the test checks inside the namespace, after the drop-in: KasmVNC's way of linking webp.
CHECKS = r"""
set -euo pipefail
bash "$DROP_IN"
echo "webp=$(pkg-config --modversion libwebp) sharpyuv=$(pkg-config --modversion libsharpyuv) cpuid=$(pkg-config --modversion libcpuid)"
ls "$EL9_LIB64_PC"
cat >"$WORK/probe.c" <<'C'
#include <webp/encode.h>
#include <webp/sharpyuv/sharpyuv.h>
int main(void) { return WebPGetEncoderVersion() > 0 && SharpYuvGetVersion() > 0 ? 0 : 1; }
C
cc "$WORK/probe.c" -o "$WORK/probe" -Wl,-Bstatic -lwebp -lsharpyuv -Wl,-Bdynamic -lm -lpthread
"$WORK/probe" && echo "probe ran"
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def debian_archive() -> str:
    """The Debian archive URI of this machine's apt configuration, or skip saying why."""
    if shutil.which("apt-get") is None:
        pytest.skip("apt-get is not installed: the libwebp release comes from the Debian archive")
    out = subprocess.run(
        ["apt-get", "indextargets", "--format", "$(ORIGIN)|$(REPO_URI)"], capture_output=True, text=True
    ).stdout
    for line in out.splitlines():
        origin, _, uri = line.partition("|")
        if origin == "Debian" and "security" not in uri:
            return uri
    pytest.skip("this machine's apt configuration names no Debian archive (run apt-get update)")


@pytest.fixture(scope="module")
def webp_tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pinned libwebp release, as Debian ships it (checked against the pinned sha256)."""
    uri = debian_archive()
    root = tmp_path_factory.mktemp("apt")
    for sub in ("lists/partial", "cache/archives/partial", "src"):
        (root / sub).mkdir(parents=True)
    (root / "sources.list").write_text(
        f"deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {uri} trixie main\n"
    )
    (root / "apt.conf").write_text(
        f'Dir::Etc::SourceList "{root}/sources.list";\nDir::Etc::SourceParts "{root}/none";\n'
        f'Dir::State::Lists "{root}/lists";\nDir::Cache "{root}/cache";\n'
    )
    env = {**os.environ, "APT_CONFIG": str(root / "apt.conf")}
    for args in (["update"], ["source", "--download-only", f"libwebp={WEBP_DEBIAN_VERSION}"]):
        done = subprocess.run(
            ["apt-get", "-q", *args], cwd=root / "src", env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            pytest.skip(
                f"apt-get {args[0]} failed, so no libwebp release to build: {done.stderr.strip()[-300:]}"
            )
    tarball = root / "src" / f"libwebp_{WEBP['version']}.orig.tar.gz"
    assert sha256(tarball) == WEBP["sha256"], "Debian's orig tarball is no longer the pinned release"
    return tarball


def fake_cpuid(tmp: Path) -> Path:
    src = tmp / "cpuid-src" / "libcpuid-0.8.1"
    src.mkdir(parents=True)
    (src / "CMakeLists.txt").write_text(FAKE_CPUID_CMAKE)
    tarball = tmp / "libcpuid.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(src, arcname="libcpuid-0.8.1")
    return tarball


def el9_pkgconf(tmp: Path) -> dict[str, str]:
    """PATH and env under which `pkg-config` behaves as EL9's pkgconf does."""
    pkgconf = shutil.which("pkgconf")
    if pkgconf is None:
        pytest.skip("pkgconf is not installed")
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "pkg-config"
    wrapper.write_text(EL9_PKGCONF.replace("{pkgconf}", pkgconf))
    wrapper.chmod(0o755)
    lib64_pc = tmp / "el9" / "usr" / "lib64" / "pkgconfig"
    return {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "EL9_PC_PATH": f"{lib64_pc}:{tmp / 'el9' / 'usr' / 'share' / 'pkgconfig'}",
        "EL9_LIB64_PC": str(lib64_pc),
    }


def in_private_usr_local(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with a fresh tmpfs on /usr/local, seen by nothing outside."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a private /usr/local (the build installs there)")
    wrapped = f"mount -t tmpfs helios-usr-local /usr/local\n{script}"
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", wrapped],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def test_rhel_drop_in_builds_webp_and_cpuid_that_el9_pkgconf_and_the_linker_find(
    tmp_path: Path, webp_tarball: Path
) -> None:
    mirror = tmp_path / "mirror" / "sha256"
    mirror.mkdir(parents=True)
    shutil.copy(webp_tarball, mirror / WEBP["sha256"])
    cpuid = fake_cpuid(tmp_path)
    shutil.copy(cpuid, mirror / sha256(cpuid))
    env = {
        **os.environ,
        **el9_pkgconf(tmp_path),
        "HELIOS_LIB": str(LIB), "HELIOS_STEP": "2", "DROP_IN": str(DROP_IN), "WORK": str(tmp_path),
        "HELIOS_INPUTS": str(tmp_path / "mirror"), "HELIOS_OFFLINE": "true", "TMPDIR": str(tmp_path),
        "LIBWEBP_VERSION": WEBP["version"], "LIBWEBP_URL": WEBP["url"], "LIBWEBP_SHA256": WEBP["sha256"],
        "LIBCPUID_VERSION": "0.8.1", "LIBCPUID_URL": "https://example.invalid/libcpuid-0.8.1.tar.gz",
        "LIBCPUID_SHA256": sha256(cpuid),
    }  # fmt: skip
    result = in_private_usr_local(CHECKS, env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "webp=1.5.0 sharpyuv=1.5.0 cpuid=0.8.1" in result.stdout
    assert {"libwebp.pc", "libsharpyuv.pc", "libcpuid.pc"} <= set(result.stdout.split())
    assert "probe ran" in result.stdout
    assert not (tmp_path / "helios-libwebp").exists(), "the build tree is left behind"


def run_lib(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f'set -euo pipefail; source "{LIB}"; {code}'],
        env={**os.environ, "HELIOS_STEP": "2", **env}, capture_output=True, text=True,
    )  # fmt: skip


def test_pkgconfig_expose_links_into_el9_default_path_and_refuses_a_distro_copy(tmp_path: Path) -> None:
    env = el9_pkgconf(tmp_path)
    installed = tmp_path / "usr-local" / "lib64" / "pkgconfig" / "libwebp.pc"
    installed.parent.mkdir(parents=True)
    installed.write_text("Name: libwebp\nDescription: x\nVersion: 1.5.0\n")
    manifest = tmp_path / "install_manifest.txt"
    manifest.write_text(f"{tmp_path}/usr-local/lib64/libwebp.a\n{installed}\n")
    result = run_lib(f'_pkgconfig_expose "{manifest}"; pkg-config --modversion libwebp', env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "1.5.0"
    link = Path(env["EL9_LIB64_PC"]) / "libwebp.pc"
    assert link.is_symlink() and link.resolve() == installed.resolve()

    link.unlink()
    link.write_text("Name: libwebp\nDescription: EL9's own\nVersion: 1.2.0\n")  # libwebp-devel's
    result = run_lib(f'_pkgconfig_expose "{manifest}"', env)
    assert result.returncode == 1
    assert f"[helios step 2] error: {link} already exists" in result.stderr
    assert "remove that -devel package from step 2" in result.stderr


def test_static_library_check_names_a_wrong_version(tmp_path: Path) -> None:
    pc_dir = tmp_path / "pc"
    pc_dir.mkdir()
    (pc_dir / "libcpuid.pc").write_text("Name: libcpuid\nDescription: x\nVersion: 0.6.3\nLibs: -lcpuid\n")
    result = run_lib("_static_library_check libcpuid libcpuid 0.8.1", {"PKG_CONFIG_PATH": str(pc_dir)})
    assert result.returncode == 1
    assert "libcpuid: pkg-config reports libcpuid 0.6.3, expected 0.8.1" in result.stderr


def test_build_static_library_needs_the_pinned_section(tmp_path: Path) -> None:
    result = run_lib("build_static_library libcpuid libcpuid", {"TMPDIR": str(tmp_path)})
    assert result.returncode == 1
    assert "LIBCPUID_VERSION is not set" in result.stderr
