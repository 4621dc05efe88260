"""A mirror on local disk: listing it, checking its entries, and making or completing it.

Engine-free: files are fetched with urllib (https, http or file URLs) and git sources with the git
command, so `helios inputs DIR` runs on any connected machine with git. Every entry is verified
the way the hooks verify it (the hook library's lib/download.sh and lib/git.sh): a file by its
sha256, a bundle by cloning it and comparing HEAD with the pinned commit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import HeliosError
from pipeline.mirror import FILES_DIR, GIT_DIR, Input, Kind, Mirror, entry_kind, unique
from pipeline.tree import CHUNK, file_sha256

FETCH_TIMEOUT = 60  # seconds without progress before a download is given up


def entry_paths(root: Path) -> list[str]:
    """Every file under ``root``'s sha256/ and git/ folders, as mirror paths, sorted."""
    found = []
    for top in (FILES_DIR, GIT_DIR):
        folder = root / top
        if folder.is_dir():
            found += [p.relative_to(root).as_posix() for p in folder.rglob("*") if p.is_file()]
    return sorted(found)


def open_mirror(root: Path, *, offline: bool = False) -> Mirror:
    """The entries of the mirror at ``root``, each keyed by its content digest."""
    if not root.is_dir():
        raise HeliosError(f"--inputs {root}: no such folder", hint="make one with `helios inputs DIR`")
    entries = {path: file_sha256(root / path) for path in entry_paths(root)}
    return Mirror(entries, offline=offline, location=str(root))


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False, env=env)


def bundle_head(bundle: Path) -> str:
    """The commit HEAD names in a clone of ``bundle``; a HeliosError when git cannot clone it."""
    if shutil.which("git") is None:
        raise HeliosError("git is not installed", hint="install git to check or make git bundles")
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
    """
    if kind is Kind.FILE:
        actual = file_sha256(file)
        return None if actual == pin else f"wrong hash: its content has sha256 {actual}"
    try:
        head = bundle_head(file)
    except HeliosError as error:
        return error.message
    return None if head == pin else f"wrong commit: its HEAD is {head}, not {pin}"


def entry_problem(root: Path, path: str) -> str | None:
    """What is wrong with the entry ``path`` of the mirror at ``root`` (None: it is sound)."""
    parsed = entry_kind(path)
    if parsed is None:
        return "not a mirror entry: expected sha256/<64 hex> or git/<owner>/<repo>/<40 hex>.bundle"
    return check(root / path, *parsed)


@dataclass(frozen=True)
class Review:
    """A mirror checked against the pins: one line per problem, one per entry no pin uses."""

    errors: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)


def review(root: Path, pins: Iterable[Input]) -> Review:
    """Check every entry of the mirror at ``root``; ``pins`` are every input any build can use."""
    used = {item.path for item in pins}
    result = Review()
    for path in entry_paths(root):
        problem = entry_problem(root, path)
        if problem is not None:
            result.errors.append(f"{path}: {problem}")
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
    fetched beside its place and moved there only once it has passed its check.
    """
    outcomes = []
    for item in unique(inputs):
        entry = root / item.path
        before = entry_problem(root, item.path) if entry.is_file() else None
        if entry.is_file() and before is None:
            outcomes.append(Outcome(item, "kept"))
            continue
        entry.parent.mkdir(parents=True, exist_ok=True)
        partial = entry.with_name(f".{entry.name}.partial")
        try:
            fetch(item, partial)
            problem = check(partial, item.kind, item.pin)
            if problem is not None:
                raise HeliosError(f"{item.url} does not match its pin: {problem}")
            partial.replace(entry)
        except HeliosError as error:
            outcomes.append(Outcome(item, "failed", error.message))
            continue
        finally:
            partial.unlink(missing_ok=True)
        outcomes.append(Outcome(item, "replaced", before) if before else Outcome(item, "added"))
    return outcomes
