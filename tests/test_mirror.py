"""The input mirror, offline: layout, selection per distro and platform, plan env, graph isolation,
verification, making a mirror (from a local HTTP server and local git repositories), plan/validate.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline import graph
from pipeline.cli import app
from pipeline.errors import HeliosError
from pipeline.graph import Sources
from pipeline.mirror import INPUTS_MOUNT, Input, Kind, Mirror, entry_kind, git_path, plan_inputs
from pipeline.mirror_store import make_mirror, open_mirror, review
from pipeline.plan import Planner
from pipeline.tree import LocalTree
from tests.conftest import REPO
from tests.dagwalk import USER_PATH, Keyer, reachable, selections, source_directory
from tests.test_hook_scripts import run_lib, sha256
from tests.test_mirror_lib import git

# --- layout ------------------------------------------------------------------------------------


@pytest.mark.real_versions
def test_git_paths_agree_with_the_hook_library_for_every_pin() -> None:
    planner = Planner(LocalTree(REPO))
    items = plan_inputs(
        planner.plan(d, p) for d in planner.catalogue.names() for p in ("linux/amd64", "linux/arm64")
    )
    gits = [i for i in items if i.kind is Kind.GIT]
    assert {i.section for i in gits} >= {"kasmweb", "kasmvnc", "kclient", "orchis_theme"}
    for item in gits:
        assert run_lib('_mirror_git_path "$1" "$2"', item.url, item.pin).stdout.strip() == item.path


@pytest.mark.parametrize(
    ("path", "parsed"),
    [
        ("sha256/" + "a" * 64, (Kind.FILE, "a" * 64)),
        ("git/o/r/" + "b" * 40 + ".bundle", (Kind.GIT, "b" * 40)),
        ("sha256/" + "A" * 64, None),
        ("sha256/abc", None),
        ("git/o/" + "b" * 40 + ".bundle", None),
        ("git/o/r/main.bundle", None),
        ("README.md", None),
    ],
)
def test_entry_paths_are_parsed_strictly(path: str, parsed) -> None:
    assert entry_kind(path) == parsed


def test_a_git_url_without_owner_is_refused() -> None:
    with pytest.raises(HeliosError, match="owner/repo"):
        git_path("https://example.org/repo.git", "a" * 40)


# --- selection -----------------------------------------------------------------------------------


@pytest.mark.real_versions
def test_each_step_consumes_the_inputs_of_its_declared_sections() -> None:
    plan = Planner(LocalTree(REPO)).plan("debian", "linux/arm64")
    by_step = {p.step.number: {i.section for i in p.inputs} for p in plan.steps}
    assert by_step[1] == {"kasmweb"} and by_step[3] == {"libjpeg_turbo"} and by_step[4] == {"kasmvnc"}
    assert by_step[10] == {"orchis_theme", "cascadia_code"} and by_step[11] == {"s6_overlay"}
    assert by_step[9] == set() and by_step[12] == by_step[13] == set()
    names = {i.name for i in plan.step(11).inputs}
    assert "s6-overlay-aarch64.tar.xz" in names and "s6-overlay-x86_64.tar.xz" not in names
    node = next(i for i in plan.step(6).inputs if i.section == "nodejs")
    assert node.url.endswith("linux-arm64.tar.xz")


@pytest.mark.real_versions
def test_selection_follows_the_distro_and_platform() -> None:
    planner = Planner(LocalTree(REPO))
    xorg = {d: next(i for i in planner.plan(d, "linux/amd64").step(5).inputs) for d in ("debian", "rhel")}
    assert xorg["debian"].pin != xorg["rhel"].pin
    assert xorg["rhel"].url.endswith("xorg-server-1.20.14.tar.gz")
    amd = {i.path for i in plan_inputs([planner.plan("debian", "linux/amd64")])}
    arm = plan_inputs([planner.plan("debian", p) for p in ("linux/amd64", "linux/arm64")])
    extra = [i for i in arm if i.path not in amd]
    assert {"nodejs", "s6-overlay-aarch64.tar.xz"} <= {i.name for i in extra}
    assert all("arm64" in i.url or "aarch64" in i.url for i in extra)  # only per-arch assets differ


# --- plan ----------------------------------------------------------------------------------------


def mirror_with(*paths: str, offline: bool = False) -> Mirror:
    return Mirror({path: f"digest-of-{path}" for path in paths}, offline=offline, location="/m")


def test_a_mirror_gives_env_and_entries_only_to_steps_with_inputs(make_tree) -> None:
    plain = Planner(LocalTree(make_tree())).plan("base", "linux/amd64")
    kasmvnc = next(i for i in plain.step(4).inputs)
    s6 = [i.path for i in plain.step(11).inputs]
    plan = Planner(LocalTree(make_tree()), mirror=mirror_with(kasmvnc.path, *s6)).plan("base", "linux/amd64")
    assert plan.step(4).env["HELIOS_INPUTS"] == INPUTS_MOUNT and "HELIOS_OFFLINE" not in plan.step(4).env
    assert plan.step(4).mirrored == (kasmvnc.path,) and plan.step(8).mirrored == (kasmvnc.path,)
    assert plan.step(3).env["HELIOS_INPUTS"] == INPUTS_MOUNT and plan.step(3).mirrored == ()
    assert not plan.step(9).inputs and "HELIOS_INPUTS" not in plan.step(9).env
    assert plan.step(11).mirrored == tuple(s6)
    assert "HELIOS_INPUTS" not in plan.step(11).env  # the pipeline fetches s6-overlay, no hook
    assert "HELIOS_INPUTS" not in plain.step(4).env
    changed = [p.step.number for p, q in zip(plain.steps, plan.steps, strict=True) if p.digest != q.digest]
    assert 9 not in changed  # no input: the mirror does not touch it


def test_offline_sets_the_flag_and_refuses_every_input_the_mirror_lacks(make_tree) -> None:
    plain = Planner(LocalTree(make_tree())).plan("base", "linux/amd64")
    every = [i.path for i in plan_inputs([plain])]
    s6 = [i.path for i in plain.step(11).inputs]
    planner = Planner(LocalTree(make_tree()), mirror=mirror_with(*every, offline=True))
    (plan,) = planner.plan_all([("base", "linux/amd64")])
    assert plan.step(1).env["HELIOS_OFFLINE"] == "true"
    lacking = [s6[0], plain.step(4).inputs[0].path]  # s6-overlay's, and a hook's (KasmVNC)
    partial = [path for path in every if path not in lacking]
    with pytest.raises(HeliosError) as caught:
        Planner(LocalTree(make_tree()), mirror=mirror_with(*partial, offline=True)).plan_all(
            [("base", "linux/amd64")]
        )
    messages = [problem.message for problem in caught.value.problems]
    assert len(messages) == 2, messages
    assert any(m.startswith("offline build: s6-overlay-noarch.tar.xz (sha256 ") for m in messages)
    assert any(m.startswith("offline build: kasmvnc (commit ") and f"/m/{lacking[1]}" in m for m in messages)
    assert "helios inputs" in (caught.value.hint or "")  # one hint for them all
    assert "cannot serve this build: 2 input(s)" in caught.value.message
    online = Planner(LocalTree(make_tree()), mirror=mirror_with(*partial)).plan_all([("base", "linux/amd64")])
    assert online[0].step(4).mirrored == ()  # not offline: a missing input comes from upstream


# --- graph ---------------------------------------------------------------------------------------


def write_mirror(root: Path, entries: dict[str, bytes]) -> Path:
    for path, content in entries.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    return root


def graph_keys(tree: Path, mirror_root: Path) -> dict[str, str]:
    plan = Planner(LocalTree(tree), mirror=open_mirror(mirror_root)).plan("base", "linux/amd64")
    # The mirror stands where dagwalk keys a user's tree by content: the engine keys host files so.
    image = graph.image(Sources(source_directory(), None, source_directory(USER_PATH)), plan)
    return Keyer(LocalTree(tree), LocalTree(mirror_root)).exec_keys(image)


def test_changing_a_mirror_entry_re_runs_only_the_steps_that_read_it(make_tree, tmp_path: Path) -> None:
    tree = make_tree()
    plan = Planner(LocalTree(tree)).plan("base", "linux/amd64")
    kasmvnc = plan.step(4).inputs[0].path
    kasmweb = plan.step(1).inputs[0].path
    s6 = plan.step(11).inputs[0].path
    root = write_mirror(tmp_path / "m", {kasmvnc: b"bundle one", kasmweb: b"web", s6: b"s6"})
    before = graph_keys(tree, root)
    write_mirror(root, {kasmvnc: b"bundle two"})
    after = graph_keys(tree, root)
    assert sorted(k for k in before if before[k] != after[k]) == [
        "step 4",
        "step 5",
        "step 6",
        "step 7",
        "step 8",
    ]
    write_mirror(root, {"sha256/" + "9" * 64: b"an entry no step reads"})
    assert graph_keys(tree, root) == after
    write_mirror(root, {s6: b"s6 again"})
    assert sorted(k for k, v in graph_keys(tree, root).items() if after[k] != v) == ["s6"]


def test_each_step_mounts_just_its_entries_read_only_and_unmounts_them(make_tree, tmp_path: Path) -> None:
    tree = make_tree()
    plan0 = Planner(LocalTree(tree)).plan("base", "linux/amd64")
    kasmvnc, kasmweb = plan0.step(4).inputs[0].path, plan0.step(1).inputs[0].path
    root = write_mirror(tmp_path / "m", {kasmvnc: b"k", kasmweb: b"w"})
    plan = Planner(LocalTree(tree), mirror=open_mirror(root)).plan("base", "linux/amd64")
    image = graph.image(Sources(source_directory(), None, source_directory(USER_PATH)), plan)
    mounts = []
    for obj in reachable(image):
        fields = selections(obj)
        for index, field in enumerate(fields):
            if field.name == "withMountedDirectory" and field.args["path"] == INPUTS_MOUNT:
                files = [f.args["path"] for f in selections(field.args["source"]) if f.name == "withFile"]
                mounts.append((field.args.get("readOnly"), files))
                assert any(
                    f.name == "withoutMount" and f.args["path"] == INPUTS_MOUNT for f in fields[index:]
                )
    assert (True, [kasmweb]) in mounts and (True, [kasmvnc]) in mounts
    assert all(read_only for read_only, _ in mounts)


# --- checking and making a mirror ----------------------------------------------------------------


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server (the file host) and a git repository under <root>/git/owner/project."""
    files = tmp_path / "www"
    files.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(files))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", files
    finally:
        server.shutdown()


