"""A mirror on local disk: listing it, checking its entries, and making or completing it.

Engine-free: files are fetched with urllib (https, http or file URLs) and git sources with the git
command, so `helios inputs DIR` runs on any connected machine with git. Every entry is verified
the way the hooks verify it (the hook library's lib/download.sh and lib/git.sh): a file by its
sha256, a bundle by cloning it and comparing HEAD with the pinned commit.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import subprocess
import tempfile
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import HeliosError
from pipeline.mirror import (
    FILES_DIR,
    GIT_DIR,
    Input,
    Kind,
    Mirror,
    NotVerifiable,
    empty_mirror,
    entry_kind,
    unique,
)
from pipeline.tree import CHUNK, file_sha256, link_problem, readable, unreadable

FETCH_TIMEOUT = 60  # seconds without progress before a download is given up


@dataclass(frozen=True)
class Scan:
    """What a mirror folder holds under sha256/ and git/: its files, and what no entry can be."""

    files: list[str]
    """Readable regular files (or links to them inside the mirror), as mirror paths, sorted."""
    problems: dict[str, str]
    """Mirror paths of everything else, with what is wrong: a folder named like an entry, a link
    out of the mirror or to nothing, a file that cannot be read, a folder that cannot be listed."""

    @property
    def entries(self) -> list[str]:
        """The files laid out as entries (sha256/<hex>, git/<owner>/<repo>/<commit>.bundle)."""
        return [path for path in self.files if entry_kind(path) is not None]


def scan(root: Path) -> Scan:
    """Every file and problem under the mirror at ``root``; an error when ``root`` is no folder."""
    if not root.is_dir():
        raise HeliosError(f"--inputs {root}: no such folder", hint="make one with `helios inputs DIR`")
    if not readable(root, is_dir=True):
        raise unreadable(root, PermissionError(errno.EACCES, "Permission denied"))
    top = root.resolve()
    files: list[str] = []
    problems: dict[str, str] = {}

    def relative(path: str | Path) -> str:
        return Path(path).relative_to(root).as_posix()

    def cannot_list(error: OSError) -> None:
        problems[relative(error.filename or root)] = f"cannot list this folder: {error.strerror}"

    for name in (FILES_DIR, GIT_DIR):
        start = root / name
        if not (start.exists() or start.is_symlink()):
            continue
        if start.is_symlink() or not start.is_dir():
            problems[name] = "is not a folder"
            continue
        for folder, dirs, names in os.walk(start, onerror=cannot_list):
            for entry in sorted(dirs):
                path = Path(folder, entry)
                if path.is_symlink():
                    problems[relative(path)] = link_problem(path, top) or "is a symlink to a folder"
                    dirs.remove(entry)
                elif entry_kind(relative(path)) is not None:
                    problems[relative(path)] = "is a folder, not a file"
            for entry in sorted(names):
                path = Path(folder, entry)
                why = _file_problem(path, top)
                if why is None:
                    files.append(relative(path))
                else:
                    problems[relative(path)] = why
    return Scan(sorted(files), problems)


def _file_problem(path: Path, top: Path) -> str | None:
    """Why ``path`` cannot be read as a mirror file (None: it can)."""
    if path.is_symlink() and (problem := link_problem(path, top)) is not None:
        return problem
    if not stat.S_ISREG(path.stat().st_mode):  # a fifo would block the reader forever
        return "is not a regular file"
    if not readable(path, is_dir=False):
        return "cannot read it: Permission denied"
    return None


class Digests(Mapping[str, str]):
    """The content digest of each entry, read from disk when first asked for, then kept."""

    def __init__(self, root: Path, paths: Iterable[str]) -> None:
        self.root = root
        self._paths = tuple(paths)
        self._known: dict[str, str] = {}

    def __getitem__(self, path: str) -> str:
        if path not in self._paths:
            raise KeyError(path)
        if path not in self._known:
            self._known[path] = file_sha256(self.root / path)
        return self._known[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, path: object) -> bool:
        return path in self._paths


def open_mirror(root: Path, *, offline: bool = False) -> Mirror:
    """The mirror at ``root``: its entries (digested as the plan needs them) and its problems.

    Entries are verified against their pins when a build or a plan asks for their state.
    """
    found = scan(root)
    if not found.files and not found.problems:
        raise empty_mirror(f"--inputs {root}")
    digests = Digests(root, found.entries)

    def verify(item: Input) -> str | None:
        if item.kind is Kind.FILE:
            actual = digests[item.path]
            return None if actual == item.pin else f"wrong hash: its content has sha256 {actual}"
        return check(root / item.path, item.kind, item.pin)

    return Mirror(digests, offline=offline, location=str(root), problems=found.problems, verify=verify)


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False, env=env)


NO_GIT = "git is not installed here"


def bundle_head(bundle: Path) -> str:
    """The commit HEAD names in a clone of ``bundle``; a HeliosError when git cannot clone it.

    Without git the bundle cannot be checked at all: that is NotVerifiable, not a bad bundle.
    """
    if shutil.which("git") is None:
        raise NotVerifiable(NO_GIT)
    with tempfile.TemporaryDirectory(prefix="helios-bundle-") as scratch:
        clone = Path(scratch) / "clone"
        cloned = _git("clone", "-q", "--bare", str(bundle), str(clone))
        if cloned.returncode != 0:
            raise HeliosError(f"git cannot clone it as a bundle ({_last_line(cloned.stderr)})")
        head = _git("rev-parse", "-q", "--verify", "HEAD^{commit}", cwd=clone)
        return head.stdout.strip() if head.returncode == 0 else "no HEAD"


def _last_line(text: str) -> str:
    """git's own reason: its first error: or fatal: line, else its last line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    for prefix in ("error:", "fatal:"):
        found = next((line for line in lines if line.startswith(prefix)), None)
        if found:
            return found
    return lines[-1] if lines else "no message"


