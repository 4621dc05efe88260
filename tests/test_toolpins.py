"""The publishing tools' pins: tag and digest, both required, and the repository's own pins obey."""

from __future__ import annotations

import pytest

from pipeline.errors import HeliosError
from pipeline.toolpins import TOOLS, tool_image

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.real_versions
@pytest.mark.parametrize("name", TOOLS)
def test_the_repository_pins_every_tool_by_tag_and_digest(name: str) -> None:
    ref = tool_image(name)
    assert "@sha256:" in ref and ":v" in ref.split("@")[0].rsplit("/", 1)[-1]


@pytest.mark.parametrize(
    "ref",
    [
        "anchore/syft:v1.51.0",  # tag only
        f"anchore/syft@{DIGEST}",  # digest only
        "anchore/syft:latest@sha256:abc",  # short digest
        f"anchore/syft:v1@{DIGEST.upper()}",  # upper-case hex
        "",
    ],
)
def test_a_pin_without_tag_and_full_digest_is_refused_with_a_hint(ref: str) -> None:
    with pytest.raises(HeliosError) as caught:
        tool_image("syft", {"images": {"syft": ref}})
    text = str(caught.value)
    assert "[images] syft" in text and "hint:" in text
    assert "\n" not in text


def test_a_missing_tool_pin_is_named() -> None:
    with pytest.raises(HeliosError, match=r"\[images\] cosign is missing"):
        tool_image("cosign", {"images": {}})


def test_a_registry_port_is_not_mistaken_for_the_tag() -> None:
    ref = f"localhost:5000/tools/oras:v1.3.3@{DIGEST}"
    assert tool_image("oras", {"images": {"oras": ref}}) == ref
    with pytest.raises(HeliosError):
        tool_image("oras", {"images": {"oras": f"localhost:5000/tools/oras@{DIGEST}"}})