def git_project(tmp_path: Path) -> tuple[str, str]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "hosts" / "owner" / "project"
    git("init", "-q", str(repo))
    (repo / "file").write_text("one\n")
    git("add", "file", cwd=repo)
    git("commit", "-qm", "one", cwd=repo)
    return repo.as_uri(), git("rev-parse", "HEAD", cwd=repo)


def test_make_mirror_fetches_verifies_keeps_and_replaces(upstream, tmp_path: Path) -> None:
    base, files = upstream
    (files / "tool.tar.gz").write_bytes(b"release")
    url, commit = git_project(tmp_path)
    tarball = Input("tool", "tool", Kind.FILE, f"{base}/tool.tar.gz", sha256(b"release"))
    source = Input("project", "project", Kind.GIT, url, commit)
    root = tmp_path / "mirror"
    first = make_mirror(root, [tarball, source, tarball])
    assert [(o.item.name, o.action) for o in first] == [("tool", "added"), ("project", "added")]
    assert (root / tarball.path).read_bytes() == b"release"
    clone = tmp_path / "clone"
    git("clone", "-q", str(root / source.path), str(clone))
    assert git("rev-parse", "HEAD", cwd=clone) == commit
    assert [o.action for o in make_mirror(root, [tarball, source])] == ["kept", "kept"]
    (root / tarball.path).write_bytes(b"rel")  # truncated
    (root / source.path).write_text("not a bundle\n")
    again = make_mirror(root, [tarball, source])
    assert [o.action for o in again] == ["replaced", "replaced"]
    assert "wrong hash" in again[0].detail and "bundle" in again[1].detail
    assert review(root, [tarball, source]).errors == []