def check(file: Path, kind: Kind, pin: str) -> str | None:
    """What is wrong with ``file`` as the entry of a ``kind`` input pinned at ``pin`` (None: sound).

    A file must have the pinned sha256; a bundle must clone, with HEAD at the pinned commit.
    Raises NotVerifiable for a bundle when git is not installed.
    """
    if kind is Kind.FILE:
        actual = file_sha256(file)
        return None if actual == pin else f"wrong hash: its content has sha256 {actual}"
    try:
        head = bundle_head(file)
    except HeliosError as error:
        return error.message
    return None if head == pin else f"wrong commit: its HEAD is {head}, not {pin}"


NOT_AN_ENTRY = "not a mirror entry: expected sha256/<64 hex> or git/<owner>/<repo>/<40 hex>.bundle"


@dataclass(frozen=True)
class Review:
    """A mirror checked against the pins: what is wrong, what no pin uses, what could not be checked."""

    problems: dict[str, str] = field(default_factory=dict)
    """What is wrong, by path: every bad file, and every place where an entry should be but is not."""
    unused: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    """Entries that could not be verified here (git bundles without git)."""
    found: frozenset[str] = frozenset()
    """Every path there is something at, sound or not."""

    @property
    def errors(self) -> list[str]:
        """One "<path>: <what is wrong>" line per problem."""
        return [f"{path}: {why}" for path, why in self.problems.items()]


def review(root: Path, pins: Iterable[Input]) -> Review:
    """Check every entry of the mirror at ``root``; ``pins`` are every input any build can use."""
    used = {item.path for item in pins}
    found = scan(root)
    result = Review(problems=dict(found.problems), found=frozenset([*found.files, *found.problems]))
    for path in found.files:
        parsed = entry_kind(path)
        try:
            problem = NOT_AN_ENTRY if parsed is None else check(root / path, *parsed)
        except NotVerifiable:
            result.unchecked.append(path)
            continue
        if problem is not None:
            result.problems[path] = problem
        elif path not in used:
            result.unused.append(path)
    return result


def fetch_file(url: str, dest: Path) -> None:
    """Download ``url`` (https, http or file) to ``dest``."""
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response, dest.open("wb") as out:
            shutil.copyfileobj(response, out, CHUNK)
    except (OSError, ValueError) as error:
        raise HeliosError(f"could not download {url}: {error}") from None


def fetch_bundle(url: str, commit: str, dest: Path) -> None:
    """A shallow bundle of ``commit`` of the git repository at ``url``, its HEAD at that commit."""
    if shutil.which("git") is None:
        raise HeliosError("git is not installed", hint="install git to make git bundles")
    with tempfile.TemporaryDirectory(prefix="helios-git-") as scratch:
        repo = Path(scratch)
        for args in (
            ("init", "-q"),
            ("fetch", "-q", "--depth", "1", url, commit),
            ("-c", "advice.detachedHead=false", "checkout", "-q", "--detach", "FETCH_HEAD"),
            ("bundle", "create", "-q", str(dest.resolve()), "HEAD"),
        ):
            done = _git(*args, cwd=repo)
            if done.returncode != 0:
                raise HeliosError(f"could not fetch commit {commit} from {url}: {_last_line(done.stderr)}")


