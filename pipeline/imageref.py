"""The grammar of image references (the distribution spec's): checked before any engine sees one.

    reference := [host[:port]/]component(/component)*[:tag][@algorithm:hex]

A bad base image otherwise fails late, inside the engine, with a message about a pull.
"""

from __future__ import annotations

import re

from pipeline.errors import HeliosError

HOST = (
    r"(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
)
COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
NAME = re.compile(rf"(?:{HOST}/)?{COMPONENT}(?:/{COMPONENT})*")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
MAX_NAME = 255
EXAMPLE = "e.g. almalinux:9.6, ghcr.io/org/image:tag or name@sha256:<64 hex digits>"


def _problem(text: str) -> str | None:
    """What is wrong with reference ``text``, or None when it follows the grammar."""
    if not text:
        return "it is empty"
    if "://" in text:
        return "it holds a URL scheme (an image reference has none)"
    if any(char.isspace() or not char.isprintable() for char in text):
        return "it holds blanks or control characters"
    rest, at, digest = text.partition("@")
    if at and not DIGEST.fullmatch(digest):
        return f"the digest {digest!r} is not algorithm:hex"
    if at and digest.startswith("sha256:") and not re.fullmatch(r"[0-9a-f]{64}", digest[7:]):
        return "a sha256 digest is 64 lower-case hex digits"
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    name, tag = (rest[:colon], rest[colon + 1 :]) if colon > slash else (rest, None)
    if tag is not None and not TAG.fullmatch(tag):
        return f"the tag {tag!r} is not up to 128 of A-Z a-z 0-9 _ . - (not starting with . or -)"
    if len(name) > MAX_NAME:
        return f"the name is longer than {MAX_NAME} characters"
    if not NAME.fullmatch(name):
        return (
            f"the name {name!r} is not [registry[:port]/]path with lower-case components "
            "of a-z 0-9 joined by . _ __ or -"
        )
    return None


def check_reference(ref: str, *, where: str, hint: str) -> str:
    """``ref`` stripped, if it is an image reference; else a HeliosError saying what is wrong.

    ``where`` says where the value came from (an option or a file), ``hint`` how to fix it there.
    """
    text = ref.strip()
    problem = _problem(text)
    if problem is not None:
        raise HeliosError(f"{where} {ref!r} is not an image reference: {problem}", hint=f"{hint} ({EXAMPLE})")
    return text
