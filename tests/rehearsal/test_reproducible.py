"""Bit for bit: the Debian image built a second time from the same inputs is the same tree.

The second build runs in a workspace of its own (assemble.REBUILD): fresh root filesystems from
the same pristine tarballs, its own scratch and its own cache volumes, so every hook runs again and
nothing of the first build is reused; only the pristine inputs are shared (the base root
filesystems, the input mirror with its substitutes, the s6-overlay stand-in). The two trees are
then compared entry by entry: content, mode, owner, modification time, links and xattrs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pipeline.stepmounts import PACKAGES_TXT
from tests.rehearsal.chroot import CA_CHURNED, host_certificates, remove_tree
from tests.rehearsal.conftest import shared_inputs_dir
from tests.rehearsal.deadline import DEADLINE, time_left_problem
from tests.rehearsal.results import REPO, Results
from tests.rehearsal.treediff import compare, scan

pytestmark = [pytest.mark.real_versions, pytest.mark.reproducible]  # both builds use the real pins


@pytest.fixture(scope="session")
def rebuilt(built, results: Results):
    """The Debian image built again, from the same inputs, in a workspace of its own."""
    from tests.rehearsal.assemble import REBUILD, rehearse_build

    problem = time_left_problem(time.time(), os.environ.get(DEADLINE))
    if problem:
        results.record("reproducibility", f"not checked: {problem}")
        pytest.skip(problem)
    started = time.monotonic()
    again = rehearse_build(REPO, shared_inputs_dir(), results, place=REBUILD)
    results.timing("rebuild: the whole second build", time.monotonic() - started)
    return again


def installed(image: Path) -> list[str]:
    return (image / PACKAGES_TXT.lstrip("/")).read_text().splitlines()


def test_a_second_build_from_the_same_inputs_gives_the_same_tree(built, rebuilt, results: Results):
    first_packages, second_packages = installed(built.image), installed(rebuilt.image)
    moved = sorted(set(first_packages) ^ set(second_packages))
    assert not moved, (
        "the Debian archive changed between the two builds, so their inputs differ (packages that "
        f"differ: {', '.join(moved[:20])}); run the rehearsal again"
    )
    started = time.monotonic()
    first, second = scan(built.image), scan(rebuilt.image)
    diff = compare(first, second)
    results.timing("rebuild: compare the two trees", time.monotonic() - started)
    if host_certificates():
        # Both builds ran with the host's authorities installed around every exec, as an engine
        # with custom authorities does: those few times are the engine's, not the build's.
        diff, excused = diff.excusing_times_of(CA_CHURNED)
        if excused:
            results.record(
                "reproducibility: times left by the engine's certificate authorities",
                ", ".join(excused),
            )
    results.record("reproducibility: entries in each tree", f"{len(first)} and {len(second)}")
    results.record("reproducibility: differences", diff.counts())
    assert diff.empty, (
        f"two builds of the same inputs differ ({rebuilt.image} kept for a look):\n"
        + diff.report(first, second)
    )
    remove_tree(rebuilt.image.parent)  # the second build's trees; its cache volumes stay
