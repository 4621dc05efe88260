"""Where labels and timestamps come from when building from a checkout: git, or SOURCE_DATE_EPOCH."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import HeliosError


def _git(root: Path, *args: str) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


@dataclass(frozen=True)
class SourceInfo:
    revision: str
    url: str
    epoch: int


def source_info(root: Path, environ: dict[str, str] | None = None) -> SourceInfo:
    """Revision, remote URL and SOURCE_DATE_EPOCH of the checkout at ``root``.

    SOURCE_DATE_EPOCH from the environment wins; otherwise the last commit's time; outside git, 0.
    Either way two builds of one commit get the same labels and file times.
    """
    env = os.environ if environ is None else environ
    revision = _git(root, "rev-parse", "HEAD")
    url = _git(root, "remote", "get-url", "origin")
    given = env.get("SOURCE_DATE_EPOCH", "").strip()
    if given:
        if not (given.isascii() and given.isdigit()):  # not '²' or '١٢٣', which isdigit() accepts
            raise HeliosError(
                f"SOURCE_DATE_EPOCH={given!r} is not a Unix time",
                hint="set it to seconds since 1970, or unset it",
            )
        return SourceInfo(revision, url, int(given))
    stamp = _git(root, "log", "-1", "--format=%ct")
    return SourceInfo(revision, url, int(stamp) if stamp.isdigit() else 0)
