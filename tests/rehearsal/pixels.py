"""Tell a screenshot of the desktop from the pages a browser shows when there is none.

- DOWN: an error page (nginx's 502 while kclient is down, the browser's "can't be reached"): white.
- CONNECTING: the KasmWeb client still connecting, which shows its splash image (ours:
  common/build/splash.jpg, stretched over the page).
- DESKTOP: the XFCE session: its panel spans the top of the screen, so a straight full-width edge
  runs across the top tenth of the picture (the panel's lower border).
- BLANK: one colour almost everywhere (an X server with no session draws a plain root window).
"""

from __future__ import annotations

import enum
from pathlib import Path

from PIL import Image, ImageChops

from tests.rehearsal.results import REPO

SPLASH = REPO / "common" / "build" / "splash.jpg"


class Verdict(enum.Enum):
    DESKTOP = "desktop"
    CONNECTING = "connecting"
    DOWN = "down"
    BLANK = "blank"
    UNKNOWN = "unknown"


def classify(picture: Image.Image, splash: Path = SPLASH) -> Verdict:
    """What ``picture`` (a browser screenshot) shows."""
    rgb = picture.convert("RGB")
    gray = rgb.convert("L")
    total = rgb.size[0] * rgb.size[1]
    if sum(gray.histogram()[236:]) / total >= 0.7:
        return Verdict.DOWN
    if splash.is_file() and differing_share(rgb, Image.open(splash).convert("RGB").resize(rgb.size)) < 0.25:
        return Verdict.CONNECTING
    if panel_edge(rgb) >= 0.8:
        return Verdict.DESKTOP
    colours = rgb.getcolors(maxcolors=total) or []
    if colours and max(count for count, _ in colours) / total >= 0.9:
        return Verdict.BLANK
    return Verdict.UNKNOWN


def panel_edge(picture: Image.Image) -> float:
    """The largest share of columns with a sharp change between two neighbouring rows near the top."""
    width, height = picture.size
    best = 0.0
    for y in range(4, max(5, height // 10)):
        above = picture.crop((0, y, width, y + 1))
        below = picture.crop((0, y + 1, width, y + 2))
        best = max(best, differing_share(above, below, threshold=24))
    return best


def differing_share(a: Image.Image, b: Image.Image, threshold: int = 40) -> float:
    """The share of pixels whose most different channel differs by more than ``threshold`` (0-255)."""
    if a.size != b.size:
        return 1.0
    red, green, blue = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).split()
    worst = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    return sum(worst.histogram()[threshold + 1 :]) / (a.size[0] * a.size[1])
