"""The rules that live on the build order's rows and in one place each: feeds, settings, the tree
layout, the families table and the paths hooks get as HELIOS_*."""

from __future__ import annotations

import re
from fnmatch import fnmatch

import pytest

from pipeline import layout
from pipeline.catalogue import Catalogue
from pipeline.families import FAMILIES
from pipeline.hookenv import FEED_ENV, FEED_MOUNTS, PATH_ENV
from pipeline.order import BUILD_ORDER, Feed, Stage
from pipeline.plan import Planner
from pipeline.stepmounts import cache_volumes, feeds, packages_record_script
from pipeline.tree import LocalTree
from tests.conftest import REPO, write_files

SHIPPED_PLATFORMS = ("linux/amd64", "linux/arm64")
HOOK_PATHS = ("/helios/out", "/helios/web", "/helios/packages.list", "/helios/hooks")


def test_no_code_compares_step_numbers():
    """What a step gets is declared on its row, not decided by `step.number == N` elsewhere."""
    pattern = re.compile(r"\.number\s*(==|!=|<|>|in\b)|\bstep\(\d+\)|\b(WEB|PACKAGE|PACKAGES_LIST)_STEP\b")
    for path in sorted((REPO / "pipeline").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            assert not pattern.search(line), f"{path.relative_to(REPO)}:{number}: {line.strip()}"


def test_feeds_come_from_the_rows(make_tree):
    plan = Planner(LocalTree(make_tree())).plan("base", "linux/amd64")
    consumers = {feed: [p.step.number for p in plan.steps if feed in p.step.consumes] for feed in Feed}
    assert consumers == {Feed.WEB_CLIENT: [8], Feed.PACKAGE_LIST: [9]}
    for planned in plan.steps:
        assert feeds(planned.step) == {FEED_MOUNTS[f]: f for f in planned.step.consumes}


def test_hook_env_carries_the_paths_settings_and_distro_its_row_declares(make_tree):
    plan = Planner(LocalTree(make_tree())).plan("base", "linux/arm64")
    for planned in plan.steps:
        if not planned.step.is_hook:
            continue
        env, step = planned.env, planned.step
        assert {name: env[name] for name in PATH_ENV} == PATH_ENV
        assert ("HELIOS_WEB" in env) is (Feed.WEB_CLIENT in step.consumes)
        assert ("HELIOS_PACKAGES" in env) is (Feed.PACKAGE_LIST in step.consumes)
        assert ("HELIOS_DISTRO" in env) is step.per_distro
        assert ("HELIOS_VIRTUALGL" in env) is ("virtualgl" in step.settings)
    assert plan.step(8).env["HELIOS_WEB"] == "/helios/web"
    assert plan.step(9).env["HELIOS_PACKAGES"] == "/helios/packages.list"
    assert "HELIOS_ARCH" not in plan.step(1).env, "the web client must not vary by platform"


@pytest.mark.real_versions
def test_the_layout_names_every_file_a_plan_reads(repo_copy):
    """The snapshot's patterns (what the module reads of a tree) cover every file a plan mounts."""
    named = {
        p.relative_to(repo_copy).as_posix()
        for pattern in layout.NAME_PATTERNS
        for p in repo_copy.glob(pattern)
    }
    texts = {
        p.relative_to(repo_copy).as_posix()
        for pattern in layout.TEXT_PATTERNS
        for p in repo_copy.glob(pattern)
    }
    assert "distros/rhel/distro.toml" in texts and layout.PACKAGES_FILE in texts
    planner = Planner(LocalTree(repo_copy))
    for distro in planner.catalogue.names():
        for planned in planner.plan(distro, "linux/amd64").steps:
            for run in planned.runs:
                for ref in (run.script, *run.files):
                    assert ref.path in named, f"{ref.path} is outside layout.NAME_PATTERNS"


def test_the_upload_rule_is_one_rule_in_two_spellings(tmp_path):
    """host_include (a host folder's include list) and source_ignore (Dagger's Ignore) keep the same files."""
    files = write_files(
        tmp_path,
        {"common/build/a.sh": "", "distros/x/distro.toml": "", "pipeline/main.py": "", "README.md": ""},
    )
    every = [p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file()]
    kept_by_include = {path for path in every if any(fnmatch(path, glob) for glob in layout.host_include())}
    assert kept_by_include == {"common/build/a.sh", "distros/x/distro.toml"}
    from pipeline.cli.run import HOST_INCLUDE
    from pipeline.main import SOURCE_FILTER

    assert (layout.host_include(), layout.source_ignore()) == (HOST_INCLUDE, SOURCE_FILTER)
    ignore = layout.source_ignore()
    assert ignore[0] == "*" and {f"!{top}" for top in layout.TOPS} <= set(ignore)
    assert {top for top in layout.TOPS} == {path.split("/", 1)[0] for path in kept_by_include}


def test_layout_paths():
    assert layout.config_path("rhel") == "distros/rhel/distro.toml"
    assert layout.distro_build("rhel") == "distros/rhel/build"
    assert layout.distro_root("rhel") == "distros/rhel/root"
    assert layout.drop_in_folder("system.sh") == "system.d"


def test_the_families_table_holds_each_familys_facts(make_tree):
    catalogue = Catalogue(LocalTree(REPO))
    for distro in catalogue.distros.values():
        family = FAMILIES[distro.family]
        assert distro.packages in family.package_lists, (
            f"{distro.name}: list {distro.packages} of another family"
        )
    plan = Planner(LocalTree(make_tree())).plan("base", "linux/amd64")
    family = FAMILIES[plan.distro.family]
    assert set(cache_volumes(plan, Stage.SYSTEM)) == set(family.caches)
    assert set(cache_volumes(plan, Stage.KASM)) == {*family.caches, "/root/.npm"}
    assert family.package_query in packages_record_script(plan)


HOOK_SCRIPTS = sorted(
    p
    for top in ("common/build", "distros")
    for p in (REPO / top).rglob("*.sh")
    if "/root/" not in p.as_posix()
)


@pytest.mark.parametrize("script", HOOK_SCRIPTS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_hooks_take_the_pipelines_paths_from_helios_variables(script):
    """No hook spells /helios/out, /helios/web, ... in code: it reads HELIOS_OUT, HELIOS_WEB, ...;
    nor does it honour the old unprefixed OUT_DIR, WEB_DIR or HOOKS_DIR."""
    for number, line in enumerate(script.read_text().splitlines(), start=1):
        code = line.split(" #", 1)[0]
        if code.lstrip().startswith("#") or 'source "${HELIOS_LIB:-/helios/hooks/lib.sh}"' in code:
            continue
        assert not any(path in code for path in HOOK_PATHS), f"{script.name}:{number}: {line.strip()}"
        assert not re.search(r"\b(OUT_DIR|WEB_DIR|HOOKS_DIR)\b", code), (
            f"{script.name}:{number}: {line.strip()}"
        )


def test_docs_list_every_hook_variable():
    doc = (REPO / "docs" / "hooks.md").read_text()
    names = {*PATH_ENV, *FEED_ENV.values(), "HELIOS_STEP", "HELIOS_DISTRO", "HELIOS_FAMILY", "HELIOS_ARCH"}
    names |= {f"HELIOS_{setting.upper()}" for step in BUILD_ORDER for setting in step.settings}
    missing = sorted(name for name in names if f"`{name}`" not in doc)
    assert not missing, f"docs/hooks.md does not list {missing}"
    for part in sorted((REPO / layout.LIBRARY_PARTS).glob("*.sh")):
        assert f"lib/{part.name}" in doc, f"docs/hooks.md does not say what lib/{part.name} gives"


def test_distro_toml_keys_are_rows_with_their_own_defaults_and_checks():
    """Each key carries its default and its own check; a row's settings are true/false keys of it, or
    a moment (a snapshot), which plan.setting_text writes as hooks read it."""
    from dataclasses import fields
    from datetime import datetime

    from pipeline.catalogue import SCHEMA, Distro

    distro_fields = {f.name for f in fields(Distro)}
    for key, spec in SCHEMA.items():
        assert key in distro_fields or key == "default" or key == "extends", key
        if not spec.required and key not in ("extends", "snapshot"):  # those two are absent when unset
            assert isinstance(spec.default, (spec.kind, tuple)), f"{key}: default {spec.default!r}"
    for step in BUILD_ORDER:
        for setting in step.settings:
            assert SCHEMA[setting].kind in (bool, datetime), (
                f"step {step.number}: {setting} is no setting key"
            )
    assert SCHEMA["xorg_version"].check is not None and SCHEMA["inputs"].check is not None
