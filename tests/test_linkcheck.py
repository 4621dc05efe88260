"""Step 11's shared-library check, run for real on programs built here."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.linkcheck import link_check_script

pytestmark = pytest.mark.skipif(
    shutil.which("cc") is None or shutil.which("ldd") is None, reason="needs a C compiler and ldd"
)


def build_program(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A program linking a library of its own; returns (program, library)."""
    (tmp_path / "lib.c").write_text("int helios_answer(void) { return 42; }\n")
    (tmp_path / "main.c").write_text(
        "int helios_answer(void);\nint main(void) { return helios_answer() != 42; }\n"
    )
    library = tmp_path / "libheliosprobe.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", library, tmp_path / "lib.c"], check=True)
    program = tmp_path / name
    subprocess.run(
        [
            "cc",
            "-o",
            program,
            tmp_path / "main.c",
            f"-L{tmp_path}",
            "-lheliosprobe",
            f"-Wl,-rpath,{tmp_path}",
        ],
        check=True,
    )
    return program, library


def run_check(programs: tuple[str, ...], modules: Path) -> subprocess.CompletedProcess[str]:
    script = link_check_script(programs, str(modules))
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)


def test_a_program_that_finds_its_libraries_passes(tmp_path: Path) -> None:
    program, _ = build_program(tmp_path, "Xvnc")
    result = run_check((str(program), str(tmp_path / "absent")), tmp_path / "kclient")
    assert result.returncode == 0, result.stderr
    assert "every packed program finds its shared libraries" in result.stdout


def test_a_missing_library_fails_naming_program_and_library(tmp_path: Path) -> None:
    program, library = build_program(tmp_path, "Xvnc")
    library.unlink()
    result = run_check((str(program),), tmp_path / "kclient")
    assert result.returncode == 1
    assert f"{program}: libheliosprobe.so" in result.stderr
    assert "common/packages.toml" in result.stderr


def test_native_node_modules_are_checked_too(tmp_path: Path) -> None:
    program, library = build_program(tmp_path, "probe")
    modules = tmp_path / "kclient" / "node_modules" / "pulseaudio2" / "build"
    modules.mkdir(parents=True)
    native = modules / "pulse.node"
    shutil.copy(program, native)
    library.unlink()
    result = run_check((), tmp_path / "kclient")
    assert result.returncode == 1
    assert f"{native}: libheliosprobe.so" in result.stderr
