"""Reading a hook tree out of a ``dagger.Directory`` into a :class:`SnapshotTree` for the core."""

from __future__ import annotations

import anyio
import dagger

from pipeline.layout import NAME_PATTERNS, TEXT_PATTERNS, is_script
from pipeline.tree import MAX_SCRIPT_BYTES, SnapshotTree

# The files the core reads (pipeline/layout.py): configs are loaded with their text, scripts with
# their size and first line (what validation checks), everything else by name only.


async def snapshot(source: dagger.Directory, *, digests: bool = False) -> SnapshotTree:
    """A snapshot of ``source`` with config texts; with ``digests``, content digests of every file."""
    files: dict[str, bytes | None] = {}
    heads: dict[str, bytes] = {}
    sizes: dict[str, int] = {}

    async def read(path: str) -> None:
        files[path] = (await source.file(path).contents()).encode()

    async def read_head(path: str) -> None:
        sizes[path] = await source.file(path).size()
        if sizes[path] <= MAX_SCRIPT_BYTES:  # larger is refused by size; its first line could be all of it
            heads[path] = (await source.file(path).contents(limit_lines=1)).encode()

    async with anyio.create_task_group() as group:
        for pattern in TEXT_PATTERNS:
            for path in await source.glob(pattern):
                group.start_soon(read, path)
    for pattern in NAME_PATTERNS:
        for path in await source.glob(pattern):
            if not path.endswith("/"):
                files.setdefault(path, None)
    async with anyio.create_task_group() as group:
        for path in files:
            if is_script(path):
                group.start_soon(read_head, path)
    known: dict[str, str] = {}
    if digests:
        # Hooks and configs are digested file by file, overlays as whole directories.
        overlays = {path.split("/root/", 1)[0] + "/root" for path in files if "/root/" in path}
        hooks = [path for path in files if "/root/" not in path]

        async def file_digest(path: str) -> None:
            known[path] = await source.file(path).digest()

        async def dir_digest(path: str) -> None:
            known[path] = await source.directory(path).digest()

        async with anyio.create_task_group() as group:
            for path in hooks:
                group.start_soon(file_digest, path)
            for path in overlays:
                group.start_soon(dir_digest, path)
    return SnapshotTree(files=files, digests=known, heads=heads, sizes=sizes)
