"""Pinned inputs that only one distro's hooks read reach only that distro's steps.

``inputs = { 2 = ["cmake"] }`` in a distro.toml adds versions.toml sections to that distro's step,
so bumping CMake for Kali re-runs Kali's step 2 and nothing of Debian's.
"""

from __future__ import annotations

import tomllib

import pytest

from pipeline.catalogue import Catalogue
from pipeline.errors import HeliosError
from pipeline.plan import Planner
from pipeline.tree import LocalTree
from pipeline.versions import load_versions
from tests.conftest import BASE_DISTRO, REPO

PLATFORM = "linux/amd64"


def step_2(versions: dict, distro: str):
    return Planner(LocalTree(REPO), versions=versions).plan(distro, PLATFORM).step(2)


@pytest.mark.real_versions
def test_a_distro_section_reaches_only_that_distros_step() -> None:
    versions = load_versions()
    reads = {
        "kali": ("CMAKE_", "LIBCPUID_"),
        "alma": ("LIBCPUID_", "LIBWEBP_"),
        "rhel": ("LIBCPUID_", "LIBWEBP_"),
        "jammy": ("LIBCPUID_", "LIBWEBP_"),
        "debian": ("LIBCPUID_",),
        "ubuntu": ("LIBCPUID_",),
        "alpine": ("LIBCPUID_",),
    }
    for distro, prefixes in reads.items():
        env = step_2(versions, distro).env
        found = {
            prefix
            for prefix in ("CMAKE_", "LIBCPUID_", "LIBWEBP_")
            for name in env
            if name.startswith(prefix)
        }
        assert found == set(prefixes), distro


@pytest.mark.real_versions
def test_bumping_a_distro_section_re_runs_only_that_distros_steps() -> None:
    versions = load_versions()
    bumped = {**versions, "cmake": {**versions["cmake"], "version": "3.31.7"}}
    assert step_2(bumped, "kali").digest != step_2(versions, "kali").digest
    for distro in ("debian", "ubuntu", "rhel", "alpine"):
        assert step_2(bumped, distro).digest == step_2(versions, distro).digest, distro


@pytest.mark.real_versions
def test_every_section_a_distro_names_is_pinned() -> None:
    versions = load_versions()
    for distro in Catalogue(LocalTree(REPO)).distros.values():
        for step, sections in distro.inputs.items():
            missing = [section for section in sections if section not in versions]
            assert not missing, f"{distro.name} step {step} reads {missing}, not in pipeline/versions.toml"


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ('[inputs]\n4 = ["cmake"]\n', "inputs names step '4', which runs no distro hook"),
        ('[inputs]\nkasm = ["cmake"]\n', "inputs names step 'kasm', which runs no distro hook"),
        ('[inputs]\n2 = "cmake"\n', "inputs.2 must be a list of pipeline/versions.toml section names"),
        ('inputs = ["cmake"]\n', "key 'inputs' must be a table"),
    ],
)
def test_bad_inputs_are_refused_with_file_and_reason(make_tree, inputs: str, expected: str) -> None:
    tree = make_tree({"distros/base/distro.toml": BASE_DISTRO + inputs})
    with pytest.raises(HeliosError) as caught:
        Catalogue(LocalTree(tree))
    assert "distros/base/distro.toml" in str(caught.value)
    assert expected in str(caught.value)


def test_an_unknown_section_fails_the_plan_naming_it(make_tree) -> None:
    tree = make_tree({"distros/base/distro.toml": BASE_DISTRO + '[inputs]\n2 = ["nonesuch"]\n'})
    with pytest.raises(HeliosError) as caught:
        Planner(LocalTree(tree)).plan("base", PLATFORM)
    assert "[nonesuch]" in str(caught.value)


def test_a_child_inherits_its_parents_inputs() -> None:
    kali = tomllib.loads((REPO / "distros" / "kali" / "distro.toml").read_text())
    assert kali["inputs"] == {"2": ["cmake", "libcpuid"]}
    catalogue = Catalogue(LocalTree(REPO))
    assert catalogue.get("alma").inputs == catalogue.get("rhel").inputs == {2: ("libcpuid", "libwebp")}
    assert catalogue.get("ubuntu").inputs == catalogue.get("debian").inputs == {2: ("libcpuid",)}
