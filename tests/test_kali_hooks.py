"""Kali rolling: CMake 3 in front of the distro's CMake 4 before KasmVNC is configured.

KasmVNC's CMakeLists.txt opens with cmake_minimum_required(VERSION 2.8) and
cmake_policy(SET CMP0022 OLD); CMake 4 (Kali rolling's) refuses both, and
CMAKE_POLICY_VERSION_MINIMUM covers only the first. The drop-in installs the pinned CMake 3.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tarfile
import tomllib
from pathlib import Path

import pytest

from pipeline.plan import Planner
from pipeline.tree import LocalTree
from tests.conftest import REPO

DROP_IN = REPO / "distros" / "kali" / "build" / "kasm.d" / "50-cmake3.sh"
LIB = REPO / "common" / "build" / "lib.sh"
CMAKE = tomllib.loads((REPO / "pipeline" / "versions.toml").read_text())["cmake"]


@pytest.mark.real_versions
@pytest.mark.parametrize(("platform", "arch"), [("linux/amd64", "amd64"), ("linux/arm64", "arm64")])
def test_kali_step_2_installs_the_pinned_cmake_3_before_steps_3_and_4(platform: str, arch: str) -> None:
    plan = Planner(LocalTree(REPO)).plan("kali", platform)
    step = plan.step(2)
    assert [run.script.path for run in step.runs] == [
        "distros/debian/build/kasm.sh",
        "distros/kali/build/kasm.d/50-cmake3.sh",
        "distros/debian/build/kasm.d/60-libcpuid.sh",  # builds with CMake 3 where it builds at all
    ]
    assert step.env["CMAKE_VERSION"].startswith("3.")
    assert step.env["CMAKE_URL"] == CMAKE["url"][arch]
    assert step.env["CMAKE_SHA256"] == CMAKE["sha256"][arch]
    assert ("linux-x86_64" if arch == "amd64" else "linux-aarch64") in step.env["CMAKE_URL"]


@pytest.mark.real_versions
@pytest.mark.parametrize("distro", ["debian", "ubuntu", "jammy"])
def test_only_kali_replaces_the_distro_cmake(distro: str) -> None:
    step = Planner(LocalTree(REPO)).plan(distro, "linux/amd64").step(2)
    assert not [run.script.path for run in step.runs if "cmake" in run.script.path]
    assert "CMAKE_URL" not in step.env


def fake_cmake_release(tmp_path: Path, reports: str) -> Path:
    """A release tarball like Kitware's: one top folder with bin/cmake, bin/ctest and bin/cpack."""
    top = tmp_path / "release" / "cmake-3.31.6-linux-x86_64"
    (top / "bin").mkdir(parents=True)
    for tool in ("cmake", "ctest", "cpack"):
        (top / "bin" / tool).write_text(f'#!/bin/sh\necho "{tool} version {reports}"\n')
        (top / "bin" / tool).chmod(0o755)
    tarball = tmp_path / "cmake.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(top, arcname=top.name)
    return tarball


def run_drop_in(tmp_path: Path, tarball: Path, **env: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "stubs"
    bin_dir.mkdir(exist_ok=True)
    # curl writes the release where -o says, as the real one does for lib.sh's download.
    (bin_dir / "curl").write_text(
        f'#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = -o ] && cp "{tarball}" "$2"; shift; done\n'
    )
    (bin_dir / "curl").chmod(0o755)
    return subprocess.run(
        ["bash", str(DROP_IN)],
        capture_output=True,
        text=True,
        env={
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "HELIOS_LIB": str(LIB),
            "HELIOS_STEP": "2",
            "TMPDIR": str(tmp_path),
            "CMAKE_DIR": str(tmp_path / "opt" / "cmake"),
            "BIN_DIR": str(tmp_path / "usr-local-bin"),
            "CMAKE_VERSION": "3.31.6",
            "CMAKE_URL": "https://example.org/cmake-3.31.6-linux-x86_64.tar.gz",
            "CMAKE_SHA256": hashlib.sha256(tarball.read_bytes()).hexdigest(),
            **env,
        },
        check=False,
    )


def test_the_drop_in_links_the_verified_cmake_ahead_of_the_distro_one(tmp_path: Path) -> None:
    result = run_drop_in(tmp_path, fake_cmake_release(tmp_path, "3.31.6"))
    assert result.returncode == 0, result.stdout + result.stderr
    for tool in ("cmake", "ctest", "cpack"):
        link = tmp_path / "usr-local-bin" / tool
        assert link.resolve() == (tmp_path / "opt" / "cmake" / "bin" / tool).resolve()
    version = subprocess.run(
        [tmp_path / "usr-local-bin" / "cmake", "--version"], capture_output=True, text=True
    )
    assert version.stdout.strip() == "cmake version 3.31.6"


def test_the_drop_in_refuses_a_release_that_does_not_match_its_pin(tmp_path: Path) -> None:
    result = run_drop_in(tmp_path, fake_cmake_release(tmp_path, "3.31.6"), CMAKE_SHA256="0" * 64)
    assert result.returncode == 1
    assert "checksum mismatch" in result.stderr
    assert not (tmp_path / "usr-local-bin" / "cmake").exists()


def test_the_drop_in_refuses_a_cmake_4_pin(tmp_path: Path) -> None:
    result = run_drop_in(tmp_path, fake_cmake_release(tmp_path, "4.1.0"), CMAKE_VERSION="4.1.0")
    assert result.returncode == 1
    assert "needs CMake 3" in result.stderr


def test_the_drop_in_checks_what_the_unpacked_cmake_reports(tmp_path: Path) -> None:
    result = run_drop_in(tmp_path, fake_cmake_release(tmp_path, "3.22.0"))
    assert result.returncode == 1
    assert "reports 'cmake version 3.22.0', expected 3.31.6" in result.stderr
