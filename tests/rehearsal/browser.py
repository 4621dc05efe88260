"""A real browser on the desktop: headless Chromium in the container's network, over DevTools.

Chromium runs on the host, inside the container's network namespace (``nsenter --net``), so it
reaches ``http://127.0.0.1:3000/`` as a user's browser reaches a published port. It is driven over
its DevTools protocol: open the page, poll until the KasmWeb client reports it is connected, take a
screenshot. ``x_root_window`` grabs the X server's root window at the same moment (the image's
ffmpeg, inside the container, with the user's X cookie) for comparison.
"""

from __future__ import annotations

import base64
import contextlib
import io
import itertools
import json
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from PIL import Image
from websockets.sync.client import ClientConnection, connect

from tests.rehearsal.boot import wait_until
from tests.rehearsal.pixels import Verdict, classify, differing_share

VIEWPORT = (1280, 720)
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")

# The KasmWeb client lives in kclient's iframe; it marks its <html> noVNC_connected once the RFB
# session is up (app/ui.js updateVisualState) and noVNC_disconnected when it drops.
CLIENT_STATE = """(() => {
  const frame = document.querySelector('iframe.vnc');
  const doc = frame && frame.contentDocument;
  if (!doc || !doc.documentElement) return 'no-client';
  const cls = doc.documentElement.classList;
  if (cls.contains('noVNC_connected')) return 'connected';
  if (cls.contains('noVNC_disconnected')) return 'disconnected';
  return 'connecting';
})()"""


class Place(Protocol):
    """Where the browser runs: an nsenter prefix for processes, and a block for this process's sockets."""

    def enter(self, *, mount: bool = False) -> list[str]: ...

    def network(self) -> AbstractContextManager[None]: ...


class Booted(Protocol):
    """A running container: an nsenter prefix into it, and its PID 1's host pid (for /proc/<pid>/root)."""

    def enter(self, *, mount: bool = False) -> list[str]: ...

    @property
    def pid(self) -> int: ...


SCREEN_MATCH = 0.03
"""At most this share of pixels may differ between the browser's screenshot and the X root window
(KasmVNC's lossy encoding, the client's control-bar handle)."""
DESKTOP_DRAWN = 90
"""Seconds XFCE may take, after the client connects, to draw its panel on a loaded machine."""
XAUTHORITY = "/home/helios/.Xauthority"
"""The desktop user's X cookie (default user: helios), written by KasmVNC's vncserver."""


class BrowserError(RuntimeError):
    """Chromium could not be started or driven."""


def chromium_binary() -> str | None:
    """The host's Chromium, or None."""
    return next((found for name in CHROMIUM if (found := shutil.which(name))), None)


class DevTools:
    """A minimal DevTools protocol client: one page session over the browser's websocket."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.ids = itertools.count(1)
        self.session: str | None = None

    def call(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer (events in between are dropped)."""
        ident = next(self.ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        self.socket.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == ident:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def open_page(self, width: int, height: int) -> None:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)  # fmt: skip
        self.call("Page.enable")

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def screenshot(self) -> Image.Image:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")


@contextlib.contextmanager
def browser(container: Place, viewport: tuple[int, int] = VIEWPORT) -> Iterator[DevTools]:
    """Headless Chromium in the container's network, with one page of ``viewport`` size."""
    binary = chromium_binary()
    if binary is None:
        raise BrowserError("no Chromium on this machine (apt-get install chromium)")
    profile = Path(tempfile.mkdtemp(prefix="helios-chromium-"))
    argv = [
        *container.enter(), binary, "--headless=new", "--no-sandbox", "--disable-gpu",
        "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
        "--mute-audio", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
        f"--user-data-dir={profile}", f"--window-size={viewport[0]},{viewport[1]}", "about:blank",
    ]  # fmt: skip
    log = profile.parent / f"{profile.name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        port_file = profile / "DevToolsActivePort"
        if not wait_until(lambda: port_file.is_file() and len(port_file.read_text().split()) == 2, 30):
            raise BrowserError(f"Chromium did not open its DevTools port:\n{log.read_text()[-2000:]}")
        port, path = port_file.read_text().split()
        with container.network():
            socket = connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=10)
        with socket:
            tools = DevTools(socket)
            tools.open_page(*viewport)
            yield tools
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)
        log.unlink(missing_ok=True)


def x_root_window(container: Booted, display: str, xauthority: str) -> Image.Image:
    """The X server's root window, grabbed inside the container by the image's ffmpeg (x11grab) as
    an XWD dump, with the X cookie file ``xauthority`` (a path inside the container). From inside:
    Xvnc has no abstract socket (`-nolisten local`), so no client outside the container's file
    system can reach it.
    """
    proc = subprocess.run(
        [*container.enter(mount=True), "env", f"XAUTHORITY={xauthority}", "ffmpeg", "-hide_banner",
         "-loglevel", "error", "-f", "x11grab", "-i", display, "-frames:v", "1", "-f", "image2pipe",
         "-vcodec", "xwd", "-"],
        capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise BrowserError(f"ffmpeg -f x11grab -i {display} failed: {proc.stderr.decode(errors='replace')}")
    return parse_xwd(proc.stdout)


def parse_xwd(data: bytes) -> Image.Image:
    """An XWD (X Window Dump, version 7) TrueColor ZPixmap of 24 or 32 bits per pixel, as RGB.

    Xvnc's depth-24 screen dumps with 24 bits per pixel (packed), an ordinary X server's with 32.
    """
    fields = struct.unpack(">25I", data[:100])
    header_size, version, pixmap_format = fields[0], fields[1], fields[2]
    width, height, byte_order, bits_per_pixel, bytes_per_line = (
        fields[4],
        fields[5],
        fields[7],
        fields[11],
        fields[12],
    )
    masks, ncolors = fields[14:17], fields[19]
    if (
        version != 7
        or pixmap_format != 2
        or bits_per_pixel not in (24, 32)
        or masks != (0xFF0000, 0xFF00, 0xFF)
    ):
        raise BrowserError(f"unsupported XWD image: version {version}, format {pixmap_format}, "
                           f"{bits_per_pixel} bits per pixel, masks {[hex(m) for m in masks]}")  # fmt: skip
    start = header_size + 12 * ncolors
    pixels = data[start : start + bytes_per_line * height]
    # LSBFirst (0): blue's byte comes first; 32-bit pixels carry one unused byte.
    raw = {(0, 32): "BGRX", (1, 32): "XRGB", (0, 24): "BGR", (1, 24): "RGB"}[byte_order, bits_per_pixel]
    return Image.frombuffer("RGB", (width, height), pixels, "raw", raw, bytes_per_line, 1).copy()


def desktop_view(
    page: DevTools, container: Booted, display: str, timeout: float = DESKTOP_DRAWN
) -> tuple[Image.Image, Image.Image]:
    """The browser's screenshot and the X root window, once they agree on an XFCE desktop.

    Connected means the X server is up, not that XFCE has drawn its panel yet, and the first frames
    may still be on their way: this polls until the two agree on a desktop, or ``timeout`` runs out;
    then it returns the last pair, for the caller's assertions to say what was seen.
    """

    def pair() -> tuple[Image.Image, Image.Image]:
        return page.screenshot(), x_root_window(container, display, XAUTHORITY)

    def settled() -> tuple[Image.Image, Image.Image] | None:
        shot, grab = pair()
        agree = differing_share(shot, grab) <= SCREEN_MATCH
        return (shot, grab) if agree and classify(shot) is Verdict.DESKTOP else None

    return wait_until(settled, timeout) or pair()
