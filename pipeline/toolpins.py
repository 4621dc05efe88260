"""The publishing tools' images (syft, oras, cosign): pinned in pipeline/versions.toml by tag AND digest.

A tag alone can be moved to other bytes; a digest alone says nothing a reviewer can check. A tool that
signs our images must be both, so anything less is refused before the engine pulls it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pipeline.errors import HeliosError
from pipeline.imagerewrite import NO_REWRITES, ImageRewrites
from pipeline.versions import SOURCE, image_ref, load_versions

TOOLS = ("syft", "oras", "cosign")
"""The publishing tools, in the order publish runs them."""
PINNED = re.compile(r"(?P<name>[^@\s]+):(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})@sha256:[0-9a-f]{64}")


def tool_image(
    name: str, versions: Mapping[str, Any] | None = None, rewrites: ImageRewrites = NO_REWRITES
) -> str:
    """The pinned image of publishing tool ``name`` (``[images] <name>`` in versions.toml), as the
    site keeps it (``rewrites``): the pin is checked on the reference as versions.toml names it."""
    ref = image_ref(load_versions() if versions is None else versions, name)
    match = PINNED.fullmatch(ref)
    if match is None or "/" in match.group("tag"):
        raise HeliosError(
            f"{SOURCE}: [images] {name} = {ref!r} is not pinned by tag and digest",
            hint="write it as name:tag@sha256:<64 lower-case hex digits>, the index digest of that tag",
        )
    return rewrites.apply(ref)


def tool_images(rewrites: ImageRewrites = NO_REWRITES) -> dict[str, str]:
    """Every publishing tool's image, as the site keeps it."""
    return {name: tool_image(name, rewrites=rewrites) for name in TOOLS}
