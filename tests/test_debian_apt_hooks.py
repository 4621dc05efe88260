"""Steps 2 and 9 of the Debian family: a pinned archive snapshot before the first apt-get, and no icon
cache that cannot come out the same twice.

The hooks run for real under bash with their apt folder in a temporary directory (APT_ETC) and an
apt-get stand-in on PATH that records each call and, at ``update``, the sources apt would read.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.apt_sources import DEBIAN_AT_SNAPSHOT, DEBIAN_SOURCES, SNAPSHOT

REPO = Path(__file__).resolve().parents[1]
LIB = REPO / "common/build/lib.sh"
APT_GET = """#!/bin/bash
echo "apt-get $*" >>"$STUB_LOG"
if [[ $1 == update ]]; then cat "$APT_ETC"/sources.list.d/*.sources >>"$STUB_LOG"; fi
"""


def stubbed(tmp_path: Path) -> dict[str, str]:
    """The environment of a hook run: apt-get stand-in first on PATH, the apt folder in tmp_path."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/apt-get").write_text(APT_GET)
    (tmp_path / "bin/apt-get").chmod(0o755)
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list.d/debian.sources").write_text(DEBIAN_SOURCES)
    (tmp_path / "packages.list").write_text("xfce4\n")
    return {
        "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
        "HELIOS_LIB": str(LIB),
        "APT_ETC": str(etc),
        "STUB_LOG": str(tmp_path / "calls.log"),
        "HELIOS_PACKAGES": str(tmp_path / "packages.list"),
        "HELIOS_SNAPSHOT": SNAPSHOT,
    }


def run(code: str, hook: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", code, "hook-test", str(REPO / hook)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_step_9_installs_from_the_snapshot(tmp_path):
    env = stubbed(tmp_path) | {"HELIOS_STEP": "9"}
    result = run('source "$1" && runtime_packages', "distros/debian/build/system.sh", env)
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls.log").read_text()
    assert calls.startswith("apt-get update\n" + DEBIAN_AT_SNAPSHOT), calls
    assert "apt-get install -y --no-install-recommends xfce4" in calls


def test_step_2_reads_the_snapshot_sources_and_their_source_packages(tmp_path):
    env = stubbed(tmp_path) | {"HELIOS_STEP": "2"}
    result = run('"$1"', "distros/debian/build/kasm.sh", env)
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls.log").read_text()
    update = calls.split("apt-get update\n", 1)[1]
    assert update.startswith(DEBIAN_AT_SNAPSHOT.replace("Types: deb\n", "Types: deb deb-src\n"))
    assert "apt-get build-dep -y xorg-server libxfont-dev" in calls


def test_an_icon_theme_that_links_into_itself_keeps_no_cache(tmp_path):
    icons = tmp_path / "icons"
    looping, plain = icons / "elementary-xfce-hidpi", icons / "elementary-xfce"
    for theme in (looping, plain):
        (theme / "status/16").mkdir(parents=True)
        (theme / "icon-theme.cache").write_text("cache")
        (theme / "status@2x").symlink_to("status")  # a link to a sibling is no loop
    (looping / "status/status").symlink_to(".")
    env = {"PATH": os.environ["PATH"], "HELIOS_LIB": str(LIB), "HELIOS_STEP": "9"}
    result = subprocess.run(
        ["bash", "-c", 'source "$1" && drop_looping_icon_caches "$2"', "hook-test",
         str(REPO / "distros/debian/build/system.sh"), str(icons)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not (looping / "icon-theme.cache").exists()
    assert (plain / "icon-theme.cache").read_text() == "cache"
    assert "no icon cache for elementary-xfce-hidpi: its folders link back into themselves" in result.stdout
