"""Two root filesystems compared entry by entry: content, mode, owner, time, links and xattrs.

What an image layer records of a file is what is compared: its kind, permission bits, owner and
group, modification time (to the nanosecond), the bytes of a regular file (sha256), the target of
a symbolic link, the device numbers of a device node, which other paths share its inode (hard
links) and its extended attributes (file capabilities live there). Access and change times are
not in an image and are not compared.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, fields
from pathlib import Path

ASPECTS = ("kind", "content", "mode", "owner", "time", "link", "xattrs")
"""What can differ between two entries of the same path, in the order reports list them."""


@dataclass(frozen=True)
class Entry:
    """One path of a tree, as an image layer records it."""

    kind: str
    """file, dir, symlink, char, block, fifo or socket."""
    content: str
    """A regular file's sha256, a device's "major:minor", else empty."""
    mode: int
    """Permission bits, with setuid, setgid and sticky."""
    owner: tuple[int, int]
    time: int
    """Modification time in nanoseconds."""
    link: str
    """A symbolic link's target; for a file with hard links in the tree, the first path of its inode."""
    xattrs: tuple[tuple[str, bytes], ...]


KINDS = {
    stat.S_IFREG: "file",
    stat.S_IFDIR: "dir",
    stat.S_IFLNK: "symlink",
    stat.S_IFCHR: "char",
    stat.S_IFBLK: "block",
    stat.S_IFIFO: "fifo",
    stat.S_IFSOCK: "socket",
}


def _walk(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every path below ``root`` (relative, "." for the root itself) with its lstat, without following links."""
    pending = [""]
    yield ".", os.lstat(root)
    while pending:
        relative = pending.pop()
        with os.scandir(root / relative if relative else root) as entries:
            for entry in entries:
                path = f"{relative}/{entry.name}" if relative else entry.name
                info = entry.stat(follow_symlinks=False)
                yield path, info
                if stat.S_ISDIR(info.st_mode):
                    pending.append(path)


def _xattrs(path: Path) -> tuple[tuple[str, bytes], ...]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:  # a file system without xattrs, or a link type that cannot carry them
        return ()
    return tuple(sorted((name, os.getxattr(path, name, follow_symlinks=False)) for name in names))


def _sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def scan(root: Path) -> dict[str, Entry]:
    """Every entry of the tree at ``root``, by its path relative to the root."""
    found: dict[str, tuple[os.stat_result, str]] = {}
    inodes: dict[tuple[int, int], list[str]] = defaultdict(list)
    for path, info in _walk(root):
        kind = KINDS.get(stat.S_IFMT(info.st_mode), "unknown")
        if kind == "file" and info.st_nlink > 1:
            inodes[(info.st_dev, info.st_ino)].append(path)
        found[path] = (info, kind)
    first_of = {path: min(paths) for paths in inodes.values() if len(paths) > 1 for path in paths}
    entries: dict[str, Entry] = {}
    for path, (info, kind) in found.items():
        full = root / path
        if kind == "file":
            content, link = _sha256(full), first_of.get(path, "")
        elif kind == "symlink":
            content, link = "", str(full.readlink())
        elif kind in ("char", "block"):
            content, link = f"{os.major(info.st_rdev)}:{os.minor(info.st_rdev)}", ""
        else:
            content, link = "", ""
        entries[path] = Entry(
            kind=kind,
            content=content,
            mode=stat.S_IMODE(info.st_mode),
            owner=(info.st_uid, info.st_gid),
            time=info.st_mtime_ns,
            link=link,
            xattrs=_xattrs(full),
        )
    return entries


@dataclass
class TreeDiff:
    """How two scans differ: paths only one has, and per shared path the aspects that differ."""

    only_first: list[str] = field(default_factory=list)
    only_second: list[str] = field(default_factory=list)
    differing: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.only_first or self.only_second or self.differing)

    def paths_with(self, aspect: str) -> list[str]:
        """The shared paths whose ``aspect`` differs."""
        return sorted(path for path, aspects in self.differing.items() if aspect in aspects)

    def time_only(self) -> list[str]:
        """The shared paths that differ in their modification time and in nothing else."""
        return sorted(path for path, aspects in self.differing.items() if aspects == ("time",))

    def excusing_times_of(self, paths: AbstractSet[str]) -> tuple[TreeDiff, list[str]]:
        """This diff without the time-only differences of ``paths``; and those it left out."""
        excused = sorted(path for path in self.time_only() if path in paths)
        kept = {path: aspects for path, aspects in self.differing.items() if path not in excused}
        return TreeDiff(list(self.only_first), list(self.only_second), kept), excused

    def counts(self) -> dict[str, int]:
        """How many paths differ, in all and by aspect."""
        counts = {
            "differing entries": len(self.only_first) + len(self.only_second) + len(self.differing),
            "only in the first": len(self.only_first),
            "only in the second": len(self.only_second),
        }
        counts |= {aspect: len(self.paths_with(aspect)) for aspect in ASPECTS}
        counts["time only"] = len(self.time_only())
        return counts

    def report(self, first: Mapping[str, Entry], second: Mapping[str, Entry], limit: int = 25) -> str:
        """The differences in words: counts, then up to ``limit`` paths per kind, with both values."""
        lines = [", ".join(f"{name}: {count}" for name, count in self.counts().items() if count)]
        for title, paths in (
            ("only in the first", self.only_first),
            ("only in the second", self.only_second),
        ):
            lines += _listed(title, sorted(paths), limit, lambda path: path)
        time_only = self.time_only()
        for aspect in ASPECTS:
            paths = self.paths_with(aspect)
            if aspect == "time":  # those that differ in time alone are listed last, by path only
                paths = sorted(set(paths) - set(time_only))
            lines += _listed(
                f"{aspect} differs",
                paths,
                limit,
                lambda path, aspect=aspect: (
                    f"{path}: {_shown(first[path], aspect)} != {_shown(second[path], aspect)}"
                ),
            )
        lines += _listed("only the time differs", time_only, limit, lambda path: path)
        return "\n".join(lines)


def _listed(title: str, paths: list[str], limit: int, describe: Callable[[str], str]) -> list[str]:
    if not paths:
        return []
    shown = [f"  {describe(path)}" for path in paths[:limit]]
    more = [f"  ... and {len(paths) - limit} more"] if len(paths) > limit else []
    return [f"{title} ({len(paths)}):", *shown, *more]


def _shown(entry: Entry, aspect: str) -> str:
    value = getattr(entry, aspect)
    if aspect == "mode":
        return f"{value:04o}"
    if aspect == "content" and len(value) == 64:
        return value[:12]
    return str(value)


def compare(first: Mapping[str, Entry], second: Mapping[str, Entry]) -> TreeDiff:
    """The differences between two scans of the same kind of tree."""
    diff = TreeDiff(
        only_first=sorted(set(first) - set(second)),
        only_second=sorted(set(second) - set(first)),
    )
    for path in sorted(set(first) & set(second)):
        a, b = first[path], second[path]
        aspects = tuple(f.name for f in fields(Entry) if getattr(a, f.name) != getattr(b, f.name))
        if aspects:
            diff.differing[path] = tuple(aspect for aspect in ASPECTS if aspect in aspects)
    return diff
