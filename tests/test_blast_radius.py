"""An edit re-runs only what reads it, across every distro on both platforms (the benchmark's table).

tests/benchmarks/graph_matrix.py measures, for one edit of each hook, drop-in, library part, extra
file, overlay and pin, the execs whose cache key changes against the execs that read the edit and
what follows them; here no row may be over, and the walk must see every exec of the graphs.
"""

from __future__ import annotations

import copy
import importlib.util
import sys

import pytest

from pipeline.versions import load_versions
from tests.conftest import REPO


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """The benchmark as a module, with the repository's tree copied and walked once."""
    spec = importlib.util.spec_from_file_location("graph_matrix", REPO / "tests/benchmarks/graph_matrix.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["graph_matrix"] = module
    spec.loader.exec_module(module)
    versions = copy.deepcopy(load_versions())
    root = module.copy_tree(tmp_path_factory.mktemp("bench"))
    yield module, root, module.walk(root, versions), versions
    del sys.modules["graph_matrix"]


@pytest.mark.real_versions
def test_the_walk_sees_every_exec_of_the_matrix(bench):
    _, _, base, _ = bench
    assert len({image for image, _ in base.execs}) == 14
    assert len(base.execs) == base.selected
    assert base.converters == 0, "dagger-io's shared converter builds the graph"


@pytest.mark.slow
@pytest.mark.real_versions
def test_no_edit_re_runs_an_exec_that_does_not_read_it(bench):
    module, root, base, versions = bench
    rows = list(module.blast_radius(root, base, versions))
    edited = {row.edit for row in rows}
    assert {"common/build/lib/el9.sh", "common/build/kclient-30-file-transfer.patch"} <= edited
    assert any(name.startswith("versions.toml [kasmvnc]") for name in edited)
    over = {row.edit: sorted(row.rerun - row.reads) for row in rows if row.over}
    assert not over, over
    unread = [row.edit for row in rows if not row.reads and row.rerun]
    assert not unread, unread


@pytest.mark.real_versions
@pytest.mark.parametrize(
    ("only", "reruns"),
    [
        ("common/build/kclient-30-file-transfer.patch", 0),  # no distro ships the file server
        ("common/build/lib/el9.sh", 52),  # the RHEL family's steps 2 and 9 and what follows them
    ],
)
def test_an_edit_read_by_few_builds_re_runs_only_those(bench, only, reruns):
    module, root, base, versions = bench
    (row,) = module.blast_radius(root, base, versions, only)
    assert len(row.rerun) == len(row.reads) == reruns
    assert {image[0] for image, _ in row.rerun} <= {"rhel", "alma"}
