"""The hook library's input-mirror lookups, run for real with bash.

`download` and `git_checkout` (common/build/lib.sh) take an input from HELIOS_INPUTS when the
mirror has it (sha256/<hex>, git/<owner>/<repo>/<commit>.bundle), verify it exactly as a network
download, fall back to the network when it is missing, and with HELIOS_OFFLINE=true refuse to. A
corrupt entry is an error naming the entry, never a silent trip to the network.

The git tests use bundles made here from a local repository, and, where a partial mirror of the
real pinned sources sits next to the repository (../shared/inputs, or HELIOS_TEST_INPUTS), its
bundles of the pinned upstream commits.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.versions import load_versions
from tests.helpers import SHARED_INPUTS, git, needs_curl, run_lib, sha256

ROOT = Path(__file__).resolve().parents[1]
UNREACHABLE = "http://127.0.0.1:9/never"  # discard port: any network attempt fails at once


# --- download ------------------------------------------------------------------------------------


def mirror_file(mirror: Path, content: bytes, name: str | None = None) -> Path:
    entry = mirror / "sha256" / (name or sha256(content))
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_bytes(content)
    return entry


def fetch(url: str, dest: Path, pin: str, mirror: Path, offline: bool = False):
    """`download URL DEST PIN` with the mirror at ``mirror``."""
    env = {"HELIOS_INPUTS": str(mirror), "HELIOS_OFFLINE": "true" if offline else "false"}
    return run_lib('download "$1" "$2" "$3"', url, str(dest), pin, env=env)


def test_download_takes_the_mirror_entry_offline(tmp_path: Path) -> None:
    mirror = tmp_path / "inputs"
    mirror_file(mirror, b"release")
    dest = tmp_path / "dl" / "x.tar.gz"
    result = fetch(UNREACHABLE, dest, sha256(b"release"), mirror, offline=True)
    assert result.returncode == 0, result.stderr
    assert dest.read_bytes() == b"release"
    assert "from the input mirror" in result.stdout


@pytest.mark.parametrize("content", [b"relea", b"tampered", b""], ids=["truncated", "other", "empty"])
def test_download_refuses_a_corrupt_entry_without_going_to_the_network(
    content: bytes, tmp_path: Path
) -> None:
    needs_curl()
    upstream = tmp_path / "upstream.tar.gz"
    upstream.write_bytes(b"release")  # the network copy is good: the corrupt entry must still fail
    mirror = tmp_path / "inputs"
    entry = mirror_file(mirror, content, name=sha256(b"release"))
    dest = tmp_path / "x.tar.gz"
    result = fetch(upstream.as_uri(), dest, sha256(b"release"), mirror)
    assert result.returncode != 0
    assert f"the input mirror entry {entry} is corrupt" in result.stderr
    assert "helios inputs" in result.stderr
    assert not dest.exists()


def test_download_falls_back_to_the_network_when_the_entry_is_missing(tmp_path: Path) -> None:
    needs_curl()
    upstream = tmp_path / "upstream.tar.gz"
    upstream.write_bytes(b"release")
    mirror = tmp_path / "inputs"
    mirror_file(mirror, b"something else")
    dest = tmp_path / "x.tar.gz"
    result = fetch(upstream.as_uri(), dest, sha256(b"release"), mirror)
    assert result.returncode == 0, result.stderr
    assert dest.read_bytes() == b"release"


def test_download_offline_names_the_input_its_pin_and_the_expected_path(tmp_path: Path) -> None:
    mirror = tmp_path / "inputs"
    (mirror / "sha256").mkdir(parents=True)
    pin = sha256(b"release")
    url = "https://example.org/dist/tool-1.0.tar.gz"
    env = {"HELIOS_INPUTS": str(mirror), "HELIOS_OFFLINE": "true"}
    result = run_lib('download "$1" "$2" "$3"', url, str(tmp_path / "x"), pin, env=env)
    assert result.returncode != 0
    assert "tool-1.0.tar.gz" in result.stderr and url in result.stderr
    assert f"sha256 {pin}" in result.stderr
    assert f"expected {mirror}/sha256/{pin}" in result.stderr


def test_download_offline_without_a_mirror_says_so(tmp_path: Path) -> None:
    pin = sha256(b"release")
    result = run_lib(
        'download "$1" "$2" "$3"', UNREACHABLE, str(tmp_path / "x"), pin, env={"HELIOS_OFFLINE": "true"}
    )
    assert result.returncode != 0
    assert "HELIOS_INPUTS is not set" in result.stderr
    assert f"sha256/{pin}" in result.stderr


# --- git ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/kasmtech/KasmVNC.git", "git/kasmtech/KasmVNC/{c}.bundle"),
        ("https://github.com/kasmtech/noVNC", "git/kasmtech/noVNC/{c}.bundle"),
        ("https://git.example.org/group/sub/repo.git/", "git/sub/repo/{c}.bundle"),
        ("file:///srv/git/owner/name", "git/owner/name/{c}.bundle"),
    ],
)
def test_mirror_git_path_takes_owner_and_repo_from_the_url(url: str, expected: str) -> None:
    commit = "a" * 40
    result = run_lib('_mirror_git_path "$1" "$2"', url, commit)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected.format(c=commit)


def test_mirror_git_path_refuses_a_url_without_owner() -> None:
    result = run_lib('_mirror_git_path "$1" "$2"', "https://example.org/repo.git", "a" * 40)
    assert result.returncode != 0
    assert "cannot tell owner/repo" in result.stderr


@pytest.fixture
def bundled(tmp_path: Path) -> tuple[Path, list[str]]:
    """A mirror holding a shallow bundle of the second of two commits of example/project."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "project"
    git("init", "-q", str(repo))
    commits = []
    for content in ("one\n", "two\n"):
        (repo / "file").write_text(content)
        git("add", "file", cwd=repo)
        git("commit", "-qm", content.strip(), cwd=repo)
        commits.append(git("rev-parse", "HEAD", cwd=repo))
    shallow = tmp_path / "shallow"
    git("clone", "-q", "--depth", "1", repo.as_uri(), str(shallow))
    mirror = tmp_path / "inputs"
    entry = mirror / "git" / "example" / "project" / f"{commits[1]}.bundle"
    entry.parent.mkdir(parents=True)
    git("bundle", "create", "-q", str(entry), "HEAD", cwd=shallow)
    return mirror, commits


