"""The rehearsal's tree comparison (tests/rehearsal/treediff.py) on small trees made here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.rehearsal.treediff import compare, scan


def tree(root: Path) -> Path:
    """A small tree with a file, a directory, a symbolic link and two hard links, at fixed times."""
    (root / "etc").mkdir(parents=True)
    (root / "etc/app.conf").write_text("setting = 1\n")
    (root / "bin").mkdir()
    (root / "bin/tool").write_text("#!/bin/sh\n")
    (root / "bin/tool").chmod(0o755)
    os.link(root / "bin/tool", root / "bin/alias")
    (root / "bin/link").symlink_to("tool")
    for path in [*sorted(root.rglob("*"), reverse=True), root]:
        os.utime(path, ns=(1_000_000_000, 1_700_000_000_000_000_000), follow_symlinks=False)
    return root


def test_two_identical_trees_have_no_difference(tmp_path):
    first, second = scan(tree(tmp_path / "a")), scan(tree(tmp_path / "b"))
    assert set(first) == {".", "etc", "etc/app.conf", "bin", "bin/tool", "bin/alias", "bin/link"}
    diff = compare(first, second)
    assert diff.empty
    assert diff.counts()["differing entries"] == 0


@pytest.mark.parametrize(
    ("change", "path", "aspects"),
    [
        (lambda r: (r / "etc/app.conf").write_text("setting = 2\n"), "etc/app.conf", ("content", "time")),
        (lambda r: (r / "etc/app.conf").chmod(0o600), "etc/app.conf", ("mode",)),
        (
            lambda r: os.utime(r / "etc/app.conf", ns=(0, 1_700_000_000_000_000_001)),
            "etc/app.conf",
            ("time",),
        ),
        (
            lambda r: ((r / "bin/link").unlink(), (r / "bin/link").symlink_to("alias")),
            "bin/link",
            ("time", "link"),
        ),
        (
            lambda r: ((r / "bin/alias").unlink(), (r / "bin/alias").write_text("#!/bin/sh\n")),
            "bin/tool",
            ("link",),
        ),
        (lambda r: os.chown(r / "etc/app.conf", 1, 1), "etc/app.conf", ("owner",)),
    ],
    ids=["content", "mode", "time", "symlink target", "hard link broken", "owner"],
)
def test_each_aspect_that_differs_is_named(tmp_path, change, path, aspects):
    if aspects == ("owner",) and os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    first = scan(tree(tmp_path / "a"))
    changed = tree(tmp_path / "b")
    change(changed)
    diff = compare(first, scan(changed))
    assert diff.differing[path] == aspects
    report = diff.report(first, scan(changed))
    assert path in report


def test_paths_that_only_one_tree_has_are_listed_on_their_side(tmp_path):
    first = tree(tmp_path / "a")
    second = tree(tmp_path / "b")
    (first / "var").mkdir()
    (second / "etc/app.conf").unlink()
    diff = compare(scan(first), scan(second))
    assert diff.only_first == ["etc/app.conf", "var"]
    assert diff.only_second == []
    assert diff.counts()["only in the first"] == 2


def test_time_only_differences_are_counted_apart(tmp_path):
    first = scan(tree(tmp_path / "a"))
    changed = tree(tmp_path / "b")
    os.utime(changed / "bin/tool", ns=(0, 5))
    (changed / "etc/app.conf").write_text("other\n")
    diff = compare(first, scan(changed))
    assert diff.time_only() == ["bin/alias", "bin/tool"]  # one inode, two paths
    counts = diff.counts()
    assert counts["time only"] == 2 and counts["content"] == 1 and counts["time"] == 3
    assert "only the time differs (2):" in diff.report(first, scan(changed))


def test_only_time_differences_of_the_named_paths_are_excused(tmp_path):
    first = scan(tree(tmp_path / "a"))
    changed = tree(tmp_path / "b")
    os.utime(changed / "etc", ns=(0, 5))  # its time alone
    (changed / "etc/app.conf").write_text("other\n")  # its content and time
    diff, excused = compare(first, scan(changed)).excusing_times_of({"etc", "etc/app.conf", "bin"})
    assert excused == ["etc"]
    assert list(diff.differing) == ["etc/app.conf"], "a content difference is never excused"
    assert not compare(first, scan(tree(tmp_path / "c"))).excusing_times_of({"etc"})[1]
