"""What a user's browser would ask of a booted container, asked from inside its network namespace."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from websockets.sync.client import connect

from pipeline.imageconfig import HTTP_PORT
from tests.rehearsal.boot import BootError, Container, wait_until

BASE_URL = f"http://127.0.0.1:{HTTP_PORT}/"
ORIGIN = BASE_URL.rstrip("/")
RFB_VERSION = b"RFB 003.008\n"


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: dict[str, str]


def get(container: Container, path: str = "", timeout: float = 5.0) -> Response:
    """GET ``BASE_URL + path`` in the container's network; status 0 when nothing answers."""
    with container.network():
        try:
            with urllib.request.urlopen(BASE_URL + path, timeout=timeout) as reply:
                return Response(reply.status, reply.read(), dict(reply.headers))
        except urllib.error.HTTPError as error:
            return Response(error.code, error.read(), dict(error.headers))
        except (urllib.error.URLError, OSError):
            return Response(0, b"", {})


def wait_healthy(container: Container, timeout: float) -> float:
    """Poll ``/healthz`` until it says 200 "ready"; the seconds it took. Fails with the log tail."""
    seen: list[Response] = []

    def ready() -> bool:
        if not container.running():
            raise BootError(f"the container exited ({container.process.returncode}) while booting:\n"
                            f"{container.log_tail()}")  # fmt: skip
        seen.append(get(container, "healthz"))
        return seen[-1].status == 200 and seen[-1].body == b"ready"

    start = time.monotonic()
    if not wait_until(ready, timeout):
        last = seen[-1] if seen else Response(0, b"", {})
        raise BootError(
            f"/healthz did not turn 200 within {timeout:g}s (last: {last.status} {last.body[:40]!r}); "
            f"container log tail:\n{container.log_tail()}"
        )
    return time.monotonic() - start


def rfb_greeting(container: Container, path: str = "websockify", timeout: float = 10.0) -> bytes:
    """Open the desktop websocket through nginx and return the server's first message (RFB version).

    The handshake carries an ``Origin``, as every browser's does: KasmVNC answers 404 without one
    ("missing Sec-WebSocket-Origin header").
    """
    with container.network():
        socket = connect(
            f"ws://127.0.0.1:{HTTP_PORT}/{path}",
            origin=ORIGIN,  # type: ignore[arg-type]
            subprotocols=["binary"],  # type: ignore[list-item]
            open_timeout=timeout,
        )
    with socket:
        message = socket.recv(timeout=timeout)
    return message if isinstance(message, bytes) else message.encode()
