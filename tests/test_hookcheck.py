"""The module refuses a --hooks directory as `helios validate` would, from its exported copy.

A `dagger.Directory` has no readlink, so the check exports it into the function's container. The
stand-in below exports the way the engine does: files, folders and links, links kept as links.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dagger.mod._exceptions import FunctionError

from pipeline.errors import HeliosError
from pipeline.hookcheck import directory_problems, first_hazard
from pipeline.main import Helios
from pipeline.tree import LocalTree
from tests.test_module_errors import module_on


class ExportedTree:
    """A directory whose ``export`` copies a local tree, links as links (as the engine's export)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.exports: list[str] = []

    async def export(self, path: str, **_: object) -> str:
        shutil.copytree(self.root, path, symlinks=True, dirs_exist_ok=True)
        self.exports.append(path)
        return path


async def check_hooks_directory(hooks: ExportedTree) -> None:
    """Refuse ``hooks`` as the module does: the first hazard, and how many more there are."""
    problems = await directory_problems(LocalTree(Path("/nonexistent")), hooks)  # type: ignore[arg-type]
    if problems:
        raise first_hazard(problems, "`helios validate --hooks DIR`")


def hooks_tree(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "common" / "build").mkdir(parents=True)
    (root / "common" / "build" / "turbo.sh").write_text("#!/bin/sh\n")
    return root


@pytest.mark.asyncio
async def test_a_link_out_of_the_tree_is_refused_with_where_and_what_to_do(tmp_path):
    root = hooks_tree(tmp_path)
    (root / "common" / "build" / "system.sh").symlink_to("/etc/passwd")
    with pytest.raises(HeliosError) as caught:
        await check_hooks_directory(ExportedTree(root))
    assert caught.value.message.startswith("--hooks/common/build/system.sh is a symlink to '/etc/passwd'")
    assert "outside the tree" in caught.value.message
    assert caught.value.hint and "inside the tree" in caught.value.hint


@pytest.mark.asyncio
async def test_a_relative_link_climbing_out_is_refused_and_the_count_of_others_is_given(tmp_path):
    root = hooks_tree(tmp_path)
    (root / "common" / "build" / "kasm.sh").symlink_to("../../../secret")
    (root / "common" / "build" / "system.sh").symlink_to("/etc/shadow")
    with pytest.raises(HeliosError) as caught:
        await check_hooks_directory(ExportedTree(root))
    assert "common/build/kasm.sh is a symlink to '../../../secret'" in caught.value.message
    # and the same link seen by the layout check: it leads to no file
    assert "(and 2 more: `helios validate --hooks DIR` lists all)" in caught.value.message


@pytest.mark.asyncio
async def test_links_inside_the_tree_and_plain_files_pass(tmp_path):
    root = hooks_tree(tmp_path)
    (root / "common" / "build" / "kasm.sh").symlink_to("turbo.sh")
    tree = ExportedTree(root)
    await check_hooks_directory(tree)
    assert len(tree.exports) == 1
    assert not Path(tree.exports[0]).exists(), "the exported copy is left behind"


@pytest.mark.asyncio
async def test_a_name_with_control_characters_is_refused(tmp_path):
    root = hooks_tree(tmp_path)
    (root / "common" / "build" / "bad\x1b[2Jname.sh").write_text("#!/bin/sh\n")
    with pytest.raises(HeliosError, match="holds control characters"):
        await check_hooks_directory(ExportedTree(root))


def test_one_problem_is_reported_as_it_is():
    problem = HeliosError("x is wrong", hint="fix x")
    single = first_hazard([problem], "validate")
    assert (single.message, single.hint) == ("x is wrong", "fix x")


@pytest.mark.asyncio
async def test_the_module_refuses_such_hooks_before_it_plans(make_tree, monkeypatch, tmp_path):
    root = hooks_tree(tmp_path)
    (root / "common" / "build" / "system.sh").symlink_to("/etc/passwd")
    helios: Helios = module_on(make_tree(), monkeypatch, hooks=ExportedTree(root))
    with pytest.raises(FunctionError) as caught:
        await helios.distros()
    assert "--hooks/common/build/system.sh is a symlink to '/etc/passwd'" in str(caught.value)
    assert "\n" not in str(caught.value)
