"""Read-only views of a Helios hook tree (common/, distros/), on disk or in memory.

The engine-free core (catalogue, plan, validation) reads the tree only through :class:`Tree`,
so the same code serves the CLI, which reads the checkout on disk, and the Dagger module,
which reads a snapshot taken from a ``dagger.Directory``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from pipeline.errors import HeliosError
from pipeline.layout import TOPS

MAX_TEXT_BYTES = 1 << 20
"""The largest config (distro.toml, packages.toml) read: ours are a few KiB, and reads stay bounded."""
MAX_SCRIPT_BYTES = 1 << 20
"""The largest hook or library script: ours are a few KiB; big data belongs in a pinned download."""
CHUNK = 1 << 20


class Tree(Protocol):
    """The few questions the core asks of a tree. Paths are POSIX and relative to its root."""

    def is_file(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def list_dir(self, path: str) -> list[str]:
        """Names of the entries directly under ``path``, sorted; empty if it is not a directory."""
        ...

    def read_bytes(self, path: str) -> bytes:
        """A config's content; a file larger than MAX_TEXT_BYTES is an error, never read whole."""
        ...

    def head(self, path: str, count: int) -> bytes:
        """The first ``count`` bytes of a file (a script's shebang)."""
        ...

    def size(self, path: str) -> int:
        """A file's size in bytes."""
        ...

    def digest(self, path: str) -> str:
        """A content digest of a file, or of a directory's whole content; "" if it does not exist."""
        ...


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def too_large(path: object, size: int, limit: int, what: str) -> HeliosError:
    """``path`` is larger than a ``what`` may be."""
    return HeliosError(
        f"{path} is {size} bytes, more than a {what} may be ({limit} bytes)",
        hint="keep scripts and configs small: fetch large files in a hook with a pinned sha256, "
        "or put them in a root/ overlay",
    )


@dataclass(frozen=True)
class LocalTree:
    """A tree on disk, rooted at ``root``.

    A file's content is hashed once for as long as it is unchanged on disk (same size, times and
    inode), so checking every distro's plan does not read a large overlay file again for each.
    """

    root: Path
    _hashes: dict[str, tuple[tuple[int, ...], str]] = field(default_factory=dict, compare=False, repr=False)

    def _path(self, path: str) -> Path:
        return self.root / PurePosixPath(path)

    def is_file(self, path: str) -> bool:
        return self._path(path).is_file()

    def is_dir(self, path: str) -> bool:
        return self._path(path).is_dir()

    def list_dir(self, path: str) -> list[str]:
        directory = self._path(path)
        if not directory.is_dir():
            return []
        try:
            return sorted(entry.name for entry in directory.iterdir())
        except OSError as error:
            raise unreadable(directory, error) from None

    def read_bytes(self, path: str) -> bytes:
        content = self.head(path, MAX_TEXT_BYTES + 1)
        if len(content) > MAX_TEXT_BYTES:
            raise too_large(self._path(path), self.size(path), MAX_TEXT_BYTES, "config")
        return content

    def head(self, path: str, count: int) -> bytes:
        try:
            with self._path(path).open("rb") as stream:
                return stream.read(count)
        except OSError as error:
            raise unreadable(self._path(path), error) from None

    def size(self, path: str) -> int:
        try:
            return self._path(path).stat().st_size
        except OSError as error:
            raise unreadable(self._path(path), error) from None

    def digest(self, path: str) -> str:
        try:
            return self._digest(path)
        except OSError as error:
            raise unreadable(self._path(path), error) from None

    def _digest(self, path: str) -> str:
        target = self._path(path)
        if target.is_file():
            return _sha256(self._file_record(target, target.name))
        if not target.is_dir():
            return ""
        # A directory's digest covers names, executable bits and contents, like an image layer.
        records = b"".join(
            self._file_record(file, file.relative_to(target).as_posix())
            for file in sorted(target.rglob("*"))
            if file.is_file()
        )
        return _sha256(records)

    def _file_record(self, file: Path, name: str) -> bytes:
        """The name, executable bit and content digest of ``file``: what a layer keys it by."""
        status = file.stat()
        key = (status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino, status.st_dev)
        known = self._hashes.get(str(file))
        if known is None or known[0] != key:
            known = (key, file_sha256(file))
            self._hashes[str(file)] = known
        executable = "x" if status.st_mode & 0o111 else "-"
        record = f"{name}\0{executable}\0{known[1]}\n"
        return record.encode("utf-8", "surrogateescape")  # a name that is not UTF-8: its own bytes


def unreadable(path: Path, error: OSError) -> HeliosError:
    """A file or folder the tree cannot read, as a one-line error (not an OSError traceback)."""
    reason = error.strerror or type(error).__name__
    return HeliosError(f"cannot read {path}: {reason}", hint="make it readable by the user running helios")


def readable(path: Path, is_dir: bool) -> bool:
    mode = os.R_OK | os.X_OK if is_dir else os.R_OK
    return os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)


def _bad_name(name: str) -> str | None:
    """Why ``name`` cannot be a hook tree entry, or None."""
    if any("\udc80" <= char <= "\udcff" for char in name):  # undecodable bytes (surrogateescape)
        return "is not valid UTF-8"
    if any(unicodedata.category(char) == "Cc" for char in name):
        return "holds control characters"
    return None


