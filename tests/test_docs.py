"""The docs follow the code: README's tables are derived from the build order and the catalogue."""

from __future__ import annotations

import re

import pytest

from pipeline.catalogue import Catalogue
from pipeline.render import distros_markdown, order_markdown
from pipeline.tree import LocalTree
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def test_readme_carries_the_build_order_table():
    assert order_markdown() in README, "README's build order is stale; paste pipeline.render.order_markdown()"


@pytest.mark.real_versions
def test_readme_carries_the_distro_table():
    table = distros_markdown(Catalogue(LocalTree(REPO)))
    assert table in README, "README's distro table is stale; paste pipeline.render.distros_markdown(...)"


def test_ci_runs_the_test_command_of_the_readme():
    command = re.search(r"Run the tests[^`]*```sh\n(.+?)\n```", README, re.S)
    assert command, "README must show the test command under 'Run the tests'"
    ci_lines = [line.strip() for line in (REPO / ".ci/run").read_text().splitlines()]
    assert command.group(1).strip() in ci_lines


def test_docs_name_the_mount_path_the_pipeline_uses():
    from pipeline.graph import HOOKS_MOUNT

    hooks_doc = (REPO / "docs/hooks.md").read_text()
    assert f"{HOOKS_MOUNT}/<NN>-<file>" in hooks_doc


def test_every_engine_version_pin_agrees_with_dagger_json():
    import json
    import tomllib

    engine = json.loads((REPO / "dagger.json").read_text())["engineVersion"].removeprefix("v")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    # The CLI's client is pinned in the `cli` extra; the module itself must take the engine's SDK.
    assert f"dagger-io=={engine}" in project["optional-dependencies"]["cli"]
    assert "dagger-io" in project["dependencies"]
    workflows = list((REPO / ".github/workflows").glob("*.yml"))
    pins = [pin for wf in workflows for pin in re.findall(r'^\s+version: "([^"]+)"', wf.read_text(), re.M)]
    assert pins and set(pins) == {engine}, f"workflows pin {set(pins)}, dagger.json says {engine}"


def test_workflows_run_the_commands_users_run():
    ci = (REPO / ".github/workflows/ci.yml").read_text()
    release = (REPO / ".github/workflows/release.yml").read_text()
    assert "bash .ci/run" in ci and "python -m pytest -m engine" in ci
    assert "build --distro=${{ matrix.distro }}" in ci
    assert "publish-all" in release and "--password=env://REGISTRY_TOKEN" in release
    from pipeline.catalogue import Catalogue
    from pipeline.tree import LocalTree
    from tests.engine.conftest import ALL_DISTROS

    def matrix(job: str) -> set[str]:
        found = re.search(r"distro: \[(.+?)\]", ci.split(f"\n  {job}:", 1)[1])
        assert found, f"job {job} has no distro matrix"
        return set(found.group(1).replace(" ", "").split(","))

    engine, build = matrix("engine-tests"), matrix("build")
    assert engine == set(ALL_DISTROS), "one engine-test leg per distro the engine tests cover"
    assert build == set(Catalogue(LocalTree(REPO)).names()), "every distro is built"


def test_the_module_runtime_pins_every_third_party_dependency():
    import tomllib

    pins = {
        line.split("==")[0].lower()
        for line in (REPO / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    wanted = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[=<>!~\[ ]", dep)[0].lower() for dep in wanted}
    assert "dagger-io" not in pins, "the engine vendors dagger-io; it must not be pinned from PyPI"
    assert names - {"dagger-io"} <= pins
