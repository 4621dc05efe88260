"""Build dates and archive snapshots: distro.toml's source_date and snapshot, checked, planned and graphed.

Every hook step gets SOURCE_DATE_EPOCH; it changes only with the step's own inputs (the distro's
dates), never with the commit, so a new commit re-runs no step. A snapshot reaches only the steps
that install from the distro archive (2 and 9), as HELIOS_SNAPSHOT.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline import graph
from pipeline.catalogue import Catalogue
from pipeline.dates import DEFAULT_SOURCE_DATE, check_moment, epoch, snapshot_id
from pipeline.errors import HeliosError
from pipeline.failure import describe_failure
from pipeline.graph import Sources
from pipeline.order import Stage
from pipeline.plan import Planner
from pipeline.stepmounts import hook_command
from pipeline.tree import LocalTree
from tests.conftest import BASE_DISTRO
from tests.dagwalk import Keyer, hook_path, reachable, selections, source_directory
from tests.helpers import KASM_FROM, build, changed, edit

SNAPSHOT_STEPS = (2, 9)


def distro_toml(extra: str) -> dict[str, str]:
    return {"distros/base/distro.toml": BASE_DISTRO + extra}


def error_of(make_tree, extra: str) -> str:
    with pytest.raises(HeliosError) as caught:
        Catalogue(LocalTree(make_tree(distro_toml(extra))))
    return str(caught.value)


def test_dates_are_toml_dates_and_a_snapshot_is_the_build_date_unless_one_is_given(make_tree):
    catalogue = Catalogue(LocalTree(make_tree(distro_toml("snapshot = 2026-06-01T12:30:00Z\n"))))
    base, child = catalogue.get("base"), catalogue.get("child")
    assert base.snapshot == datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
    assert base.source_date == base.snapshot
    assert child.snapshot == base.snapshot and child.source_date == base.snapshot, "both are inherited"
    given = distro_toml("snapshot = 2026-06-01T00:00:00Z\nsource_date = 2026-02-03T04:05:06+02:00\n")
    assert Catalogue(LocalTree(make_tree(given))).get("base").source_date == datetime(
        2026, 2, 3, 2, 5, 6, tzinfo=UTC
    )
    plain = Catalogue(LocalTree(make_tree())).get("base")
    assert plain.snapshot is None and plain.source_date == DEFAULT_SOURCE_DATE


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('snapshot = "20260601T000000Z"\n', "key 'snapshot' must be a date and time with its zone"),
        ("snapshot = 2026-06-01\n", "key 'snapshot' must be a date and time with its zone"),
        ("snapshot = 2026-06-01T00:00:00\n", "key 'snapshot' is 2026-06-01T00:00:00 without a time zone"),
        ("snapshot = 2026-06-01T00:00:00.5Z\n", "with a fraction of a second"),
        ("snapshot = 2004-12-31T00:00:00Z\n", "before 2005-01-01"),
        ("snapshot = 2999-01-01T00:00:00Z\n", "which is in the future"),
        (
            "source_date = 1979-12-31T23:59:59Z\n",
            "key 'source_date' is 1979-12-31T23:59:59+00:00, before 1980",
        ),
        ("source_date = 12\n", "key 'source_date' must be a date and time with its zone"),
    ],
)
def test_a_bad_date_is_named_with_its_file_and_key(make_tree, extra, message):
    error = error_of(make_tree, extra)
    assert "distros/base/distro.toml" in error
    assert message in error
    assert "hint:" in error


def test_a_snapshot_for_a_family_whose_archives_have_none_is_refused(make_tree):
    pinned = "snapshot = 2026-06-01T00:00:00Z\n"
    assert Catalogue(LocalTree(make_tree(distro_toml(pinned)))).get("base").snapshot is not None
    rhel = BASE_DISTRO.replace('family = "debian"', 'family = "rhel"') + pinned
    with pytest.raises(HeliosError) as caught:
        Catalogue(LocalTree(make_tree({"distros/base/distro.toml": rhel})))
    assert (
        "distros/base/distro.toml: snapshot is set, but the archives of the rhel family publish no dated"
        in str(caught.value)
    )
    assert "remove snapshot" in str(caught.value)


def test_every_hook_step_gets_its_source_date_epoch_and_only_archive_steps_the_snapshot(make_tree):
    tree = make_tree(distro_toml("snapshot = 2026-06-01T00:00:00Z\n"))
    plan = Planner(LocalTree(tree)).plan("base", "linux/amd64")
    moment = datetime(2026, 6, 1, tzinfo=UTC)
    for planned in (p for p in plan.steps if p.step.is_hook):
        expected = DEFAULT_SOURCE_DATE if planned.step.stage is Stage.WEB else moment
        assert planned.env["SOURCE_DATE_EPOCH"] == str(epoch(expected)), planned.step.number
        has_snapshot = planned.step.number in SNAPSHOT_STEPS
        assert ("HELIOS_SNAPSHOT" in planned.env) is has_snapshot, planned.step.number
        if has_snapshot:
            assert planned.env["HELIOS_SNAPSHOT"] == "20260601T000000Z" == snapshot_id(moment)
    unpinned = Planner(LocalTree(make_tree())).plan("base", "linux/amd64")
    assert not any("HELIOS_SNAPSHOT" in p.env for p in unpinned.steps)


def exec_keys(root, distro: str = "debian", *, epoch_: int = 1, revision: str = "a" * 40) -> dict[str, str]:
    """The exec keys of the image graph, built with the labels and epoch a commit gives it."""
    plan = Planner(LocalTree(root)).plan(distro, "linux/amd64")
    labels = graph.oci_labels(plan, version="1", revision=revision, source_url="", epoch=epoch_)
    image = graph.image(Sources(source_directory()), plan, labels=labels, epoch=epoch_)
    return Keyer(LocalTree(root)).exec_keys(image)


# Debian's steps 2-10 with their drop-ins (step 2's libcpuid, step 9's libraries), in graph order.
DEBIAN_FROM_STEP_2 = [
    "step 2", "step 2 kasm.d-60-libcpuid.sh", *KASM_FROM(3),
    "step 9", "step 9 system.d-50-kasmvnc-libraries.sh", "step 10",
]  # fmt: skip
# What the image stage runs on their output: step 8's stamped copy, the link check on it, the
# record of the installed packages.
ON_THEIR_OUTPUT = ["link check", "packages record", "stamp step 8"]


def set_top_level_key(toml: Path, line: str) -> None:
    """Add ``line`` to the file's top-level table: before its first ``[table]``, where TOML puts it."""
    lines = toml.read_text().splitlines(keepends=True)
    first_table = next((n for n, text in enumerate(lines) if text.startswith("[")), len(lines))
    toml.write_text("".join([*lines[:first_table], line + "\n", *lines[first_table:]]))


