"""kclient as step 7 builds it, run for real: the microphone from the browser's socket to PulseAudio.

The pinned kclient tree (input mirror) gets common/build/kclient-*.patch and its locked
dependencies (`npm ci`, as step 7 does: the npm registry or npm's cache, and PulseAudio's headers
for the native pulseaudio2 module), then runs under node with the environment svc-kclient gives it.
Each test talks to it as the page does, through socket.io (tests/socketio_polling.py), and reads
the microphone pipe the way PulseAudio's module-pipe-source does: a FIFO opened O_RDWR, so that
writers never wait for a reader (pulseaudio src/modules/module-pipe-source.c). With pulseaudio and
parec installed, one test runs the runtime's own default.pa and records the desktop's default
source. Everything skips, saying why, where a piece is missing.
"""

from __future__ import annotations

import array
import math
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.runtime_host import OVERLAY, Kclient, running_kclient

pytestmark = [pytest.mark.network, pytest.mark.slow]


def sine_chunk(samples: int = 1024, start: int = 0, amplitude: int = 12000) -> bytes:
    """S16LE mono samples of a 441 Hz tone at 44.1 kHz: what the page sends as 'micdata'."""
    tone = array.array(
        "h", (int(amplitude * math.sin(2 * math.pi * (start + n) / 100)) for n in range(samples))
    )
    return tone.tobytes()


@contextmanager
def pipe_reader(path: Path) -> Iterator[int]:
    """The microphone pipe as module-pipe-source holds it: made with mkfifo, opened O_RDWR."""
    if not path.exists():
        os.mkfifo(path, 0o666)
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    try:
        yield fd
    finally:
        os.close(fd)


def read_pipe(fd: int, size: int, seconds: float = 5) -> bytes:
    data = b""
    deadline = time.monotonic() + seconds
    while len(data) < size and time.monotonic() < deadline:
        try:
            data += os.read(fd, size - len(data))
        except BlockingIOError:
            time.sleep(0.02)
    return data


def test_the_pages_carry_the_microphone_button_where_it_belongs(kclient: Kclient) -> None:
    status, page = kclient.get("/")
    assert status == 200
    assert 'id="micButton"' in page and 'onclick="mic()"' in page
    status, view_only = kclient.get("/view-only/")
    assert status == 200 and 'id="audioButton"' in view_only
    assert "micButton" not in view_only
    status, script = kclient.get("/public/js/kclient.js")
    assert status == 200 and "function mic()" in script


def test_microphone_data_reaches_the_pipe_pulseaudio_reads(kclient: Kclient) -> None:
    chunk = sine_chunk()
    with pipe_reader(kclient.mic) as fd:
        kclient.socket().emit("micdata", chunk)
        assert read_pipe(fd, len(chunk)) == chunk


def test_the_view_only_page_cannot_speak_into_the_desktop(kclient: Kclient) -> None:
    first, second = sine_chunk(start=0), sine_chunk(start=7)
    with pipe_reader(kclient.mic) as fd:
        kclient.socket("/view-only/audio/socket.io/").emit("micdata", first)
        kclient.socket().emit("micdata", second)  # handled after the first: the pipe's next bytes
        assert read_pipe(fd, len(second)) == second
        assert read_pipe(fd, 1, seconds=0.5) == b""


def test_without_pulseaudio_reading_nothing_blocks_and_no_plain_file_appears(kclient: Kclient) -> None:
    socket = kclient.socket()
    socket.emit("micdata", sine_chunk(start=1))  # no pipe at all: dropped, nothing created
    assert kclient.get("/")[0] == 200
    assert not kclient.mic.exists(), "kclient must not create a plain file where the pipe belongs"
    os.mkfifo(kclient.mic, 0o666)
    socket.emit("micdata", sine_chunk(start=2))  # a pipe nobody reads: dropped, not left pending
    assert kclient.get("/")[0] == 200
    fresh = sine_chunk(start=3)
    with pipe_reader(kclient.mic) as fd:
        socket.emit("micdata", fresh)
        assert read_pipe(fd, len(fresh)) == fresh, "samples from before PulseAudio started came through"
        assert read_pipe(fd, 1, seconds=0.5) == b""


