"""The archive part of the hook library: apt sources pointed at a dated snapshot of their archive.

The sources (tests/apt_sources.py) have the shapes the base images ship (deb822 on Debian 13 and
Ubuntu 24.04, one-line on Ubuntu 22.04 and Kali). No snapshot service is contacted: what is checked
is what apt is given.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.apt_sources import (
    DEBIAN_AT_SNAPSHOT,
    DEBIAN_SOURCES,
    JAMMY_AT_SNAPSHOT,
    JAMMY_LIST,
    KALI_LIST,
    SNAPSHOT,
    UBUNTU_SOURCES,
)

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "common" / "build" / "lib.sh"


def apt_etc(tmp_path: Path, files: dict[str, str]) -> Path:
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    for name, text in files.items():
        (etc / name).write_text(text)
        (etc / name).chmod(0o640)
    return etc


def snapshot(etc: Path, value: str | None = SNAPSHOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HELIOS_SNAPSHOT"}
    if value is not None:
        env["HELIOS_SNAPSHOT"] = value
    return subprocess.run(
        ["bash", "-c", f'set -euo pipefail; source "{LIB}"; use_archive_snapshot "$1"', "test", str(etc)],
        capture_output=True,
        text=True,
        env={**env, "HELIOS_STEP": "9"},
        check=False,
    )


def test_debian_sources_name_snapshot_debian_org_and_skip_the_validity_date(tmp_path):
    etc = apt_etc(tmp_path, {"sources.list.d/debian.sources": DEBIAN_SOURCES})
    result = snapshot(etc)
    assert result.returncode == 0, result.stderr
    assert (etc / "sources.list.d/debian.sources").read_text() == DEBIAN_AT_SNAPSHOT
    assert (etc / "sources.list.d/debian.sources").stat().st_mode & 0o777 == 0o640, "edited in place"
    assert f"apt sources at snapshot {SNAPSHOT}" in result.stdout
    again = snapshot(etc)  # a second call (a drop-in after its hook) changes nothing
    assert again.returncode == 0 and (etc / "sources.list.d/debian.sources").read_text() == DEBIAN_AT_SNAPSHOT


def test_ubuntu_sources_name_snapshot_ubuntu_com_in_both_formats(tmp_path):
    etc = apt_etc(tmp_path, {"sources.list.d/ubuntu.sources": UBUNTU_SOURCES, "sources.list": JAMMY_LIST})
    result = snapshot(etc)
    assert result.returncode == 0, result.stderr
    noble = (etc / "sources.list.d/ubuntu.sources").read_text()
    assert noble.count(f"URIs: http://snapshot.ubuntu.com/ubuntu-ports/{SNAPSHOT}/\n") == 2
    assert noble.count("Check-Valid-Until: no\n") == 2 and "Check-Valid-Until: yes" not in noble
    assert "## this should mirror your choices in the previous section.\n" in noble
    assert (etc / "sources.list").read_text() == JAMMY_AT_SNAPSHOT


def test_official_mirrors_and_security_archives_are_known_by_their_domain(tmp_path):
    mirrors = (
        "deb http://ftp.de.debian.org/debian trixie main\n"
        "deb http://security.debian.org/debian-security trixie-security main\n"
        "deb https://de.archive.ubuntu.com/ubuntu/ noble main\n"
    )
    etc = apt_etc(tmp_path, {"sources.list": mirrors})
    result = snapshot(etc)
    assert result.returncode == 0, result.stderr
    assert (etc / "sources.list").read_text() == (
        f"deb [check-valid-until=no] http://snapshot.debian.org/archive/debian/{SNAPSHOT}/ trixie main\n"
        f"deb [check-valid-until=no] http://snapshot.debian.org/archive/debian-security/{SNAPSHOT}/ "
        "trixie-security main\n"
        f"deb [check-valid-until=no] http://snapshot.ubuntu.com/ubuntu/{SNAPSHOT}/ noble main\n"
    )


def test_without_a_snapshot_nothing_changes(tmp_path):
    etc = apt_etc(tmp_path, {"sources.list.d/debian.sources": DEBIAN_SOURCES, "sources.list": KALI_LIST})
    result = snapshot(etc, None)
    assert result.returncode == 0, result.stderr
    assert (etc / "sources.list.d/debian.sources").read_text() == DEBIAN_SOURCES
    assert (etc / "sources.list").read_text() == KALI_LIST


@pytest.mark.parametrize(
    ("files", "value", "message"),
    [
        ({"sources.list": KALI_LIST}, SNAPSHOT,
         "apt/sources.list names the archive http://http.kali.org/kali, which no snapshot service Helios knows"),
        ({"sources.list": "deb https://download.docker.com/linux/debian trixie stable\n"}, SNAPSHOT,
         "names the archive https://download.docker.com/linux/debian, which no snapshot service"),
        ({"sources.list": JAMMY_LIST}, "20230228T235959Z",
         "snapshot 20230228T235959Z is older than the first snapshot of Ubuntu's archive (20230301T000000Z)"),
        ({"sources.list.d/debian.sources": DEBIAN_SOURCES}, "2026-06-01",
         "HELIOS_SNAPSHOT is '2026-06-01', not a snapshot id like 20260601T000000Z"),
    ],
    ids=["kali has no snapshots", "not every /debian is debian's", "before ubuntu's first", "not an id"],
)  # fmt: skip
def test_what_cannot_be_pinned_stops_the_step_saying_why(tmp_path, files, value, message):
    etc = apt_etc(tmp_path, files)
    before = {name: (etc / name).read_text() for name in files}
    result = snapshot(etc, value)
    assert result.returncode == 1
    assert result.stderr.startswith("[helios step 9] error: ") and message in result.stderr
    assert {name: (etc / name).read_text() for name in files} == before, "nothing is half-rewritten"
    assert not list(etc.rglob("*.helios-snapshot"))