@pytest.mark.real_versions
def test_a_new_commit_re_runs_no_step(repo_copy):
    """The commit's time and revision reach the image stage only: labels and the copied files' times,
    and with them the link check, which runs on the copies of step 8's output."""
    before = exec_keys(repo_copy, epoch_=1_700_000_000, revision="a" * 40)
    after = exec_keys(repo_copy, epoch_=1_800_000_000, revision="b" * 40)
    assert changed(before, after) == ["link check", "stamp common/root", "stamp s6", "stamp step 8"]


@pytest.mark.real_versions
@pytest.mark.parametrize(
    ("line", "reruns"),
    [
        # The archive's moment: steps 2 and 9 read it, the steps after them in their stage follow.
        ("snapshot = 2026-06-01T00:00:00Z", DEBIAN_FROM_STEP_2),
        # The build date: every step of the distro, never the web client (the same for every distro).
        ("source_date = 2026-03-01T00:00:00Z", DEBIAN_FROM_STEP_2),
    ],
)  # fmt: skip
def test_a_distro_date_re_runs_that_distros_steps_and_not_the_web_client(repo_copy, line, reruns):
    before = exec_keys(repo_copy)
    set_top_level_key(repo_copy / "distros/debian/distro.toml", line)
    after = exec_keys(repo_copy)
    assert changed(before, after) == [*reruns, *ON_THEIR_OUTPUT]
    assert "step 1" not in changed(before, after)


@pytest.mark.real_versions
def test_a_snapshot_of_debian_leaves_the_other_distros_alone(repo_copy):
    before = {name: exec_keys(repo_copy, name) for name in ("rhel", "alpine")}
    edit(repo_copy, "distros/debian/distro.toml")
    set_top_level_key(repo_copy / "distros/debian/distro.toml", "snapshot = 2026-06-01T00:00:00Z")
    assert {name: exec_keys(repo_copy, name) for name in ("rhel", "alpine")} == before


def test_system_stage_execs_are_settled_and_the_others_run_their_script_alone(make_tree):
    plan, image = build(make_tree(), "base")
    commands = [
        field.args["args"]
        for obj in reachable(image)
        for field in selections(obj)
        if field.name == "withExec"
    ]
    hooks = {hook_path(args): args for args in commands if hook_path(args).startswith("/helios/hooks/")}
    for path, args in hooks.items():
        number = int(path.rsplit("/", 1)[-1].split("-")[0])
        if plan.step(number).step.stage is Stage.SYSTEM:
            assert args[:2] == ["sh", "-c"] and args[3:] == ["helios-settle", path]
            assert f"touch -h -d @{epoch(plan.distro.source_date)}" in args[2]
        else:
            assert args == [path]
    records = [args for args in commands if "dpkg-query" in " ".join(args)]
    assert len(records) == 1 and records[0][3] == "helios-settle", "the package record is settled too"


def test_a_settled_hook_that_fails_is_reported_by_its_step(make_tree):
    plan = Planner(LocalTree(make_tree())).plan("base", "linux/amd64")
    planned = plan.step(9)
    command = hook_command(plan, planned, planned.runs[0])
    report = describe_failure(plan, command, 7, "", "no such package\n")
    assert report.startswith(
        "step 9 (system · system) failed: distros/base/build/system.sh exited with code 7"
    )
    assert "| no such package" in report


def test_the_date_check_knows_what_now_is():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    check_moment("x.toml", "snapshot", now, earliest=DEFAULT_SOURCE_DATE, now=now)
    with pytest.raises(HeliosError, match="in the future"):
        check_moment("x.toml", "snapshot", now + timedelta(seconds=1), earliest=DEFAULT_SOURCE_DATE, now=now)