def test_make_mirror_refuses_what_does_not_match_its_pin(upstream, tmp_path: Path) -> None:
    base, files = upstream
    (files / "tool.tar.gz").write_bytes(b"tampered")
    url, _commit = git_project(tmp_path)
    wrong_file = Input("tool", "tool", Kind.FILE, f"{base}/tool.tar.gz", sha256(b"release"))
    missing = Input("gone", "gone", Kind.FILE, f"{base}/gone.tar.gz", sha256(b"x"))
    wrong_commit = Input("project", "project", Kind.GIT, url, "1" * 40)
    root = tmp_path / "mirror"
    outcomes = make_mirror(root, [wrong_file, missing, wrong_commit])
    assert [o.action for o in outcomes] == ["failed"] * 3
    assert "does not match its pin" in outcomes[0].detail
    assert "could not download" in outcomes[1].detail and "404" in outcomes[1].detail
    assert "could not fetch commit" in outcomes[2].detail
    assert not [p for p in root.rglob("*") if p.is_file()], "nothing unverified may stay in the mirror"


def test_review_names_each_bad_entry_once_and_lists_unused_ones(tmp_path: Path) -> None:
    url, commit = git_project(tmp_path)
    shallow = tmp_path / "work"
    git("clone", "-q", url, str(shallow))
    good = Input("project", "project", Kind.GIT, url, commit)
    root = write_mirror(
        tmp_path / "m", {"sha256/" + sha256(b"ok"): b"ok", "sha256/" + sha256(b"full"): b"fu"}
    )
    (root / good.path).parent.mkdir(parents=True)
    git("bundle", "create", "-q", str(root / good.path), "HEAD", cwd=shallow)
    shutil.copy(root / good.path, root / good.path.replace(commit, "2" * 40))
    (root / "git/owner/project/notes.txt").write_text("stray")
    found = review(root, [good])
    lines = "\n".join(found.errors)
    assert len(found.errors) == 3, lines
    assert f"sha256/{sha256(b'full')}: wrong hash" in lines
    assert f"{'2' * 40}.bundle: wrong commit: its HEAD is {commit}" in lines
    assert "notes.txt: not a mirror entry" in lines
    assert found.unused == [f"sha256/{sha256(b'ok')}"]


