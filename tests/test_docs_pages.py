"""The docs can be read: long pages open with their contents, links to headings resolve, and the
distro.toml example names every key the catalogue knows."""

from __future__ import annotations

import re

import pytest

from pipeline.catalogue import SCHEMA
from tests.conftest import REPO

LONG_PAGE = 150  # lines; a page longer than this opens with a table of contents


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def headings(text: str, levels: str = "#{1,6}") -> list[str]:
    outside_code = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.findall(rf"^{levels} (.+)$", outside_code, re.M)


PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_to_a_heading_resolves(page):
    text = page.read_text()
    for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", text):
        linked = (page.parent / target) if target else page
        assert linked.is_file(), (page.name, target)
        assert anchor in {slug(h) for h in headings(linked.read_text())}, (page.name, target, anchor)


@pytest.mark.parametrize("page", sorted((REPO / "docs").glob("*.md")), ids=lambda p: p.name)
def test_a_long_page_opens_with_a_table_of_contents(page):
    text = page.read_text()
    if len(text.splitlines()) <= LONG_PAGE:
        return
    assert "\n## Contents\n" in text, f"{page.name} is long: give it a ## Contents list"
    contents = text.split("\n## Contents\n", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"\]\(#([^)]+)\)", contents))
    wanted = {slug(h) for h in headings(text, "##") if h != "Contents"}
    assert wanted <= listed, f"{page.name}: Contents lacks {wanted - listed}"


def test_the_distro_example_names_every_distro_toml_key():
    example = (REPO / "docs/hooks.md").read_text().split("### Example: add a distro", 1)[1]
    toml = re.search(r"```toml\n(.*?)```", example, re.S)
    assert toml is not None
    named = set(re.findall(r"^\[?(\w+)\]?\s*=?", toml.group(1), re.M))
    # A key this distro cannot use (a Debian-family snapshot for Fedora) is shown commented out.
    named |= set(re.findall(r"^#\s*(\w+)\s*=", toml.group(1), re.M))
    assert set(SCHEMA) <= named, set(SCHEMA) - named
