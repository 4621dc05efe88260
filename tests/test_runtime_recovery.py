"""Services that come back from a single death, with the real daemons where they can run here.

PulseAudio: svc-pulseaudio's run script starts the real pulseaudio (as UID 1000) with the
runtime's default.pa, is killed outright and started again, three times; the microphone's pipe
source must load every time (PulseAudio 16, module-pipe-source.c: mkfifo fails on an existing
path). Skipped without pulseaudio, pactl and setpriv.

nginx: s6-supervise starts each run script as the leader of its own session and process group and
passes that group to ./finish (s6 2.15, src/supervision/s6-supervise.c, doc/servicedir.html). A
master killed outright leaves its workers in that group, holding the port; svc-nginx's finish
clears them. The test plays s6-supervise's part with the real nginx and the real finish script.
Needs the nginx binary (Debian: apt-get install nginx-light); skipped with that reason without it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.runtime_host import OVERLAY, free_port, get, kasmvnc_pair, nginx_binary, render

FINISH = OVERLAY / "etc/s6-overlay/s6-rc.d/svc-nginx/finish"


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def nginx_root() -> Iterator[tuple[Path, int]]:
    """A rendered configuration on a free port, in a root nginx's workers can traverse."""
    nginx_binary()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        root.chmod(0o755)
        port = free_port()
        render(root, HTTP_PORT=str(port))
        kasmvnc_pair(root)
        yield root, port


def start_master(root: Path) -> subprocess.Popen[bytes]:
    """nginx in the foreground as svc-nginx runs it, leading a new session as s6-supervise starts it."""
    return subprocess.Popen(
        [
            nginx_binary(),
            "-e",
            "stderr",
            "-c",
            str(root / "run/helios/nginx/nginx.conf"),
            "-g",
            "daemon off;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def run_finish(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = root / "finish"
    script.write_text(FINISH.read_text().replace("/opt/helios/", f"{OVERLAY}/opt/helios/"))
    return subprocess.run(
        ["bash", str(script), *args],
        env={"PATH": "/usr/bin:/bin", "HELIOS_LIB": str(OVERLAY / "opt/helios/lib/helios.sh")},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


def test_a_master_killed_outright_leaves_no_worker_holding_the_port(nginx_root: tuple[Path, int]) -> None:
    root, port = nginx_root
    master = start_master(root)
    try:
        assert wait_for(lambda: answers(port)), "nginx did not start"
        master.send_signal(signal.SIGKILL)
        master.wait(timeout=10)
        # Without the finish script: the workers answer on, and a new master cannot bind.
        assert answers(port), "the workers of a killed master keep the port"
        second = start_master(root)
        assert second.wait(timeout=10) != 0
        assert b"Address already in use" in (second.stderr.read() if second.stderr else b"")

        finished = run_finish(root, "256", "9", "svc-nginx", str(master.pid))
        assert finished.returncode == 0, finished.stderr
        assert (
            f"nginx: stopping what the dead service left in its process group {master.pid}" in finished.stderr
        )
        assert wait_for(lambda: not answers(port), 5), "the port is free once the group is gone"

        third = start_master(root)
        try:
            assert wait_for(lambda: answers(port)), "a new master binds the port again"
            assert get(f"http://127.0.0.1:{port}/healthz") == (503, "starting")
        finally:
            third.terminate()
            third.wait(timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(master.pid, signal.SIGKILL)


def test_a_clean_stop_leaves_nothing_to_clear(nginx_root: tuple[Path, int]) -> None:
    root, port = nginx_root
    master = start_master(root)
    assert wait_for(lambda: answers(port)), "nginx did not start"
    master.terminate()
    master.wait(timeout=10)
    finished = run_finish(root, "0", "0", "svc-nginx", str(master.pid))
    assert (finished.returncode, finished.stderr) == (0, "")


@pytest.mark.parametrize("group", ["", "0", "1", "-5", "abc"])
def test_finish_never_signals_init_or_its_own_group(tmp_path: Path, group: str) -> None:
    finished = run_finish(tmp_path, "256", "9", "svc-nginx", group)
    assert finished.returncode != 0
    assert "is not a process group above 1: nothing stopped" in finished.stderr


# --- PulseAudio's microphone pipe ---------------------------------------------------------------

# s6-notifyoncheck [options] PROG... and s6-setuidgid USER PROG...: run PROG, as UID 1000 for the
# latter (the desktop user of the test), whatever this machine's passwd says.
PULSE_TOOLS = {
    "s6-notifyoncheck": 'while getopts dw:n:c:s:t:T:3: opt; do :; done\nshift $((OPTIND - 1))\nexec "$@"\n',
    "s6-setuidgid": 'shift\nexec setpriv --reuid=1000 --regid=1000 --clear-groups "$@"\n',
}


@pytest.fixture
def pulse_root() -> Iterator[Path]:
    """A root for svc-pulseaudio's run script, its runtime folder the desktop user's (UID 1000)."""
    for tool in ("pulseaudio", "pactl", "setpriv"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install pulseaudio pulseaudio-utils util-linux)")
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        root.chmod(0o755)
        (root / "etc/helios/pulse").mkdir(parents=True)
        shutil.copy(OVERLAY / "etc/helios/pulse/default.pa", root / "etc/helios/pulse")
        for private in ("pulse", "home"):
            (root / private).mkdir(mode=0o700)
            os.chown(root / private, 1000, 1000)
        tools = root / "tools"
        tools.mkdir()
        for name, body in PULSE_TOOLS.items():
            (tools / name).write_text("#!/bin/bash\n" + body)
            (tools / name).chmod(0o755)
        run = (OVERLAY / "etc/s6-overlay/s6-rc.d/svc-pulseaudio/run").read_text()
        (root / "run-pulseaudio").write_text(run.replace("/opt/helios/", f"{OVERLAY}/opt/helios/"))
        yield root


def mic_source_loaded(root: Path) -> bool:
    listed = subprocess.run(
        ["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", "pactl", "list", "short", "sources"],
        env={"PATH": "/usr/bin:/bin", "PULSE_SERVER": f"unix:{root}/pulse/native", "HOME": str(root / "home")},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return "helios_mic" in listed.stdout


def test_the_microphone_comes_back_with_every_start_of_pulseaudio(pulse_root: Path) -> None:
    """module-pipe-source fails when its pipe exists (mkfifo: File exists) and then removes it:
    a PulseAudio killed before it could clean up left the microphone off on every second start."""
    env = {
        "PATH": f"{pulse_root}/tools:/usr/bin:/bin",
        "HELIOS_ROOT": str(pulse_root),
        "PULSE_RUNTIME_PATH": str(pulse_root / "pulse"),
        "HOME": str(pulse_root / "home"),
        "USER": "helios",
    }
    for start in range(3):
        server = subprocess.Popen(
            ["bash", str(pulse_root / "run-pulseaudio")], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        try:
            assert wait_for(lambda: mic_source_loaded(pulse_root)), f"start {start + 1}: no microphone"
            assert (pulse_root / "pulse/mic.sock").is_fifo()
        finally:
            os.killpg(server.pid, signal.SIGKILL)  # no chance to remove its pipe
            server.wait(timeout=10)
        assert (pulse_root / "pulse/mic.sock").is_fifo(), "the killed server left its pipe"
