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


class Tree(Protocol):
    """The few questions the core asks of a tree. Paths are POSIX and relative to its root."""

    def is_file(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def list_dir(self, path: str) -> list[str]:
        """Names of the entries directly under ``path``, sorted; empty if it is not a directory."""
        ...

    def read_bytes(self, path: str) -> bytes: ...

    def digest(self, path: str) -> str:
        """A content digest of a file, or of a directory's whole content; "" if it does not exist."""
        ...


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class LocalTree:
    """A tree on disk, rooted at ``root``."""

    root: Path

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
        try:
            return self._path(path).read_bytes()
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
            return _sha256(_file_record(target, target.name))
        if not target.is_dir():
            return ""
        # A directory's digest covers names, executable bits and contents, like an image layer.
        records = b"".join(
            _file_record(file, file.relative_to(target).as_posix())
            for file in sorted(target.rglob("*"))
            if file.is_file()
        )
        return _sha256(records)


def unreadable(path: Path, error: OSError) -> HeliosError:
    """A file or folder the tree cannot read, as a one-line error (not an OSError traceback)."""
    reason = error.strerror or type(error).__name__
    return HeliosError(f"cannot read {path}: {reason}", hint="make it readable by the user running helios")


def _readable(path: Path, is_dir: bool) -> bool:
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
    tree (or is absolute) would point elsewhere in the build. Names with control characters or
    bytes that are not UTF-8 cannot be shown or mounted faithfully, and what cannot be read cannot
    be planned. ``label`` names ``root`` in the messages.
    """
    problems = []
    top = root.resolve()

    def cannot_list(error: OSError) -> None:
        problems.append(unreadable(Path(error.filename or root), error))

    # Never into linked folders (they are links too), nor into folders that cannot be listed.
    for folder, dirs, files in os.walk(root, onerror=cannot_list):
        dirs.sort()
        for name in sorted([*dirs, *files]):
            path = Path(folder, name)
            relative = path.relative_to(root).as_posix()
            shown = f"{label.rstrip('/')}/{relative if relative.isprintable() else repr(relative)}"
            why = _bad_name(name)
            if why is not None:
                problems.append(
                    HeliosError(f"{shown}: the name {why}", hint="rename it with printable characters")
                )
            if path.is_symlink():
                problems += _outside_link(path, top, shown)
            elif not _readable(path, is_dir=name in dirs):
                problems.append(unreadable(Path(shown), PermissionError(errno.EACCES, "Permission denied")))
                if name in dirs:
                    dirs.remove(name)
    return problems


def _outside_link(path: Path, top: Path, shown: str) -> list[HeliosError]:
    target = path.readlink()
    real = Path(os.path.realpath(path))  # unlike resolve(), never raises on a link loop
    if not target.is_absolute() and real.is_relative_to(top):
        return []
    return [
        HeliosError(
            f"{shown} is a symlink to {str(target)!r}, outside the tree: the build would copy "
            "the link, not the file the plan reads",
            hint="copy the file into the tree, or make the link relative and inside the tree",
        )
    ]


def _file_record(file: Path, name: str) -> bytes:
    executable = "x" if file.stat().st_mode & 0o111 else "-"
    record = f"{name}\0{executable}\0{_sha256(file.read_bytes())}\n"
    return record.encode("utf-8", "surrogateescape")  # a name that is not UTF-8: its own bytes


@dataclass(frozen=True)
class SnapshotTree:
    """A tree held in memory: file paths mapped to their content (``None`` when not loaded).

    ``digests`` optionally maps files to content digests computed elsewhere (for example by
    the Dagger engine); a directory's digest is then derived from the digests of its files.
    """

    files: Mapping[str, bytes | None]
    digests: Mapping[str, str] = field(default_factory=dict)
    """Content digests of files or whole directories, when known."""

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

    def digest(self, path: str) -> str:
        if path in self.digests:
            return self.digests[path]
        if path in self.files:
            return ""
        members = sorted(self._under(path))
        if not members:
            return ""
        return _sha256("".join(f"{name}\0{self.digests.get(name, '')}\n" for name in members).encode())
