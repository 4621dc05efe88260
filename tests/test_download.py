"""`download` (common/build/lib.sh) against a real HTTP server on 127.0.0.1 that misbehaves.

The server stalls mid-body, cuts the body short, or is not listening yet; `download` must give up
on a stalled transfer, retry a bounded number of times, and still verify what it got before use.
Both network tools are exercised: curl, and wget with curl hidden from PATH.
"""

from __future__ import annotations

import os
import shutil
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import LIB, sha256
from tests.runtime_host import free_port

BODY = b"pinned release tarball\n" * 4000
FAST = {  # seconds and tries small enough for a test; the defaults are 30 s, 60 s and 4 retries
    "HELIOS_DOWNLOAD_CONNECT_TIMEOUT": "2",
    "HELIOS_DOWNLOAD_STALL_TIMEOUT": "2",
    "HELIOS_DOWNLOAD_RETRIES": "2",
}


class Behaviour:
    """What the server does with each request, by path: ``faults`` bad answers first, then good ones."""

    def __init__(self) -> None:
        self.requests: dict[str, int] = {}
        self.release = threading.Event()


class Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        request = self.request.recv(4096).decode(errors="replace")
        path = request.split(" ", 2)[1] if request.count(" ") >= 2 else "/"
        kind, _, count = path.strip("/").partition("-")
        behaviour: Behaviour = self.server.behaviour  # type: ignore[attr-defined]
        seen = behaviour.requests[path] = behaviour.requests.get(path, 0) + 1
        faulty = count == "always" or seen <= int(count or 0)
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(BODY)}\r\nConnection: close\r\n\r\n".encode()
        if kind == "wrong":
            self.request.sendall(head + BODY[:-1] + b"X")
        elif faulty and kind == "stall":
            self.request.sendall(head + BODY[: len(BODY) // 2])
            behaviour.release.wait(120)  # a server that stops sending but keeps the connection
        elif faulty and kind == "truncate":
            self.request.sendall(head + BODY[: len(BODY) // 2])  # then close: the body is cut short
        else:
            self.request.sendall(head + BODY)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(port: int, behaviour: Behaviour) -> Server:
    server = Server(("127.0.0.1", port), Handler)
    server.behaviour = behaviour  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def server() -> Iterator[tuple[str, Behaviour]]:
    behaviour = Behaviour()
    running = serve(0, behaviour)
    yield f"http://127.0.0.1:{running.server_address[1]}", behaviour
    behaviour.release.set()
    running.shutdown()
    running.server_close()


@pytest.fixture(params=["curl", "wget"])
def tool_path(request, tmp_path: Path) -> str:
    """PATH with only ``curl``, or only ``wget`` (curl hidden), as the network tool."""
    if shutil.which(request.param) is None:
        pytest.skip(f"{request.param} is not installed here")
    if request.param == "curl":
        return os.environ["PATH"]
    shadow = tmp_path / "bin"
    shadow.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        if not Path(folder).is_dir():
            continue
        for tool in Path(folder).iterdir():
            if tool.name != "curl" and not (shadow / tool.name).exists():
                (shadow / tool.name).symlink_to(tool)
    return str(shadow)


def download(
    url: str, dest: Path, pin: str, path: str, **extra: str
) -> tuple[subprocess.CompletedProcess, float]:
    env = {"PATH": path, "HOME": "/tmp", "HELIOS_STEP": "6", **FAST, **extra}
    script = f'set -euo pipefail; source "{LIB}"; download "$1" "$2" "$3"'
    started = time.monotonic()
    result = subprocess.run(
        ["bash", "-c", script, "test", url, str(dest), pin],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
    )
    return result, time.monotonic() - started


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["stall-1", "truncate-1", "truncate-2"])
def test_a_stalled_or_cut_transfer_is_retried_and_verified(server, tool_path, tmp_path, fault):
    base, behaviour = server
    dest = tmp_path / "out" / "release.tar"
    result, took = download(f"{base}/{fault}", dest, sha256(BODY), tool_path)
    assert result.returncode == 0, result.stderr
    assert dest.read_bytes() == BODY
    assert behaviour.requests[f"/{fault}"] == int(fault[-1]) + 1
    assert took < 30


@pytest.mark.slow
def test_a_server_that_always_stalls_fails_in_bounded_time(server, tool_path, tmp_path):
    base, behaviour = server
    dest = tmp_path / "release.tar"
    result, took = download(
        f"{base}/stall-always", dest, sha256(BODY), tool_path, HELIOS_DOWNLOAD_RETRIES="1"
    )
    assert result.returncode == 1
    assert f"could not download {base}/stall-always (tried 2 times)" in result.stderr
    assert behaviour.requests["/stall-always"] == 2
    assert took < 60 and not dest.exists()  # curl judges the speed over a few seconds, not at once


@pytest.mark.slow
def test_a_refused_connection_is_retried_until_the_server_listens(tool_path, tmp_path):
    port, behaviour = free_port(), Behaviour()
    servers: list[Server] = []
    starter = threading.Timer(1.0, lambda: servers.append(serve(port, behaviour)))
    starter.start()
    try:
        dest = tmp_path / "release.tar"
        result, _ = download(f"http://127.0.0.1:{port}/ok", dest, sha256(BODY), tool_path)
        assert result.returncode == 0, result.stderr
        assert dest.read_bytes() == BODY and behaviour.requests["/ok"] == 1
    finally:
        starter.join()
        for running in servers:
            running.shutdown()
            running.server_close()


@pytest.mark.slow
def test_retries_stay_bounded_when_nothing_listens(tool_path, tmp_path):
    result, took = download(f"http://127.0.0.1:{free_port()}/ok", tmp_path / "x", sha256(BODY), tool_path)
    assert result.returncode == 1 and "(tried 3 times)" in result.stderr
    assert took < 30


def test_what_arrives_is_still_verified_before_use(server, tool_path, tmp_path):
    base, _ = server
    dest = tmp_path / "release.tar"
    result, _ = download(f"{base}/wrong", dest, sha256(BODY), tool_path)
    assert result.returncode == 1 and "checksum mismatch for release.tar" in result.stderr
    assert not dest.exists()


def test_the_limits_must_be_numbers(server, tmp_path):
    base, _ = server
    result, _ = download(
        f"{base}/ok", tmp_path / "x", sha256(BODY), os.environ["PATH"], HELIOS_DOWNLOAD_RETRIES="08x"
    )
    assert result.returncode == 1 and "must be whole numbers" in result.stderr