def test_odd_or_non_binary_microphone_data_is_ignored(kclient: Kclient) -> None:
    good = sine_chunk(start=5)
    with pipe_reader(kclient.mic) as fd:
        socket = kclient.socket()
        socket.emit("micdata", "not samples")
        socket.emit("micdata", b"\x01\x02\x03")  # half a sample would shift every later one
        socket.emit("micdata", good)
        assert read_pipe(fd, len(good)) == good
        assert read_pipe(fd, 1, seconds=0.5) == b""


# --- with the real sound server ------------------------------------------------------------------


def pulse_environment(tmp: Path) -> dict[str, str]:
    runtime = tmp / "pulse"
    runtime.mkdir(mode=0o700, exist_ok=True)
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "PULSE_RUNTIME_PATH": str(runtime),
        "XDG_RUNTIME_DIR": str(runtime),
        "HELIOS_ETC": str(OVERLAY / "etc/helios"),
        "HELIOS_RUN": str(tmp / "run"),
    }


def render_pulse_script(env: dict[str, str]) -> tuple[Path, Path]:
    """The runtime's own rendering (svc-pulseaudio): the PulseAudio script and the microphone pipe."""
    script = Path(env["HELIOS_RUN"]) / "pulse.pa"
    result = subprocess.run(
        [
            "bash",
            "-c",
            'set -euo pipefail; source "$1"; helios_pulse_config "$2"; helios_mic_socket',
            "render",
            str(OVERLAY / "opt/helios/lib/helios.sh"),
            str(script),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return script, Path(result.stdout.strip())


def test_the_desktop_records_what_the_browser_sends(kclient_tree: Path, tmp_path: Path) -> None:
    """Real pulseaudio with the runtime's default.pa, real kclient, parec on the default source."""
    for tool in ("pulseaudio", "pactl", "parec"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (Debian: apt-get install pulseaudio pulseaudio-utils)")
    env = pulse_environment(tmp_path)
    script, mic = render_pulse_script(env)
    client = {**env, "PULSE_SERVER": f"unix:{env['PULSE_RUNTIME_PATH']}/native"}
    server = subprocess.Popen(
        ["pulseaudio", "--daemonize=no", "--system=no", "--use-pid-file=no", "--exit-idle-time=-1",
         "--log-target=stderr", "-n", "-F", str(script)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    recorder: subprocess.Popen[bytes] | None = None
    try:
        for _ in range(100):
            info = subprocess.run(["pactl", "info"], env=client, capture_output=True, text=True)
            if info.returncode == 0:
                break
            if server.poll() is not None:
                pytest.fail(f"pulseaudio exited: {server.stderr.read() if server.stderr else ''}")
            time.sleep(0.1)
        assert "Default Source: helios_mic" in info.stdout, info.stdout
        assert mic.is_fifo(), "module-pipe-source did not make the pipe svc-kclient names"
        recorder = subprocess.Popen(
            ["parec", "--raw", "--device=@DEFAULT_SOURCE@", "--format=s16le", "--rate=44100",
             "--channels=1", "--latency-msec=20"],
            env=client,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(1)
        chunks = [sine_chunk(start=1024 * n) for n in range(20)]
        with running_kclient(kclient_tree, tmp_path, mic, PULSE_SERVER=client["PULSE_SERVER"]) as kclient:
            socket = kclient.socket()
            for chunk in chunks:
                socket.emit("micdata", chunk)
            time.sleep(1)
        recorder.terminate()
        recorded, _ = recorder.communicate(timeout=10)
    finally:
        if recorder is not None and recorder.poll() is None:
            recorder.kill()
        server.terminate()
        server.wait(timeout=10)
    # The source's format is the pipe's (s16le, mono, 44.1 kHz at unity volume): bytes pass through.
    assert chunks[5] in recorded, (
        f"the browser's samples did not reach the default source ({len(recorded)} bytes)"
    )
