"""An input mirror's checks mean what they say: each entry's real state, before anything runs.

`plan --inputs` shows what each step will find (sound, corrupt and why, missing, or unchecked and
why), `build` refuses a corrupt entry (and, offline, a missing one) for every pinned input, not just
s6-overlay's, and `validate --inputs` reports bad, unreadable and missing entries. Each kind of bad
place is made for real on disk: wrong content, a renamed entry, a folder, a link to nothing, a file
that cannot be read (by an unprivileged user: root reads anything), no git.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.mirror import Input, Kind, State, plan_inputs
from pipeline.mirror_store import make_mirror, open_mirror
from pipeline.plan import Planner
from pipeline.tree import LocalTree
from pipeline.versions import load_versions
from tests.conftest import FIXTURE_VERSIONS, write_files
from tests.test_hook_scripts import sha256
from tests.test_mirror_lib import git
from tests.test_untrusted_inputs import unprivileged

TURBO = b"libjpeg-turbo release tarball"


@pytest.fixture
def pins(tmp_path_factory, monkeypatch):
    """The fixture versions, with libjpeg-turbo and KasmWeb pinned to content made here.

    Returns the KasmWeb repository (its HEAD is the pin) so tests can bundle it for real.
    """
    repo = tmp_path_factory.mktemp("upstream") / "kasmtech" / "noVNC"
    git("init", "-q", str(repo))
    (repo / "README").write_text("web client\n")
    git("add", "README", cwd=repo)
    git("commit", "-qm", "one", cwd=repo)
    commit = git("rev-parse", "HEAD", cwd=repo)
    versions = FIXTURE_VERSIONS.replace(
        "3a13a5ba767dc8264bc40b185e41368a80d5d5f945944d1dbaa4b2fb0099f4e5", sha256(TURBO)
    ).replace("bed156c565f7646434563d2deddd3a6c945b7727", commit)
    path = tmp_path_factory.mktemp("pins") / "versions.toml"
    path.write_text(versions)
    monkeypatch.setattr("pipeline.versions.VERSIONS_FILE", path)
    return repo


def inputs_of(root: Path) -> dict[str, Input]:
    plan = Planner(LocalTree(root)).plan("base", "linux/amd64")
    return {item.name: item for item in plan_inputs([plan])}


def bundle(repo: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    git("bundle", "create", "-q", str(target), "HEAD", cwd=repo)


def sound_mirror(tree: Path, repo: Path, root: Path) -> dict[str, Input]:
    """A mirror holding libjpeg-turbo and KasmWeb, both sound."""
    wanted = inputs_of(tree)
    write_files(root, {})
    (root / wanted["libjpeg_turbo"].path).parent.mkdir(parents=True, exist_ok=True)
    (root / wanted["libjpeg_turbo"].path).write_bytes(TURBO)
    bundle(repo, root / wanted["kasmweb"].path)
    return wanted


def plan_with_inputs(tree: Path, root: Path):
    return CliRunner().invoke(
        app, ["plan", "-d", "base", "--platform", "linux/amd64", "--inputs", str(root), "--root", str(tree)]
    )


def state_of(result, name: str) -> str:
    line = next(row for row in result.stdout.splitlines() if f" {name} " in row)
    path = next(part for part in line.split() if part.startswith(("sha256/", "git/")))
    return line.split(path, 1)[1].strip()


def test_plan_shows_sound_only_for_entries_that_match_their_pin(make_tree, pins, tmp_path):
    tree, root = make_tree(), tmp_path / "m"
    wanted = sound_mirror(tree, pins, root)
    result = plan_with_inputs(tree, root)
    assert result.exit_code == 0, result.output
    assert state_of(result, "libjpeg_turbo") == "sound"
    assert state_of(result, "kasmweb") == "sound"
    assert state_of(result, "kasmvnc") == "missing"
    assert "2 sound, 0 corrupt" in result.stdout
    (root / wanted["libjpeg_turbo"].path).write_bytes(b"truncated")
    other = git("rev-parse", "HEAD~0", cwd=pins)
    (pins / "README").write_text("two\n")
    git("commit", "-qam", "two", cwd=pins)
    bundle(pins, root / wanted["kasmweb"].path)  # a bundle of another commit, named as the pin
    again = plan_with_inputs(tree, root)
    assert (
        state_of(again, "libjpeg_turbo")
        == f"corrupt: wrong hash: its content has sha256 {sha256(b'truncated')}"
    )
    head = git("rev-parse", "HEAD", cwd=pins)
    assert state_of(again, "kasmweb") == f"corrupt: wrong commit: its HEAD is {head}, not {other}"


@pytest.mark.parametrize(
    ("spoil", "shown"),
    [
        (lambda entry: entry.mkdir(parents=True), "corrupt: is a folder, not a file"),
        (lambda entry: entry.symlink_to("gone"), "corrupt: is a symlink to 'gone', which does not exist"),
        (
            lambda entry: entry.symlink_to("/etc/hostname"),
            "corrupt: is a symlink to '/etc/hostname', outside",
        ),
        (lambda entry: os.mkfifo(entry), "corrupt: is not a regular file"),
        (lambda entry: entry.write_bytes(b"not a bundle"), "corrupt: git cannot clone it as a bundle"),
    ],
    ids=["folder", "dangling link", "link out", "fifo", "not a bundle"],
)
def test_what_stands_at_an_entry_place_is_named(make_tree, pins, tmp_path, spoil, shown):
    tree, root = make_tree(), tmp_path / "m"
    wanted = sound_mirror(tree, pins, root)
    entry = root / wanted["kasmweb"].path
    entry.unlink()
    spoil(entry)
    result = plan_with_inputs(tree, root)
    assert state_of(result, "kasmweb").startswith(shown), result.stdout
    assert state_of(result, "libjpeg_turbo") == "sound"


def test_without_git_a_bundle_is_unchecked_not_corrupt(make_tree, pins, tmp_path, monkeypatch):
    tree, root = make_tree(), tmp_path / "m"
    sound_mirror(tree, pins, root)
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    result = plan_with_inputs(tree, root)
    assert state_of(result, "kasmweb") == "unchecked: git is not installed here"
    assert state_of(result, "libjpeg_turbo") == "sound"
    validated = CliRunner().invoke(
        app, ["validate", "--inputs", str(root), "--root", str(tree), "-d", "base"]
    )
    assert validated.exit_code == 2
    assert "error: git is not installed here: 1 git bundle(s) of" in validated.stderr
    assert "hint: install git" in validated.stderr and "delete it" not in validated.stderr


def build(tree: Path, root: Path, *extra: str):
    return CliRunner().invoke(
        app,
        [
            "build",
            "-d",
            "base",
            "--platform",
            "linux/amd64",
            "--inputs",
            str(root),
            "--root",
            str(tree),
            *extra,
        ],
    )


def test_a_build_refuses_a_corrupt_entry_before_the_engine(make_tree, pins, tmp_path, no_engine):
    tree, root = make_tree(), tmp_path / "m"
    wanted = sound_mirror(tree, pins, root)
    (root / wanted["libjpeg_turbo"].path).write_bytes(b"truncated")
    result = build(tree, root)
    assert result.exit_code == 2, result.output
    assert f"error: {root}/{wanted['libjpeg_turbo'].path}, libjpeg_turbo (sha256 " in result.stderr
    assert "wrong hash" in result.stderr and "cannot serve this build: 1 input(s) above" in result.stderr


def test_offline_refuses_every_missing_input_not_only_s6_overlay(make_tree, pins, tmp_path, no_engine):
    tree, root = make_tree(), tmp_path / "m"
    sound_mirror(tree, pins, root)
    result = build(tree, root, "--offline")
    assert result.exit_code == 2, result.output
    missing = [name for name, item in inputs_of(tree).items() if name not in ("libjpeg_turbo", "kasmweb")]
    for name in missing:
        assert f"error: offline build: {name} (" in result.stderr, name
    assert f"cannot serve this build: {len(missing)} input(s) above" in result.stderr
    assert "kasmvnc" in missing and "s6-overlay-noarch.tar.xz" in missing


def test_validate_reports_missing_inputs_for_the_builds_the_mirror_must_serve(make_tree, pins, tmp_path):
    tree, root = make_tree(), tmp_path / "m"
    sound_mirror(tree, pins, root)
    result = CliRunner().invoke(
        app,
        ["validate", "--inputs", str(root), "--root", str(tree), "-d", "base", "--platform", "linux/amd64"],
    )
    assert result.exit_code == 2
    kasmvnc = inputs_of(tree)["kasmvnc"]
    assert f"error: {root}/{kasmvnc.path}: missing: kasmvnc (commit " in result.stderr
    assert "which base on linux/amd64 need(s)" in result.stderr
    assert "libjpeg_turbo" not in result.stderr  # sound
    missing = len(inputs_of(tree)) - 2  # all but the two sound ones
    assert f"error: {root} lacks {missing} pinned input(s) that the chosen builds need" in result.stderr
    assert result.stderr.count("hint: add them with `helios inputs DIR`") == 1  # once, not per input


def test_validate_refuses_an_empty_mirror_and_a_selection_without_one(make_tree, tmp_path):
    tree, empty = make_tree(), tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(app, ["validate", "--inputs", str(empty), "--root", str(tree)])
    assert result.exit_code == 2
    assert f"error: --inputs {empty} holds no mirror entries" in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1
    for command in (["plan", "-d", "base"], ["build", "-d", "base"]):
        refused = CliRunner().invoke(app, [*command, "--inputs", str(empty), "--root", str(tree)])
        assert refused.exit_code == 2 and "holds no mirror entries" in refused.stderr
    alone = CliRunner().invoke(app, ["validate", "-d", "base", "--root", str(tree)])
    assert alone.exit_code == 2 and "pass --inputs DIR too" in alone.stderr


@pytest.fixture
def shared(tmp_path):
    """A folder an unprivileged user can reach (pytest's tmp_path is private to its owner)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="helios-mirror-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_unreadable_entries_and_folders_are_errors_not_tracebacks(make_tree, pins, shared):
    tree = write_files(shared / "tree", {})
    shutil.copytree(make_tree(), tree, dirs_exist_ok=True)
    root = shared / "m"
    wanted = sound_mirror(tree, pins, root)
    (root / "git/other/project").mkdir(parents=True)
    for path in (shared, *shared.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (root / wanted["libjpeg_turbo"].path).chmod(0)
    (root / "git/other").chmod(0o700)
    with unprivileged():
        planned = plan_with_inputs(tree, root)
        validated = CliRunner().invoke(
            app, ["validate", "--inputs", str(root), "--root", str(tree), "-d", "base"]
        )
        built = build(tree, root)
    assert planned.exit_code == 0 and "Traceback" not in planned.output, planned.output
    assert state_of(planned, "libjpeg_turbo") == "corrupt: cannot read it: Permission denied"
    assert validated.exit_code == 2 and "Traceback" not in validated.output
    assert (
        f"error: {root}/{wanted['libjpeg_turbo'].path}: cannot read it: Permission denied" in validated.stderr
    )
    assert f"error: {root}/git/other: cannot list this folder: Permission denied" in validated.stderr
    assert built.exit_code == 2 and "cannot read it: Permission denied" in built.stderr


def test_inputs_into_a_folder_it_cannot_make_or_write_is_one_error(make_tree, shared):
    tree = write_files(shared / "tree", {})
    shutil.copytree(make_tree(), tree, dirs_exist_ok=True)
    locked = shared / "locked"
    locked.mkdir(mode=0o555)
    locked.chmod(0o555)
    for path in (shared, *shared.rglob("*")):
        if path != locked:
            path.chmod(0o755 if path.is_dir() else 0o644)
    load_versions()  # read by root: the pinned versions live in root's own temporary folder
    with unprivileged():
        inside = CliRunner().invoke(app, ["inputs", str(locked / "m"), "-d", "base", "--root", str(tree)])
        into = CliRunner().invoke(app, ["inputs", str(locked), "-d", "base", "--root", str(tree)])
    assert inside.exit_code == 2 and "Traceback" not in inside.output
    assert f"error: cannot make the mirror folder {locked / 'm'}: Permission denied" in inside.stderr
    assert into.exit_code == 2 and f"error: cannot write into the mirror folder {locked}" in into.stderr
    assert list(locked.iterdir()) == []


def test_inputs_without_git_is_its_own_error(make_tree, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    result = CliRunner().invoke(
        app, ["inputs", str(tmp_path / "m"), "-d", "base", "--root", str(make_tree())]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "error: git is not installed: it is needed to make and check" in result.stderr


def test_make_mirror_fails_an_entry_it_cannot_write_and_goes_on(tmp_path):
    item = Input("tool", "tool", Kind.FILE, "file:///nonexistent", "a" * 64)
    (tmp_path / "m" / item.path).mkdir(parents=True)  # a folder where the entry goes
    (outcome,) = make_mirror(tmp_path / "m", [item], fetch=lambda i, dest: dest.write_bytes(b"x"))
    assert outcome.action == "failed" and "is not a regular file: remove it" in outcome.detail


def test_open_mirror_digests_only_the_entries_a_plan_reads(tmp_path, monkeypatch):
    """A mirror of many large entries is not read whole to plan one build."""
    import pipeline.mirror_store as store

    root = tmp_path / "m"
    for n in range(5):
        write_files(root, {f"sha256/{str(n) * 64}": "x"})
    read: list[Path] = []
    monkeypatch.setattr(store, "file_sha256", lambda path: read.append(path) or "d")
    mirror = open_mirror(root)
    assert read == [] and len(mirror.entries) == 5
    assert mirror.entries[f"sha256/{'1' * 64}"] == "d" and read == [root / f"sha256/{'1' * 64}"]
    assert mirror.state(Input("x", "x", Kind.FILE, "u", "2" * 64))[0] is State.CORRUPT  # its hash is "d"


@pytest.mark.asyncio
async def test_the_module_names_a_folder_at_an_entry_place_and_refuses_an_empty_mirror(tmp_path):
    from pipeline.errors import HeliosError
    from pipeline.mirror_dagger import list_mirror
    from tests.test_module import FakeDirectory

    root = write_files(tmp_path / "m", {f"sha256/{'1' * 64}": "x"})
    (root / f"sha256/{'2' * 64}").mkdir()
    mirror = await list_mirror(FakeDirectory(root))  # type: ignore[arg-type]
    folder = Input("x", "x", Kind.FILE, "u", "2" * 64)
    assert mirror.state(folder) == (State.CORRUPT, "is a folder, not a file")
    assert mirror.state(Input("y", "y", Kind.FILE, "u", "1" * 64))[0] is State.UNCHECKED
    (tmp_path / "empty").mkdir()
    with pytest.raises(HeliosError, match="--inputs holds no mirror entries"):
        await list_mirror(FakeDirectory(tmp_path / "empty"))  # type: ignore[arg-type]
