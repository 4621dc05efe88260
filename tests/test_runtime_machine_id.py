"""A machine id per container: made at the first start by helios-machine-id, never shipped in the image.

The script runs for real against a temporary root (HELIOS_ROOT), as the other runtime scripts do.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OVERLAY = REPO / "common" / "root"
SCRIPT = OVERLAY / "opt/helios/libexec/machine-id.sh"
S6RC = OVERLAY / "etc/s6-overlay/s6-rc.d"
ID = re.compile(r"^[0-9a-f]{32}\n$")


def container(root: Path, *, dbus: bool = True) -> Path:
    """A fresh container's root: /etc, and D-Bus's folder when the image has D-Bus."""
    (root / "etc").mkdir(parents=True)
    if dbus:
        (root / "var/lib/dbus").mkdir(parents=True)
    return root


def start(root: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HELIOS_ROOT": str(root),
        "HELIOS_LIB": str(OVERLAY / "opt/helios/lib/helios.sh"),
    }
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, check=False)


def test_each_container_makes_its_own_id_and_keeps_it_across_starts(tmp_path):
    first, second = container(tmp_path / "a"), container(tmp_path / "b")
    assert start(first).returncode == 0 and start(second).returncode == 0
    made = (first / "etc/machine-id").read_text()
    assert ID.match(made)
    assert (first / "etc/machine-id").stat().st_mode & 0o777 == 0o444
    assert (second / "etc/machine-id").read_text() != made, "two containers share an id"
    link = first / "var/lib/dbus/machine-id"
    assert link.is_symlink() and str(link.readlink()) == "/etc/machine-id"
    again = start(first)
    assert again.returncode == 0 and "keeping" in again.stderr
    assert (first / "etc/machine-id").read_text() == made


def test_an_empty_or_linked_id_is_replaced_without_writing_through(tmp_path):
    root = container(tmp_path / "root")
    (root / "etc/machine-id").write_text("")  # what an image may ship: systemd's "not yet made"
    assert start(root).returncode == 0
    assert ID.match((root / "etc/machine-id").read_text())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("keep me\n")
    (root / "etc/machine-id").unlink()
    (root / "etc/machine-id").symlink_to(elsewhere)
    assert start(root).returncode == 0
    assert not (root / "etc/machine-id").is_symlink()
    assert elsewhere.read_text() == "keep me\n"


def test_without_d_bus_only_etc_machine_id_is_made(tmp_path):
    root = container(tmp_path / "root", dbus=False)
    assert start(root).returncode == 0
    assert ID.match((root / "etc/machine-id").read_text())
    assert not (root / "var").exists()


def test_it_runs_at_every_start_before_the_sound_server_and_the_desktop():
    service = S6RC / "helios-machine-id"
    assert (service / "type").read_text().strip() == "oneshot"
    assert "/opt/helios/libexec/machine-id.sh" in (service / "up").read_text()
    assert (S6RC / "user/contents.d/helios-machine-id").exists()
    for reader in ("svc-pulseaudio", "svc-desktop"):
        assert (S6RC / reader / "dependencies.d/helios-machine-id").exists(), reader
