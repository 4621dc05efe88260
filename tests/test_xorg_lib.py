"""The X server part of the hook library (common/build/lib.sh): autotools input and compiler flags.

The macros test runs the real autoconf where it is installed: it is what stops on EL9, where no
repository ships font-util's fontutil.m4.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "common" / "build" / "lib.sh"

# The shape of a release's aclocal.m4: aclocal copies each system macro file in whole, first line
# included, one after the other. These stand-in macros are ours; the layout is aclocal's.
FONTUTIL = (
    "dnl fontutil.m4.  Generated from fontutil.m4.in by configure.\n"
    "m4_defun([XORG_FONT_MACROS_VERSION],[m4_define([vers_have],[1.4.1])])\n"
    "AC_DEFUN([XORG_FONTROOTDIR],[AC_SUBST([FONTROOTDIR],[/usr/share/fonts/X11])])\n"
    "AC_DEFUN([XORG_FONTSUBDIR],[AC_SUBST([$1],[$FONTROOTDIR/$3])])\n"
    "AC_DEFUN([XORG_FONTDIR],[XORG_FONTSUBDIR([FONTDIR], [fontdir], [$1])])\n"
)
ACLOCAL = (
    "# generated automatically by aclocal\n"
    + FONTUTIL
    + "# pkg.m4 - Macros to locate and use pkg-config.\nAC_DEFUN([PKG_PROG_PKG_CONFIG],[])\n"
)
CONFIGURE_AC = """AC_INIT([probe], [1.0])
m4_ifndef([XORG_FONT_MACROS_VERSION], [m4_fatal([must install font-util 1.1 or later before running autoconf/autogen])])
XORG_FONT_MACROS_VERSION(1.1)
XORG_FONTROOTDIR
XORG_FONTSUBDIR(FONTMISCDIR, fontmiscdir, misc)
AC_OUTPUT
"""


def run_lib(code: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f'set -euo pipefail; source "{LIB}"; {code}'],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "HELIOS_STEP": "5", **(env or {})},
        check=False,
    )


def test_font_macros_come_from_the_release_aclocal(tmp_path: Path) -> None:
    (tmp_path / "aclocal.m4").write_text(ACLOCAL)
    result = run_lib('_xorg_font_macros "$PWD"', tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "m4" / "fontutil.m4").read_text() == FONTUTIL
    # autoreconf then rewrites aclocal.m4 to include m4/fontutil.m4: a second configure keeps it.
    (tmp_path / "aclocal.m4").write_text("m4_include([m4/fontutil.m4])\n")
    again = run_lib('_xorg_font_macros "$PWD"', tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "m4" / "fontutil.m4").read_text() == FONTUTIL


def test_a_tree_without_the_macros_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "aclocal.m4").write_text(
        "# generated automatically by aclocal\nAC_DEFUN([PKG_PROG_PKG_CONFIG],[])\n"
    )
    result = run_lib('_xorg_font_macros "$PWD"', tmp_path)
    assert result.returncode == 1
    assert "[helios step 5] error:" in result.stderr and "fontutil.m4" in result.stderr
    missing = run_lib('_xorg_font_macros "$PWD/nowhere"', tmp_path)
    assert missing.returncode == 1 and "aclocal.m4 is missing" in missing.stderr


@pytest.mark.skipif(
    shutil.which("aclocal") is None or shutil.which("autoconf") is None,
    reason="autoconf and automake are not installed (apt-get install autoconf automake)",
)
def test_autotools_need_no_system_font_util_with_them(tmp_path: Path) -> None:
    """What autoreconf does with an X server tree: aclocal -I m4 regenerates aclocal.m4, then autoconf."""
    (tmp_path / "configure.ac").write_text(CONFIGURE_AC)
    (tmp_path / "m4").mkdir()

    def autotools() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", "-c", "aclocal --force -I m4 && autoconf --force"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )

    system_dir = subprocess.run(["aclocal", "--print-ac-dir"], capture_output=True, text=True, check=True)
    if not (Path(system_dir.stdout.strip()) / "fontutil.m4").exists():  # as on EL9
        without = autotools()
        assert without.returncode != 0 and "must install font-util" in without.stderr
    (tmp_path / "aclocal.m4").write_text(ACLOCAL)
    assert run_lib('_xorg_font_macros "$PWD"', tmp_path).returncode == 0
    with_macros = autotools()
    assert with_macros.returncode == 0, with_macros.stderr
    configured = subprocess.run(
        ["sh", "./configure"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert configured.returncode == 0, configured.stdout + configured.stderr


def test_the_x_server_is_compiled_as_c17_whatever_the_compiler_defaults_to(tmp_path: Path) -> None:
    """GCC 15 (Kali rolling, Debian testing) defaults to C23, where bool and true are keywords."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "autoreconf").write_text("#!/bin/sh\n:\n")
    (bin_dir / "autoreconf").chmod(0o755)
    (tmp_path / "aclocal.m4").write_text(ACLOCAL)
    (tmp_path / "configure").write_text('#!/bin/sh\nprintf "%s\\n" "$@" >configure.args\n')
    (tmp_path / "configure").chmod(0o755)
    result = run_lib("_xorg_configure 21.1.16", tmp_path, env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert result.returncode == 0, result.stderr
    cflags = [
        arg for arg in (tmp_path / "configure.args").read_text().splitlines() if arg.startswith("CFLAGS=")
    ]
    assert len(cflags) == 1
    standards = [flag for flag in cflags[0].removeprefix("CFLAGS=").split() if flag.startswith("-std=")]
    assert standards == ["-std=gnu17"]
