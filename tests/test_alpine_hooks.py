"""Alpine builds the X server series KasmVNC's own Alpine builder uses, with what it links."""

from __future__ import annotations

import re
import shlex

import pytest

from pipeline.catalogue import Catalogue
from pipeline.packages import package_list
from pipeline.plan import Planner
from pipeline.tree import LocalTree
from tests.conftest import REPO

ALPINE_KASM = REPO / "distros" / "alpine" / "build" / "kasm.sh"


def catalogue() -> Catalogue:
    return Catalogue(LocalTree(REPO))


def apk_adds(script: str) -> list[str]:
    """The package names a script passes to `apk add` (continuation lines joined)."""
    names: list[str] = []
    for line in re.sub(r"\\\n", " ", script).splitlines():
        words = shlex.split(line, comments=True)
        if words[:2] == ["apk", "add"]:
            names += [word for word in words[2:] if not word.startswith("-")]
    return names


def test_alpine_builds_the_21_1_series_as_kasmvncs_alpine_builder_does() -> None:
    alpine, debian = catalogue().get("alpine"), catalogue().get("debian")
    assert alpine.xorg_version.startswith("21.1."), (
        "X server 1.20 on musl/GCC 14/Mesa 25 is built by no reference"
    )
    assert alpine.xorg_version == debian.xorg_version, "one 21.1 release for every distro that builds 21.1"


@pytest.mark.parametrize("name", ["debian", "kali", "ubuntu", "jammy", "rhel", "alma", "alpine"])
def test_an_x_server_21_image_carries_libxcvt(name: str) -> None:
    distro = catalogue().get(name)
    if not distro.xorg_version.startswith("21."):
        pytest.skip(f"{name} builds X server {distro.xorg_version}, which does not link libxcvt")
    packages = package_list((REPO / "common" / "packages.toml").read_text(), distro.packages)
    assert any(package.startswith("libxcvt") for package in packages), f"{name}: Xvnc 21.1 links libxcvt"


def test_alpine_step_2_has_the_headers_of_x_server_21() -> None:
    names = apk_adds(ALPINE_KASM.read_text())
    assert {"libxcvt-dev", "xorg-server-dev", "font-util-dev"} <= set(names)


def test_alpine_step_2_has_what_kasmvnc_1_5_cmakelists_requires() -> None:
    """pkg_check_modules(FFMPEG ...), (VIDEO_ACCELERATION libva libva-drm libdrm), (CPUID libcpuid),
    (FMT fmt), tbb and find_library(yuv) in KasmVNC v1.5.0's CMakeLists.txt files."""
    names = set(apk_adds(ALPINE_KASM.read_text()))
    needed = {"ffmpeg-dev", "libva-dev", "libdrm-dev", "fmt-dev", "onetbb-dev", "libyuv-dev"}
    assert needed <= names, f"missing: {sorted(needed - names)}"


ALPINE_LIBCPUID = REPO / "distros" / "alpine" / "build" / "kasm.d" / "60-libcpuid.sh"


@pytest.mark.real_versions
@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
def test_alpine_builds_libcpuid_from_the_pin_on_both_architectures(platform: str) -> None:
    """Alpine's libcpuid APKBUILD (community/libcpuid) builds for arch="x86 x86_64" only: aarch64 has
    no libcpuid-dev, so step 2 builds the pinned release on every architecture, and neither step 2 nor
    the image asks apk for libcpuid."""
    step = Planner(LocalTree(REPO)).plan("alpine", platform).step(2)
    assert [run.script.path for run in step.runs][-1] == str(ALPINE_LIBCPUID.relative_to(REPO))
    assert "build_static_libcpuid" in ALPINE_LIBCPUID.read_text().split()
    assert step.env["LIBCPUID_SHA256"] and step.env["LIBCPUID_VERSION"]
    assert not {"libcpuid", "libcpuid-dev"} & set(apk_adds(ALPINE_KASM.read_text()))
    assert "libcpuid" not in package_list((REPO / "common" / "packages.toml").read_text(), "alpine")


def test_alpine_step_2_names_the_x_macros_autoreconf_needs() -> None:
    """The X server's configure.ac calls XORG_MACROS_VERSION: step 5's autoreconf needs xorg-macros.m4."""
    assert "util-macros" in apk_adds(ALPINE_KASM.read_text())


def test_alpine_step_6_installs_the_libuv_headers_kclients_native_module_includes() -> None:
    """Alpine's nodejs is built --shared-libuv, so nodejs-dev has no uv.h; pulseaudio2's
    src/common.hh (kclient's native module) includes <uv.h>."""
    assert "libuv-dev" in apk_adds((REPO / "distros" / "alpine" / "build" / "kclient.sh").read_text())


# KasmVNC 1.5's Xvnc links these dynamically when step 2 installs the -dev package on the left
# (pkg-config's CPUID, FMT, TBB, VIDEO_ACCELERATION and find_library(yuv) in common/rfb): the
# image must carry the package on the right (Alpine 3.22: fmt in main, onetbb, libva, libyuv in
# main or community). libcpuid is linked static (kasm.d/60-libcpuid.sh).
ALPINE_DYNAMIC = {
    "fmt-dev": "fmt",
    "libva-dev": "libva",
    "libyuv-dev": "libyuv",
    "onetbb-dev": "onetbb",
}


def test_alpine_image_carries_what_xvnc_links_from_step_2() -> None:
    """ffmpeg is not here: KasmVNC loads it with dlopen, and the image's ffmpeg brings the libraries."""
    built_with = set(apk_adds(ALPINE_KASM.read_text()))
    packages = set(package_list((REPO / "common" / "packages.toml").read_text(), "alpine"))
    for dev, runtime in ALPINE_DYNAMIC.items():
        assert dev in built_with, f"step 2 no longer installs {dev}: update this table"
        assert runtime in packages, f"Xvnc links {runtime} (from {dev}), which the alpine list lacks"
    assert "ffmpeg" in packages
