"""A settled exec (pipeline/settle.py), run for real in a small root filesystem, as the system stage runs it.

Cheap (seconds): the root filesystems are the host's own tools (GNU coreutils and findutils, as on
Debian and RHEL) or BusyBox alone (as on Alpine), and each exec is a real one of the rehearsal
(tests/rehearsal/chroot.py), with a cache volume and the hooks folder mounted as the engine mounts
them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pipeline.settle import settled
from tests.rehearsal.chroot import TINY_TOOLS, Bind, Exec, run_in, tiny_rootfs

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the rehearsal needs root (chroot, mount namespaces)"
)

EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z
BASE_TIME = 1_577_836_800  # 2020-01-01: what the base image ships
PACKAGED_TIME = 1_609_459_200  # 2021-01-01: a file a package unpacks keeps the time it had in the package
SETTLE_TOOLS = (*TINY_TOOLS, "ln")

HOOK = """#!/bin/sh
set -e
mkdir -p /opt/new /var/log/apt /var/cache/ldconfig /var/lib/dbus
echo built >/opt/new/file
ln -s file /opt/new/link
echo packaged >/opt/new/kept && touch -d @%(packaged)d /opt/new/kept
echo changed >>/etc/changed.conf
echo log >/var/log/dpkg.log; echo log >/var/log/apt/term.log; echo log >/var/log/alternatives.log
echo cache >/var/cache/ldconfig/aux-cache
echo 0123456789abcdef0123456789abcdef >/var/lib/dbus/machine-id
echo downloaded >/var/cache/apt/package.deb
exit %(code)d
"""


def busybox_rootfs(root: Path) -> Path:
    """A root filesystem of BusyBox alone, its applets as links, as Alpine's base image has it."""
    for folder in ("proc", "sys", "dev", "etc", "tmp", "bin", "usr/bin", "var/cache/apt"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    shutil.copy2(shutil.which("busybox") or "/bin/busybox", root / "bin/busybox")
    for applet in ("sh", "find", "touch", "rm", "ln", "mkdir", "sleep", "cat"):
        (root / "bin" / applet).symlink_to("busybox")
    (root / "usr/bin/env").symlink_to("/bin/busybox")
    return root


def settle_in(root: Path, tmp_path: Path, code: int = 0) -> int:
    """Run the fixture hook settled in ``root``, with a cache volume at /var/cache/apt; its exit code."""
    files = {
        "etc/base.conf": "base\n",
        "etc/changed.conf": "base\n",
        "etc/machine-id": "",
        "etc/resolv.conf": "",
    }
    for path, text in files.items():
        (root / path).write_text(text)
        os.utime(root / path, (BASE_TIME, BASE_TIME))
    for folder in ("etc", "var", "var/cache", "var/cache/apt", "tmp", "."):
        os.utime(root / folder, (BASE_TIME, BASE_TIME))
    hooks = tmp_path / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "09-system.sh").write_text(HOOK % {"packaged": PACKAGED_TIME, "code": code})
    (hooks / "09-system.sh").chmod(0o755)
    volume = tmp_path / "volume"
    volume.mkdir(exist_ok=True)
    binds = [Bind(hooks, "/helios/hooks"), Bind(volume, "/var/cache/apt", read_only=False)]
    command = settled(["/helios/hooks/09-system.sh"], "debian", EPOCH)
    return run_in(root, Exec(command, {"PATH": "/usr/bin:/bin"}, binds, timeout=60), tmp_path / "exec.log")


@pytest.fixture(params=["gnu", "busybox"])
def rootfs(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "gnu":
        return tiny_rootfs(tmp_path / "root", SETTLE_TOOLS)
    if shutil.which("busybox") is None:
        pytest.skip("busybox is not installed here (apt-get install busybox-static): Alpine's tools untested")
    return busybox_rootfs(tmp_path / "root")


def mtime(path: Path) -> int:
    return int(path.lstat().st_mtime)


def test_what_the_exec_wrote_gets_the_epoch_and_nothing_else_changes(rootfs, tmp_path):
    assert settle_in(rootfs, tmp_path) == 0, (tmp_path / "exec.log").read_text()

    for written in (".", "opt", "opt/new", "opt/new/file", "opt/new/link", "etc/changed.conf", "var/log/apt"):
        assert mtime(rootfs / written) == EPOCH, written
    assert (rootfs / "opt/new/link").is_symlink()
    assert mtime(rootfs / "opt/new/kept") == PACKAGED_TIME, "a time of the file's own must stay"
    for untouched in ("etc", "etc/base.conf", "etc/resolv.conf"):
        assert mtime(rootfs / untouched) == BASE_TIME, f"{untouched}: the base image must not be touched"
    # The build's records are gone; an empty machine id of the base image stays.
    for record in ("var/log/dpkg.log", "var/log/apt/term.log", "var/log/alternatives.log",
                   "var/cache/ldconfig/aux-cache", "var/lib/dbus/machine-id"):  # fmt: skip
        assert not (rootfs / record).exists(), record
    assert (rootfs / "etc/machine-id").read_text() == ""
    # Mounts are not the image: the cache volume keeps its own times, and no mark is left behind.
    assert mtime(tmp_path / "volume/package.deb") != EPOCH
    assert not (rootfs / "dev/shm").exists() or not any((rootfs / "dev/shm").iterdir())
    assert mtime(rootfs / "var/cache/apt") == BASE_TIME


def test_a_failing_command_keeps_its_exit_code_and_is_not_settled(rootfs, tmp_path):
    assert settle_in(rootfs, tmp_path, code=7) == 7
    assert mtime(rootfs / "opt/new/file") != EPOCH
    assert (rootfs / "var/log/dpkg.log").exists()


def test_a_folder_a_mount_point_was_made_in_keeps_its_time_when_the_exec_leaves_it_alone(tmp_path):
    """As the engine does: /run gets a file mounted (the host's CA bundle, say) and nothing else."""
    root = tiny_rootfs(tmp_path / "root", SETTLE_TOOLS)
    (root / "run").mkdir()
    (root / "etc/resolv.conf").write_text("")
    for folder in ("run", "etc", "."):
        os.utime(root / folder, (BASE_TIME, BASE_TIME))
    bundle = tmp_path / "bundle.crt"
    bundle.write_text("certificates\n")
    command = settled(["sh", "-c", "echo written >/etc/new.conf"], "debian", EPOCH)
    exec_ = Exec(command, {"PATH": "/usr/bin:/bin"}, [Bind(bundle, "/run/host.crt")], timeout=60)
    assert run_in(root, exec_, tmp_path / "exec.log") == 0, (tmp_path / "exec.log").read_text()
    assert not (root / "run/host.crt").exists()
    assert mtime(root / "run") == BASE_TIME
    assert mtime(root / "etc") == EPOCH and mtime(root / "etc/new.conf") == EPOCH