def tree_hazards(root: Path, label: str) -> list[HeliosError]:
    """Entries of the tree at ``root`` that the engine would not upload as the plan reads them.

    The plan reads through symlinks, but the engine uploads a link as a link: one that leaves the
    tree (or is absolute) would point elsewhere in the build, and one to nothing would be skipped
    by the plan. Names with control characters or bytes that are not UTF-8 cannot be shown or
    mounted faithfully, and what cannot be read cannot be planned. Only ``common/`` and
    ``distros/`` are walked (a tree holds nothing else); a folder with neither is not a tree at
    all. ``label`` names ``root`` in the messages.
    """
    shown_root = label.rstrip("/") or label
    if not readable(root, is_dir=True):
        return [unreadable(Path(shown_root), PermissionError(errno.EACCES, "Permission denied"))]
    if not any(_is_real_dir(root / top) for top in TOPS):
        return [
            HeliosError(
                f"{shown_root} is not a hooks tree: it holds neither {TOPS[0]}/ nor {TOPS[1]}/",
                hint=f"pass a folder laid out like ours ({TOPS[0]}/build, {TOPS[0]}/root, {TOPS[1]}/<d>/...)",
            )
        ]
    problems: list[HeliosError] = []
    top = root.resolve()

    def cannot_list(error: OSError) -> None:
        problems.append(unreadable(Path(error.filename or root), error))

    def check(path: Path, is_dir: bool) -> bool:
        """Record what is wrong with ``path``; True when a folder may be walked into."""
        relative = path.relative_to(root).as_posix()
        shown = f"{shown_root}/{relative if relative.isprintable() else repr(relative)}"
        why = _bad_name(path.name)
        if why is not None:
            problems.append(
                HeliosError(f"{shown}: the name {why}", hint="rename it with printable characters")
            )
        if path.is_symlink():
            problems.extend(_bad_link(path, top, shown))
            return False
        if not readable(path, is_dir=is_dir):
            problems.append(unreadable(Path(shown), PermissionError(errno.EACCES, "Permission denied")))
            return False
        return is_dir

    for name in TOPS:
        start = root / name
        if not (start.exists() or start.is_symlink()) or not check(start, start.is_dir()):
            continue
        # Never into linked folders (they are links too), nor into folders that cannot be listed.
        for folder, dirs, files in os.walk(start, onerror=cannot_list):
            dirs.sort()
            walked = [entry for entry in dirs if check(Path(folder, entry), is_dir=True)]
            for entry in sorted(files):
                check(Path(folder, entry), is_dir=False)
            dirs[:] = walked
    return problems


def _is_real_dir(path: Path) -> bool:
    return path.is_dir() or path.is_symlink()


def link_problem(path: Path, top: Path) -> str | None:
    """What is wrong with the symlink ``path`` in the tree at ``top`` (resolved): None when it is fine.

    The engine uploads a link as a link: one that is absolute or climbs out of ``top`` would point
    elsewhere in the build, and one to nothing would be skipped by whatever reads the tree.
    """
    try:
        target = path.readlink()
    except OSError as error:
        return f"cannot read the link: {error.strerror}"
    real = Path(os.path.realpath(path))  # unlike resolve(), never raises on a link loop
    if target.is_absolute() or not real.is_relative_to(top):
        shown = repr(str(target))
        return f"is a symlink to {shown}, outside the tree: the build would copy the link, not its file"
    if not real.exists():
        return f"is a symlink to {str(target)!r}, which does not exist"
    return None


def _bad_link(path: Path, top: Path, shown: str) -> list[HeliosError]:
    problem = link_problem(path, top)
    if problem is None:
        return []
    if "outside the tree" in problem:
        hint = "copy the file into the tree, or make the link relative and inside the tree"
    else:
        hint = "point it at a file of the tree, or remove it"
    return [HeliosError(f"{shown} {problem}", hint=hint)]


def file_sha256(file: Path) -> str:
    """The sha256 of ``file``'s content, read in chunks: a large file never sits in memory."""
    digest = hashlib.sha256()
    with file.open("rb") as stream:
        for block in iter(lambda: stream.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class SnapshotTree:
    """A tree held in memory: file paths mapped to their content (``None`` when not loaded).

    ``digests`` optionally maps files to content digests computed elsewhere (for example by
    the Dagger engine); a directory's digest is then derived from the digests of its files.
    """

    files: Mapping[str, bytes | None]
    digests: Mapping[str, str] = field(default_factory=dict)
    """Content digests of files or whole directories, when known."""
    heads: Mapping[str, bytes] = field(default_factory=dict)
    """The first line of files whose content is not loaded (scripts: their shebang)."""
    sizes: Mapping[str, int] = field(default_factory=dict)
    """The size of files whose content is not loaded, when known."""

    def _under(self, path: str) -> Iterable[str]:
        prefix = path.rstrip("/") + "/"
        return (name for name in self.files if name.startswith(prefix))

    def is_file(self, path: str) -> bool:
        return path in self.files

    def is_dir(self, path: str) -> bool:
        return any(True for _ in self._under(path))

    def list_dir(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return sorted({name[len(prefix) :].split("/", 1)[0] for name in self._under(path)})

    def read_bytes(self, path: str) -> bytes:
        content = self.files.get(path)
        if content is None:
            raise FileNotFoundError(path)
        return content

    def head(self, path: str, count: int) -> bytes:
        content = self.files.get(path)
        if content is None and path not in self.heads:
            raise FileNotFoundError(path)
        return (content if content is not None else self.heads[path])[:count]

    def size(self, path: str) -> int:
        content = self.files.get(path)
        return len(content) if content is not None else self.sizes.get(path, 0)

    def digest(self, path: str) -> str:
        if path in self.digests:
            return self.digests[path]
        if path in self.files:
            return ""
        members = sorted(self._under(path))
        if not members:
            return ""
        return _sha256("".join(f"{name}\0{self.digests.get(name, '')}\n" for name in members).encode())
