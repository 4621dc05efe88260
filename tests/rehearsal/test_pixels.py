"""The screenshot classifier and the XWD reader, on pictures made here (no image or browser needed)."""

from __future__ import annotations

import struct

from PIL import Image, ImageDraw

from tests.rehearsal.browser import parse_xwd
from tests.rehearsal.pixels import SPLASH, Verdict, classify

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


def error_page() -> Image.Image:
    """White with a heading and a rule, as nginx's 502 page renders."""
    picture = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(picture)
    draw.text((560, 20), "502 Bad Gateway", fill="black")
    draw.line([(8, 67), (1272, 67)], fill=(128, 128, 128))
    return picture


def test_a_desktop_is_a_desktop() -> None:
    assert classify(desktop_picture()) is Verdict.DESKTOP


def test_the_client_splash_is_connecting() -> None:
    assert classify(Image.open(SPLASH).convert("RGB").resize(SIZE)) is Verdict.CONNECTING


def test_an_error_page_is_down() -> None:
    assert classify(error_page()) is Verdict.DOWN


def test_a_root_window_without_session_is_blank() -> None:
    assert classify(Image.new("RGB", SIZE, (0, 0, 0))) is Verdict.BLANK


def test_xwd_zpixmap_reads_as_rgb() -> None:
    width, height, name = 2, 1, b"root\0"
    header = struct.pack(
        ">25I", 100 + len(name), 7, 2, 24, width, height, 0, 0, 32, 0, 32, 32, width * 4, 4,
        0xFF0000, 0xFF00, 0xFF, 8, 256, 1, width, height, 0, 0, 0,
    )  # fmt: skip
    colormap = b"\0" * 12
    pixels = bytes([0x30, 0x20, 0x10, 0, 0xFF, 0, 0, 0])  # LSB first: B, G, R, pad
    image = parse_xwd(header + name + colormap + pixels)
    assert image.size == (2, 1)
    assert image.getpixel((0, 0)) == (0x10, 0x20, 0x30)
    assert image.getpixel((1, 0)) == (0, 0, 0xFF)
