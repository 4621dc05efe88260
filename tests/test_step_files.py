"""Each script gets the library parts it uses and the files it reads, and an edit re-runs only them.

The library parts come from reading the scripts (pipeline/library.py); here that reading is held
against shfmt's syntax tree of every script of the repository (tests/shellast.py), and the files a
step mounts only under a setting against the hook's own choice of files, run in bash.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import layout
from pipeline.layers import Layers
from pipeline.library import Library, used_names
from pipeline.order import BUILD_ORDER
from pipeline.plan import Planner
from pipeline.platforms import PLATFORMS
from pipeline.stepmounts import run_layout
from pipeline.tree import LocalTree
from tests.conftest import BASE_DISTRO, REPO, write_files
from tests.helpers import kclient_patches, novnc_patches
from tests.shellast import library_calls, read_library

LIBRARY = REPO / layout.LIBRARY_PARTS


def parts_mounted(run) -> list[str]:
    return sorted(name.removeprefix("lib/").removesuffix(".sh") for name in run_layout(run) if "lib/" in name)


@pytest.mark.real_versions
def test_every_shipped_script_gets_exactly_the_parts_its_syntax_tree_uses():
    shfmt_library = read_library(LIBRARY)
    planner = Planner(LocalTree(REPO))
    checked = set()
    for distro in planner.catalogue.names():
        for platform in PLATFORMS:
            for planned in planner.plan(distro, platform).steps:
                for run in planned.runs:
                    expected = sorted(library_calls(REPO / run.script.path, shfmt_library))
                    assert parts_mounted(run) == expected, f"{distro}: {run.script}"
                    assert "lib.sh" in run_layout(run)
                    checked.add(run.script.path)
    scripts = {p.relative_to(REPO).as_posix() for p in REPO.glob("distros/*/build/**/*.sh")}
    assert scripts <= checked, f"scripts no plan runs: {scripts - checked}"


def test_each_part_uses_what_its_syntax_tree_uses():
    texts = {path.stem: path.read_text() for path in LIBRARY.glob("*.sh")}
    ours = Library.read(texts)
    shfmt_library = read_library(LIBRARY)
    for part in texts:
        by_shfmt = library_calls(LIBRARY / f"{part}.sh", shfmt_library) - {part}
        assert set(ours.closure(ours.uses[part])) - {part} == by_shfmt, part
    defined = {name for read in shfmt_library.values() for name in read.functions | read.variables}
    assert set(ours.owner) == defined


@pytest.mark.parametrize(
    ("script", "parts"),
    [
        ("# download the thing, then git_checkout it\nlog done\n", ["log"]),
        ("apt-get download virtualgl\ndie 'could not download it'\n", ["log"]),
        ('arch=$(uname_arch)\ntriplet="$(multiarch_triplet)"\n', ["arch", "log"]),
        ("if ! download a b c; then exit 1; fi\n", ["download", "log", "mirror"]),
        ("if apt_has_candidate libcpuid-dev; then :; fi\n", ["apt"]),
        ("TMPDIR=/x install_release a b c d\n", ["download", "log", "mirror", "release"]),
        ('echo "${STATIC_LIBRARY_PREFIX}/lib"\n', ["download", "log", "mirror", "static"]),
        ("trap 'enable_epel_crb' EXIT\n", ["el9", "log"]),
        ('eval "build_xorg_server --x"\n', ["download", "log", "mirror", "xorg"]),
        ("mapfile -t a < <(load_package_list x)\n", ["log", "packages"]),
        ("for x in a; do git_apply_patches t x; done\n", ["git", "log", "mirror"]),
        ("echo $#; echo ${#x}\n", []),
    ],
)
def test_a_script_gets_the_parts_of_the_commands_it_runs_and_the_constants_it_reads(script, parts):
    library = Library.read({path.stem: path.read_text() for path in LIBRARY.glob("*.sh")})
    assert list(library.parts_for(script)) == parts


def test_the_reading_sees_no_command_in_a_comment_or_an_argument():
    assert "download" not in used_names("apt-get download x  # then download\n")
    assert {"log", "die"} <= used_names("log a && die b\n")


@pytest.mark.real_versions
def test_a_users_script_gets_what_it_calls_and_a_part_the_user_adds(repo_copy, tmp_path):
    site = write_files(
        tmp_path / "site",
        {
            "common/build/system.d/50-site.sh": "#!/bin/bash\nsite_greet\nbuild_xorg_server\n",
            "common/build/system.d/60-quiet.sh": "#!/bin/bash\necho quiet\n",
            "common/build/lib/site.sh": "# shellcheck shell=bash\nsite_greet() { log hello; }\n",
        },
    )
    planned = Planner(Layers(LocalTree(repo_copy), LocalTree(site))).plan("debian", "linux/amd64").step(10)
    ours, theirs, quiet = planned.runs
    assert parts_mounted(theirs) == ["download", "log", "mirror", "site", "xorg"]
    assert parts_mounted(quiet) == []
    assert parts_mounted(ours) == ["download", "git", "log", "mirror"]
    assert run_layout(theirs)["lib/site.sh"][0].layer == "user"


@pytest.mark.real_versions
def test_a_part_the_user_replaces_is_read_from_their_copy(repo_copy, tmp_path):
    site = write_files(
        tmp_path / "site",
        {"common/build/lib/arch.sh": "multiarch_triplet() { require_tools gcc; gcc -dumpmachine; }\n"},
    )
    planned = Planner(Layers(LocalTree(repo_copy), LocalTree(site))).plan("debian", "linux/amd64").step(8)
    assert parts_mounted(planned.runs[0]) == ["arch", "log"]
    assert run_layout(planned.runs[0])["lib/arch.sh"][0].layer == "user"


@pytest.mark.real_versions
@pytest.mark.parametrize(
    ("part", "distros", "steps"),
    [
        ("el9", {"rhel", "alma"}, {2, 3, 4, 5, 6, 7, 8, 9, 10}),
        ("static", {"rhel", "alma", "debian", "ubuntu", "jammy", "kali", "alpine"}, {2, 3, 4, 5, 6, 7, 8}),
        ("release", {"rhel", "alma", "debian", "ubuntu", "jammy", "kali"}, {2, 3, 4, 5, 6, 7, 8}),
        ("xorg", {"rhel", "alma", "debian", "ubuntu", "jammy", "kali", "alpine"}, {5, 6, 7, 8}),
        ("packages", {"rhel", "alma", "debian", "ubuntu", "jammy", "kali", "alpine"}, {9, 10}),
    ],
)
def test_editing_a_library_part_re_runs_only_the_steps_of_its_users(repo_copy, part, distros, steps):
    before = matrix_digests(repo_copy)
    target = repo_copy / layout.LIBRARY_PARTS / f"{part}.sh"
    target.write_text(target.read_text() + "\n# edited\n")
    after = matrix_digests(repo_copy)
    changed = {key for key in before if before[key] != after[key]}
    assert {distro for distro, _, _ in changed} == distros
    by_distro = {d: {n for distro, _, n in changed if distro == d} for d in distros}
    if part == "release":  # the first user of the part in each distro's kasm stage
        assert by_distro["kali"] == {2, 3, 4, 5, 6, 7, 8} and by_distro["debian"] == {6, 7, 8}
    else:
        assert all(numbers == steps for numbers in by_distro.values()), by_distro


def matrix_digests(root: Path) -> dict[tuple[str, str, int], str]:
    planner = Planner(LocalTree(root))
    return {
        (distro, platform, planned.step.number): planned.digest
        for distro in planner.catalogue.names()
        for platform in PLATFORMS
        for planned in planner.plan(distro, platform).steps
        if planned.step.is_hook
    }


# --- files a hook reads only under a setting -----------------------------------------------------


def chosen_by_hook(number: int, value: str) -> set[str]:
    """The patches the hook of step ``number`` applies when its switching setting is ``value``."""
    chosen = {
        1: lambda: [*novnc_patches("interactive", value), *novnc_patches("view-only", value)],
        7: lambda: kclient_patches(file_transfer=value == "true"),
    }[number]()
    return {Path(path).name for path in chosen}


HOOK_CHOICES = (1, 7)
"""The steps whose hooks choose among their patches by a setting (novnc.sh, kclient.sh)."""


def test_every_step_with_switched_files_is_held_against_its_hook():
    switched = {step.number for step in BUILD_ORDER if step.switched}
    assert switched == set(HOOK_CHOICES)
    for step in BUILD_ORDER:
        for rule in step.switched:
            assert rule.setting in step.settings, f"step {step.number}: its hook never learns {rule.setting}"


@pytest.mark.real_versions
@pytest.mark.parametrize("number", sorted(HOOK_CHOICES))
@pytest.mark.parametrize("on", [True, False])
def test_a_switched_file_is_mounted_exactly_where_its_hook_applies_it(repo_copy, number, on):
    step = BUILD_ORDER[number - 1]
    (rule,) = step.switched
    setting = rule.setting
    config = [line for line in BASE_DISTRO.splitlines() if not line.startswith(f"{setting} =")]
    config.append(f"{setting} = {'true' if on else 'false'}")
    write_files(repo_copy, {"distros/switch/distro.toml": "\n".join(config) + "\n"})
    write_files(repo_copy, {f"distros/switch/build/{name}": "#!/bin/sh\n"
                            for name in ("kasm.sh", "xorg.sh", "kclient.sh", "system.sh")})  # fmt: skip
    planned = Planner(LocalTree(repo_copy)).plan("switch", "linux/amd64").step(number)
    mounted = {ref.name for ref in planned.extras if ref.name.endswith(".patch")}
    assert mounted == chosen_by_hook(number, "true" if on else "false")