def checkout(mirror: Path | None, url: str, commit: str, dest: Path, offline: bool = True):
    env = {"HELIOS_OFFLINE": "true" if offline else "false"}
    if mirror is not None:
        env["HELIOS_INPUTS"] = str(mirror)
    return run_lib('git_checkout "$1" "$2" "$3"', url, commit, str(dest), env=env)


def test_git_checkout_takes_a_shallow_bundle_offline(bundled, tmp_path: Path) -> None:
    mirror, (_first, second) = bundled
    dest = tmp_path / "src"
    dest.mkdir()
    (dest / "stale").write_text("from an earlier run")
    result = checkout(mirror, "https://example.org/example/project.git", second, dest)
    assert result.returncode == 0, result.stderr
    assert (dest / "file").read_text() == "two\n"
    assert not (dest / "stale").exists()
    assert git("rev-parse", "HEAD", cwd=dest) == second
    # The same state as `fetch --depth 1`: history walks stop at the pinned commit.
    assert git("log", "--format=%H", cwd=dest).split() == [second]
    assert git("remote", "get-url", "origin", cwd=dest) == "https://example.org/example/project.git"


def test_git_checkout_refuses_a_bundle_of_another_commit(bundled, tmp_path: Path) -> None:
    mirror, (first, second) = bundled
    good = mirror / "git" / "example" / "project" / f"{second}.bundle"
    wrong = good.with_name(f"{first}.bundle")
    shutil.copy(good, wrong)
    result = checkout(mirror, "https://example.org/example/project", first, tmp_path / "src", offline=False)
    assert result.returncode != 0
    assert (
        f"the input mirror entry {wrong} is corrupt: its HEAD is {second}, not the pinned commit {first}"
        in result.stderr
    )


@pytest.mark.parametrize("content", [b"not a bundle\n", b""], ids=["text", "empty"])
def test_git_checkout_refuses_a_file_that_is_no_bundle(content: bytes, bundled, tmp_path: Path) -> None:
    mirror, (_first, second) = bundled
    entry = mirror / "git" / "example" / "project" / f"{second}.bundle"
    entry.write_bytes(content)
    result = checkout(mirror, "https://example.org/example/project", second, tmp_path / "src", offline=False)
    assert result.returncode != 0
    assert f"the input mirror entry {entry} is corrupt: git cannot clone it as a bundle" in result.stderr


def test_git_checkout_refuses_a_truncated_bundle(bundled, tmp_path: Path) -> None:
    mirror, (_first, second) = bundled
    entry = mirror / "git" / "example" / "project" / f"{second}.bundle"
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    result = checkout(mirror, "https://example.org/example/project", second, tmp_path / "src")
    assert result.returncode != 0
    assert f"the input mirror entry {entry} is corrupt" in result.stderr


def test_git_checkout_offline_names_the_source_its_commit_and_the_expected_path(
    bundled, tmp_path: Path
) -> None:
    mirror, (first, _second) = bundled
    url = "https://example.org/example/project.git"
    result = checkout(mirror, url, first, tmp_path / "src")
    assert result.returncode != 0
    assert url in result.stderr and f"commit {first}" in result.stderr
    assert f"expected {mirror}/git/example/project/{first}.bundle" in result.stderr


def test_git_checkout_falls_back_to_the_network_when_the_bundle_is_missing(bundled, tmp_path: Path) -> None:
    mirror, (first, _second) = bundled
    repo = tmp_path / "project"  # a local "remote" with both commits; the mirror has only the second
    result = checkout(mirror, str(repo), first, tmp_path / "src", offline=False)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "src" / "file").read_text() == "one\n"


# --- the real pinned sources ------------------------------------------------------------------------


def pinned_git_sources() -> list[tuple[str, str, str]]:
    """(section, url, commit) of every git source versions.toml pins."""
    versions = load_versions()
    return [
        (name, table["url"], table["commit"])
        for name, table in versions.items()
        if isinstance(table, dict) and "commit" in table and "url" in table
    ]


@pytest.mark.parametrize(("section", "url", "commit"), pinned_git_sources(), ids=lambda v: str(v)[:12])
def test_git_checkout_of_each_pinned_source_from_the_shared_mirror(
    section: str, url: str, commit: str, tmp_path: Path
) -> None:
    if not SHARED_INPUTS.is_dir():
        pytest.skip(f"no partial mirror of the pinned sources at {SHARED_INPUTS} (set HELIOS_TEST_INPUTS)")
    path = run_lib('_mirror_git_path "$1" "$2"', url, commit).stdout.strip()
    if not (SHARED_INPUTS / path).is_file():
        pytest.skip(f"[{section}] {path} is not in the partial mirror at {SHARED_INPUTS}")
    dest = tmp_path / "src"
    result = checkout(SHARED_INPUTS, url, commit, dest)
    assert result.returncode == 0, result.stderr
    assert git("rev-parse", "HEAD", cwd=dest) == commit
    assert git("status", "--porcelain", cwd=dest) == ""
