"""kclient as step 7 patches it: the pages ask only for scripts that exist.

Runs on the real kclient tree of the pinned commit, from the input mirror's bundle (see
tests/test_web_client.py); skips, saying so, where the mirror is absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from tests.test_hook_scripts import COMMON_BUILD, VERSIONS
from tests.test_web_client import git_apply, mirrored_tree

KCLIENT = VERSIONS["kclient"]


def script_sources(html: str) -> Iterator[str]:
    yield from re.findall(r"<script\b[^>]*\bsrc=\"([^\"]+)\"", html)


def test_patched_pages_reference_no_missing_script(tmp_path: Path) -> None:
    tree = mirrored_tree(tmp_path, "linuxserver/kclient", KCLIENT["commit"])
    git_apply(tree, [str(p) for p in sorted(COMMON_BUILD.glob("kclient-*.patch"))])
    server = (tree / "index.js").read_text()
    # socket.io serves its client script under each socket's path; everything else is a file that
    # the /public route serves from the tree.
    socket_paths = set(re.findall(r"SUBFOLDER\s*\+\s*'([^']*socket\.io)'", server))
    assert socket_paths, "no socket.io path found in kclient's index.js"
    pages = sorted((tree / "public").glob("*.html"))
    assert pages
    missing = []
    for page in pages:
        for src in script_sources(page.read_text()):
            if src.removesuffix("/socket.io.js") in socket_paths:
                continue
            if re.match(r"^[a-z]+:|^//", src) or not (tree / src.split("?")[0]).is_file():
                missing.append(f"{page.name}: {src}")
    assert not missing, f"pages ask for scripts that do not exist: {missing}"