Fetcher = Callable[[Input, Path], None]


def fetch_input(item: Input, dest: Path) -> None:
    """Fetch ``item`` from upstream to ``dest``."""
    if item.kind is Kind.FILE:
        fetch_file(item.url, dest)
    else:
        fetch_bundle(item.url, item.pin, dest)


@dataclass(frozen=True)
class Outcome:
    """What `make_mirror` did with one input."""

    item: Input
    action: str
    """'kept' (already there and sound), 'added', 'replaced' (was corrupt), or 'failed'."""
    detail: str = ""


def make_mirror(root: Path, inputs: Iterable[Input], fetch: Fetcher = fetch_input) -> list[Outcome]:
    """Make the mirror at ``root`` hold every one of ``inputs``, verified.

    Idempotent: a sound entry is kept; a corrupt one is replaced (and said so); a new one is
    fetched beside its place and moved there only once it has passed its check. What cannot be
    fetched or written is a failed outcome, never a half-written entry.
    """
    wanted = unique(inputs)
    bundles = sum(1 for item in wanted if item.kind is Kind.GIT)
    if bundles and shutil.which("git") is None:
        raise HeliosError(
            f"git is not installed: it is needed to make and check {bundles} git bundle(s)",
            hint="install git, then run it again",
        )
    return [_complete(root, item, fetch) for item in wanted]


def _complete(root: Path, item: Input, fetch: Fetcher) -> Outcome:
    entry = root / item.path
    if entry.is_symlink() or (entry.exists() and not entry.is_file()):
        return Outcome(item, "failed", f"{entry} is not a regular file: remove it and run this again")
    partial = entry.with_name(f".{entry.name}.partial")
    try:
        before = check(entry, item.kind, item.pin) if entry.exists() else None
        if entry.exists() and before is None:
            return Outcome(item, "kept")
        entry.parent.mkdir(parents=True, exist_ok=True)
        fetch(item, partial)
        problem = check(partial, item.kind, item.pin)
        if problem is not None:
            raise HeliosError(f"{item.url} does not match its pin: {problem}")
        partial.replace(entry)
    except HeliosError as error:
        return Outcome(item, "failed", error.message)
    except OSError as error:
        return Outcome(item, "failed", f"cannot write {error.filename or entry}: {error.strerror}")
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return Outcome(item, "replaced", before) if before else Outcome(item, "added")


def validate_mirror(
    root: Path, pins: Iterable[Input], needed: Iterable[tuple[str, str, Input]]
) -> tuple[list[HeliosError], list[str]]:
    """The errors and warnings `helios validate --inputs` reports for the mirror at ``root``.

    ``pins`` are every input any build can use; ``needed`` names each input the mirror must serve
    with the distro and platform that need it. Errors: every bad file or place, every needed input
    it lacks, and bundles that cannot be checked here; warnings: entries no pin uses.
    """
    found = review(root, pins)
    if not found.found:
        return [empty_mirror(f"--inputs {root}")], []
    repair = "delete it, or replace it with `helios inputs DIR`"
    errors = [HeliosError(f"{root}/{line}", hint=repair) for line in found.errors]
    if found.unchecked:
        errors.append(
            HeliosError(
                f"{NO_GIT}: {len(found.unchecked)} git bundle(s) of {root} cannot be checked",
                hint="install git, then run this again",
            )
        )
    users: dict[str, tuple[Input, dict[str, None], dict[str, None]]] = {}
    for distro, platform, needed_item in needed:
        _, distros, platforms = users.setdefault(needed_item.path, (needed_item, {}, {}))
        distros[distro], platforms[platform] = None, None
    missing = []
    for path, (item, distros, platforms) in users.items():
        if path not in found.found:
            who = f"{', '.join(distros)} on {', '.join(platforms)}"
            missing.append(
                HeliosError(f"{root}/{path}: missing: {item.name} ({item.pin_label}), which {who} need(s)")
            )
    if missing:  # one hint for them all, on the line that counts them
        errors += missing
        errors.append(
            HeliosError(
                f"{root} lacks {len(missing)} pinned input(s) that the chosen builds need",
                hint="add them with `helios inputs DIR`, or check only what this mirror serves "
                "with `--distro NAME` and `--platform P`",
            )
        )
    warnings = [
        f"{root}/{path}: no pin uses it (kept: a mirror may serve several versions)" for path in found.unused
    ]
    return errors, warnings