# --- the command line ----------------------------------------------------------------------------


@pytest.mark.real_versions
def test_plan_with_inputs_shows_what_each_step_reads_and_what_it_will_find(tmp_path: Path) -> None:
    plan = Planner(LocalTree(REPO)).plan("debian", "linux/amd64")
    kasmvnc = plan.step(4).inputs[0].path
    root = write_mirror(tmp_path / "m", {kasmvnc: b"x"})
    result = CliRunner().invoke(
        app, ["plan", "-d", "debian", "--platform", "linux/amd64", "--inputs", str(root), "--root", str(REPO)]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(
        line.startswith("4 ") and kasmvnc in line and "corrupt: git cannot clone it as a bundle" in line
        for line in lines
    )
    assert any(
        line.startswith("11 ") and "s6-overlay-x86_64.tar.xz" in line and line.endswith("missing")
        for line in lines
    )
    assert "0 sound, 1 corrupt" in result.output


@pytest.mark.real_versions
def test_validate_with_inputs_reports_bad_entries_and_warns_on_unused(tmp_path: Path) -> None:
    pin = Planner(LocalTree(REPO)).plan("debian", "linux/amd64").step(3).inputs[0].pin
    root = write_mirror(tmp_path / "m", {f"sha256/{pin}": b"truncated", "sha256/" + sha256(b"old"): b"old"})
    result = CliRunner().invoke(app, ["validate", "--inputs", str(root), "--root", str(REPO)])
    assert result.exit_code == 2
    assert f"error: {root}/sha256/{pin}: wrong hash" in result.output
    assert f"warning: {root}/sha256/{sha256(b'old')}: no pin uses it" in result.output


def test_offline_needs_a_mirror_on_the_command_line() -> None:
    result = CliRunner().invoke(app, ["build", "-d", "debian", "--offline", "--root", str(REPO)])
    assert result.exit_code == 2
    assert "--offline needs --inputs" in result.output


@pytest.mark.real_versions
def test_helios_inputs_completes_a_mirror_and_reports_each_entry(tmp_path: Path, monkeypatch) -> None:
    fetched: list[str] = []

    def fake_fetch(item: Input, dest: Path) -> None:  # upstream, as the real fetchers deliver it
        fetched.append(item.path)
        if item.kind is Kind.GIT:
            shutil.copy(shared_bundle(item), dest)
        else:
            dest.write_bytes(b"not the pinned bytes")

    monkeypatch.setattr("pipeline.mirror_store.fetch_input", fake_fetch)
    monkeypatch.setattr("pipeline.mirror_store.make_mirror.__defaults__", (fake_fetch,))
    root = tmp_path / "m"
    result = CliRunner().invoke(
        app, ["inputs", str(root), "-d", "debian", "--platform", "linux/amd64", "--root", str(REPO)]
    )
    assert result.exit_code == 1
    assert "error: sha256/" in result.output and "does not match its pin" in result.output
    assert "added" in result.output and "failed" in result.output


def shared_bundle(item: Input) -> Path:
    shared = Path(os.environ.get("HELIOS_TEST_INPUTS", REPO.parent / "shared" / "inputs"))
    if not (shared / item.path).is_file():
        pytest.skip(f"{item.path} is not in the partial mirror at {shared} (set HELIOS_TEST_INPUTS)")
    return shared / item.path
