"""The screenshot classifier and the XWD reader, on pictures made here (no image or browser needed)."""

from __future__ import annotations

import struct

import pytest
from PIL import Image, ImageDraw

from tests.rehearsal.browser import parse_xwd
from tests.rehearsal.pixels import SPLASH, Verdict, classify
from tests.rehearsal.results import REPO

SIZE = (1280, 720)


def desktop_picture() -> Image.Image:
    """A dark 36-pixel panel with a menu button and a clock over a backdrop, as XFCE draws it."""
    picture = Image.new("RGB", SIZE, (52, 101, 164))
    draw = ImageDraw.Draw(picture)
    for x in range(0, SIZE[0], 8):  # a backdrop with some texture
        draw.line([(x, 36), (x + 300, SIZE[1])], fill=(70, 120, 180))
    draw.rectangle([0, 0, SIZE[0], 35], fill=(40, 40, 40))
    draw.text((10, 12), "Helios", fill=(230, 230, 230))
    draw.text((1220, 12), "12:00", fill=(230, 230, 230))
    return picture


def dark_desktop_picture() -> Image.Image:
    """A near-black panel over a backdrop as dark at its top edge (Debian's default theme)."""
    picture = Image.new("RGB", SIZE, (21, 21, 21))
    draw = ImageDraw.Draw(picture)
    for y in range(36, SIZE[1]):  # the backdrop brightens slowly downwards from about the panel's shade
        shade = 14 + (y - 36) // 8
        draw.line([(0, y), (SIZE[0], y)], fill=(shade + 8, shade, shade - 4))
    draw.text((10, 12), "Helios", fill=(230, 230, 230))
    return picture


def error_page() -> Image.Image:
    """White with a heading and a rule, as nginx's 502 page renders."""
    picture = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(picture)
    draw.text((560, 20), "502 Bad Gateway", fill="black")
    draw.line([(8, 67), (1272, 67)], fill=(128, 128, 128))
    return picture


def test_a_desktop_is_a_desktop() -> None:
    assert classify(desktop_picture()) is Verdict.DESKTOP


def test_a_dark_panel_over_a_dark_backdrop_is_a_desktop() -> None:
    assert classify(dark_desktop_picture()) is Verdict.DESKTOP


def test_the_desktop_the_rehearsal_saw_is_a_desktop() -> None:
    """The browser's screenshot of the real image (docs/img), as the rehearsal took it."""
    assert classify(Image.open(REPO / "docs" / "img" / "rehearsal-desktop.png")) is Verdict.DESKTOP


def test_the_client_splash_is_connecting() -> None:
    assert classify(Image.open(SPLASH).convert("RGB").resize(SIZE)) is Verdict.CONNECTING


def test_an_error_page_is_down() -> None:
    assert classify(error_page()) is Verdict.DOWN


def test_a_root_window_without_session_is_blank() -> None:
    assert classify(Image.new("RGB", SIZE, (0, 0, 0))) is Verdict.BLANK


def xwd(bits_per_pixel: int, bytes_per_line: int, pixels: bytes, width: int = 2) -> bytes:
    """An XWD dump of a ``width`` x 1 TrueColor ZPixmap, LSB first, as xwd writes it."""
    name = b"root\0"
    header = struct.pack(
        ">25I", 100 + len(name), 7, 2, 24, width, 1, 0, 0, 32, 0, 32, bits_per_pixel, bytes_per_line, 4,
        0xFF0000, 0xFF00, 0xFF, 8, 256, 1, width, 1, 0, 0, 0,
    )  # fmt: skip
    return header + name + b"\0" * 12 + pixels  # one colormap entry


@pytest.mark.parametrize(
    ("bits_per_pixel", "bytes_per_line", "pixels"),
    [
        (32, 8, bytes([0x30, 0x20, 0x10, 0, 0xFF, 0, 0, 0])),  # B, G, R, pad
        (24, 8, bytes([0x30, 0x20, 0x10, 0xFF, 0, 0, 0xEE, 0xEE])),  # B, G, R packed; line padded to 32 bits
    ],
    ids=["32 bits per pixel", "24 bits per pixel (Xvnc)"],
)
def test_xwd_zpixmap_reads_as_rgb(bits_per_pixel: int, bytes_per_line: int, pixels: bytes) -> None:
    image = parse_xwd(xwd(bits_per_pixel, bytes_per_line, pixels))
    assert image.size == (2, 1)
    assert image.getpixel((0, 0)) == (0x10, 0x20, 0x30)
    assert image.getpixel((1, 0)) == (0, 0, 0xFF)
