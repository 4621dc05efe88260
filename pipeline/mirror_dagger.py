"""The input mirror on a Dagger engine: reading a mirror directory, and making one.

`list_mirror` turns a ``dagger.Directory`` laid out as a mirror into the engine-free
:class:`~pipeline.mirror.Mirror` the planner takes; `make_mirror` builds the mirror directory of a
selection on the engine (files through ``dag.http`` with their sha256, git sources bundled by git
in the helper image and checked by cloning the bundle back).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable

import anyio
import dagger
from dagger import dag

from pipeline.mirror import (
    BUNDLE_SUFFIX,
    FILES_DIR,
    GIT_DIR,
    Input,
    Kind,
    Mirror,
    empty_mirror,
    entry_kind,
    unique,
)

ENTRY_GLOBS = (f"{FILES_DIR}/*", f"{GIT_DIR}/*/*/*{BUNDLE_SUFFIX}")


async def list_mirror(directory: dagger.Directory, *, offline: bool = False) -> Mirror:
    """The entries of the mirror ``directory`` (laid out as docs/inputs.md says), with digests."""
    paths = [path for pattern in ENTRY_GLOBS for path in await directory.glob(pattern)]
    entries: dict[str, str] = {}
    # A glob names folders with a trailing slash: one named like an entry is not one.
    problems = {
        path.rstrip("/"): "is a folder, not a file"
        for path in paths
        if path.endswith("/") and entry_kind(path.rstrip("/")) is not None
    }

    async def digest(path: str) -> None:
        entries[path] = await directory.file(path).digest()

    async with anyio.create_task_group() as group:
        for path in paths:
            if entry_kind(path) is not None:
                group.start_soon(digest, path)
    if not entries and not problems:
        raise empty_mirror("--inputs")
    return Mirror(entries, offline=offline, location="--inputs", problems=problems)


def bundle_script(item: Input) -> str:
    """Shell that bundles ``item``'s commit to /out/bundle and proves the bundle's HEAD is it."""
    url, commit = shlex.quote(item.url), shlex.quote(item.pin)
    return " && ".join(
        [
            "git init -q /src",
            f"git -C /src fetch -q --depth 1 {url} {commit}",
            "git -C /src -c advice.detachedHead=false checkout -q --detach FETCH_HEAD",
            "mkdir -p /out && git -C /src bundle create -q /out/bundle HEAD",
            "git clone -q --bare /out/bundle /check",
            f'test "$(git -C /check rev-parse HEAD)" = {commit}',
        ]
    )


def make_mirror(inputs: Iterable[Input], helper_image: str) -> dagger.Directory:
    """A mirror directory holding every one of ``inputs``, each verified against its pin."""
    mirror = dag.directory()
    for item in unique(inputs):
        if item.kind is Kind.FILE:
            entry = dag.http(item.url, checksum=f"sha256:{item.pin}")
        else:
            entry = (
                dag.container()
                .from_(helper_image)
                .with_exec(["sh", "-c", bundle_script(item)])
                .file("/out/bundle")
            )
        mirror = mirror.with_file(item.path, entry)
    return mirror
