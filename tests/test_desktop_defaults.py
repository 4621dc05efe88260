"""Desktop defaults that span hooks and overlay: man pages, icon theme, terminal font.

- Step 8 (common/build/package.sh) unpacks KasmVNC's server tarball. Its layout is that of KasmVNC
  v1.5.0's release/maketarball.in: Xvnc's pages in usr/local/man, and the pages KasmVNC's CMake
  installs (MAN_DIR = share/man: vncserver, vncpasswd, vncconfig, kasmxproxy) in
  usr/local/share/man. The stand-in `make servertarball` below builds exactly that tarball.
- The icon theme is named once, in xsettings.xml; no hook links or renames icon themes. Whether
  the Debian family's icon package really ships that theme is checked against the archive in
  tests/test_debian_packages.py.
- The terminal font is the Cascadia Code that step 10 installs, for xfce4-terminal 1.1+ (xfconf)
  and 0.8 (terminalrc, Ubuntu 22.04).
"""

from __future__ import annotations

import configparser
import re
import subprocess
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
XFCONF = REPO / "common/root/etc/xdg/xfce4/xfconf/xfce-perchannel-xml"
TERMINALRC = REPO / "common/root/etc/xdg/xfce4/terminal/terminalrc"

MAKE = """#!/bin/bash
# make servertarball, as KasmVNC's release/maketarball does it: a tarball of the install tree.
[[ $1 == servertarball ]] || { echo "make: *** No rule to make target '$1'." >&2; exit 2; }
inst=$(mktemp -d)
mkdir -p "$inst/usr/local/bin" "$inst/usr/local/man/man1" "$inst/usr/local/share/man/man1" \\
  "$inst/usr/local/share/doc/kasmvnc-0.9" "$inst/usr/local/share/kasmvnc/www"
touch "$inst/usr/local/bin/Xvnc" "$inst/usr/local/man/man1/Xvnc.1" "$inst/usr/local/man/man1/Xserver.1" \\
  "$inst/usr/local/share/man/man1/vncserver.1" "$inst/usr/local/share/man/man1/vncpasswd.1" \\
  "$inst/usr/local/share/doc/kasmvnc-0.9/LICENSE.TXT" "$inst/usr/local/share/kasmvnc/www/index.html"
tar -C "$inst" -czf kasmvnc-Linux-x86_64-0.9.tar.gz .
"""


def test_step_8_ships_no_man_pages_from_either_place_kasmvnc_puts_them(tmp_path: Path) -> None:
    bin_dir, src, out = tmp_path / "bin", tmp_path / "src", tmp_path / "out"
    for folder in (bin_dir, src, out):
        folder.mkdir()
    (bin_dir / "make").write_text(MAKE)
    (bin_dir / "make").chmod(0o755)
    result = subprocess.run(
        ["bash", "-c", 'source "$1" && server_tarball', "step8-test", str(REPO / "common/build/package.sh")],
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "HELIOS_LIB": str(REPO / "common/build/lib.sh"),
            "HELIOS_STEP": "8",
            "SRC_DIR": str(src),
            "HELIOS_OUT": str(out),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    pages = sorted(str(p.relative_to(out)) for p in out.rglob("*.1"))
    assert pages == [], f"man pages reached the rootfs: {pages}"
    assert (out / "usr/local/bin/Xvnc").exists()
    assert (out / "usr/local/share/doc/kasmvnc-0.9/LICENSE.TXT").exists()  # the licence stays


def xsettings(name: str) -> str:
    root = ET.parse(XFCONF / "xsettings.xml").getroot()
    return next(p.get("value", "") for p in root.iter("property") if p.get("name") == name)


def test_the_icon_theme_is_named_once_and_no_hook_renames_one() -> None:
    theme = xsettings("IconThemeName")
    assert theme == "elementary-xfce-dark"
    hooks = [*REPO.glob("distros/*/build/**/*.sh"), *REPO.glob("common/build/*.sh")]
    linking = [
        str(h.relative_to(REPO))
        for h in hooks
        if re.search(r"ln\s.*share/icons|icons/elementary", h.read_text())
    ]
    assert linking == [], f"hooks that link or rename icon themes: {linking}"


def test_the_terminal_uses_the_cascadia_code_font_that_step_10_installs() -> None:
    step10 = (REPO / "common/build/system.sh").read_text()
    assert "cascadia_code" in step10 and "fonts/cascadia-code" in step10
    channel = ET.parse(XFCONF / "xfce4-terminal.xml").getroot()
    props = {p.get("name"): p.get("value") for p in channel.iter("property")}
    assert channel.get("name") == "xfce4-terminal"
    assert props["font-use-system"] == "false"
    assert props["font-name"].startswith("Cascadia Code ")
    rc = configparser.ConfigParser(interpolation=None)
    rc.optionxform = str  # type: ignore[assignment,method-assign]
    rc.read_string(TERMINALRC.read_text())
    assert rc["Configuration"]["FontUseSystem"] == "FALSE"
    assert rc["Configuration"]["FontName"] == props["font-name"]


def test_the_server_tarball_really_unpacks_as_the_stand_in_says(tmp_path: Path) -> None:
    """Guard the stand-in: its tarball holds both man folders, so the test above can fail."""
    (tmp_path / "make").write_text(MAKE)
    subprocess.run(["bash", str(tmp_path / "make"), "servertarball"], cwd=tmp_path, check=True)
    with tarfile.open(tmp_path / "kasmvnc-Linux-x86_64-0.9.tar.gz") as tar:
        names = tar.getnames()
    assert "./usr/local/man/man1/Xvnc.1" in names and "./usr/local/share/man/man1/vncserver.1" in names
