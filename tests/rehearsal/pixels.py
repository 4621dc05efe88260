"""Tell a screenshot of the desktop from the pages a browser shows when there is none.

- DOWN: an error page (nginx's 502 while kclient is down, the browser's "can't be reached"): white.
- CONNECTING: the KasmWeb client still connecting, which shows its splash image (ours:
  common/build/splash.jpg, stretched over the page).
- DESKTOP: the XFCE session: its panel spans the top of the screen, a full-width band of one colour
  (a few icons and words on it) that ends within the top tenth, where the backdrop begins. The
  backdrop may be about as dark as the panel, so this looks for the band, not for a contrasting edge.
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
    if panel_band(rgb) >= PANEL_ROWS:
        return Verdict.DESKTOP
    colours = rgb.getcolors(maxcolors=total) or []
    if colours and max(count for count, _ in colours) / total >= 0.9:
        return Verdict.BLANK
    return Verdict.UNKNOWN


PANEL_ROWS = 16
"""The thinnest panel counted as one (XFCE's default panel is 24-48 pixels high)."""
PANEL_COVER = 0.7
"""Share of a panel row in the panel's colour (the rest: its icons, labels and clock)."""


def panel_band(picture: Image.Image, tolerance: int = 4) -> int:
    """The height of a full-width band of one colour at the top that ends within the top tenth.

    The band's colour is the commonest of the top tenth; it must start within the first 4 rows
    (a border may come first) and be followed by a row mostly not of its colour. 0 if none.
    """
    width, height = picture.size
    top = picture.crop((0, 0, width, max(1, height // 10)))
    colours = top.getcolors(maxcolors=width * top.size[1]) or []
    if not colours:
        return 0
    _, colour = max(colours, key=lambda found: found[0])
    plain = Image.new("RGB", (width, 1), colour)
    covered = [
        1 - differing_share(top.crop((0, y, width, y + 1)), plain, tolerance) for y in range(top.size[1])
    ]
    first = next((y for y, share in enumerate(covered[:4]) if share >= PANEL_COVER), None)
    if first is None:
        return 0
    last = first
    while last + 1 < len(covered) and covered[last + 1] >= PANEL_COVER:
        last += 1
    ends_in_top_tenth = last + 1 < len(covered)
    return last + 1 - first if ends_in_top_tenth else 0


def differing_share(a: Image.Image, b: Image.Image, threshold: int = 40) -> float:
    """The share of pixels whose most different channel differs by more than ``threshold`` (0-255)."""
    if a.size != b.size:
        return 1.0
    red, green, blue = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).split()
    worst = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    return sum(worst.histogram()[threshold + 1 :]) / (a.size[0] * a.size[1])
