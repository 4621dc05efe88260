"""`distros`, `plan`, `build`, `publish` and `inputs` refuse what `helios validate` finds, first.

One function (pipeline.validate.tree_problems) does the checking for every command and for the
module, so a hooks tree that validate refuses never plans or builds with our file in its place.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from dagger.mod._exceptions import FunctionError
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.main import Helios
from pipeline.tree import MAX_SCRIPT_BYTES
from tests.conftest import HOOK, write_files
from tests.test_module import FakeDirectory

COMMANDS = {
    "distros": ["distros"],
    "plan": ["plan", "-d", "base", "--platform", "linux/amd64"],
    "build": ["build", "-d", "base", "--platform", "linux/amd64"],
    "publish": ["publish", "-d", "base", "--address", "registry.example/helios", "--no-sbom"],
    "inputs": ["inputs", "mirror", "-d", "base", "--platform", "linux/amd64"],
}


def no_shebang(site: Path) -> None:
    write_files(site, {"common/build/turbo.sh": "echo no shebang\n"})


def misspelt_hook(site: Path) -> None:
    write_files(site, {"common/build/kasmm.sh": HOOK})


def folder_at_a_hook(site: Path) -> None:
    (site / "distros/base/build/system.sh").mkdir(parents=True)


def link_to_nothing(site: Path) -> None:
    (site / "common/build").mkdir(parents=True)
    (site / "common/build/turbo.sh").symlink_to("missing.sh")


def link_out_of_the_tree(site: Path) -> None:
    (site / "common/build").mkdir(parents=True)
    (site / "common/build/turbo.sh").symlink_to("/bin/sh")


def huge_script(site: Path) -> None:
    write_files(site, {"common/build/turbo.sh": HOOK})
    with (site / "common/build/turbo.sh").open("ab") as stream:
        stream.truncate(MAX_SCRIPT_BYTES + 1)


def no_hooks_tree(site: Path) -> None:
    write_files(site, {"notes.txt": "not a tree\n"})


PROBLEMS = {
    no_shebang: "step 3: {site}/common/build/turbo.sh has no shebang",
    misspelt_hook: "{site}/common/build/kasmm.sh is not a known hook or file",
    folder_at_a_hook: "{site}/distros/base/build/system.sh is not a regular file",
    link_to_nothing: "{site}/common/build/turbo.sh is a symlink to 'missing.sh', which does not exist",
    link_out_of_the_tree: "{site}/common/build/turbo.sh is a symlink to '/bin/sh', outside the tree",
    huge_script: f"{{site}}/common/build/turbo.sh is {MAX_SCRIPT_BYTES + 1} bytes, more than a script",
    no_hooks_tree: "{site} is not a hooks tree: it holds neither common/ nor distros/",
}


def problem_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(("error: ", "hint: "))]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("spoil", PROBLEMS, ids=lambda f: f.__name__)
def test_every_command_refuses_what_validate_finds(
    make_tree, tmp_path, monkeypatch, no_engine, command, spoil
):
    root, site = make_tree(), tmp_path / "site"
    spoil(site)
    monkeypatch.chdir(tmp_path)
    expected = PROBLEMS[spoil].format(site=site)
    validated = CliRunner().invoke(app, ["validate", "--root", str(root), "--hooks", str(site)])
    assert validated.exit_code == 2 and expected in validated.stderr, validated.output
    result = CliRunner().invoke(app, [*COMMANDS[command], "--root", str(root), "--hooks", str(site)])
    assert result.exit_code == 2, result.output
    assert problem_lines(result.stderr) == problem_lines(validated.stderr)
    assert result.stdout == "" and not (tmp_path / "mirror").exists()


def test_plan_never_shows_our_hook_in_place_of_a_broken_one_of_yours(make_tree, tmp_path):
    site = tmp_path / "site"
    folder_at_a_hook(site)
    result = CliRunner().invoke(app, [*COMMANDS["plan"], "--root", str(make_tree()), "--hooks", str(site)])
    assert result.exit_code == 2
    assert "distros/base/build/system.sh" not in result.stdout


def test_a_sound_hooks_tree_still_plans(make_tree, tmp_path):
    site = write_files(tmp_path / "site", {"common/build/turbo.sh": HOOK})
    (site / "common/build/kasm.sh").symlink_to("turbo.sh")  # a link inside the tree is fine
    result = CliRunner().invoke(app, [*COMMANDS["plan"], "--root", str(make_tree()), "--hooks", str(site)])
    assert result.exit_code == 0, result.output
    assert f"user  {site}/common/build/turbo.sh" in result.stdout


@pytest.mark.asyncio
@pytest.mark.parametrize("spoil", [no_shebang, misspelt_hook, folder_at_a_hook, huge_script])
async def test_the_module_refuses_what_validate_finds(make_tree, tmp_path, spoil):
    site = tmp_path / "site"
    spoil(site)
    helios = Helios(source=FakeDirectory(make_tree()), hooks=FakeDirectory(site))  # type: ignore[arg-type]
    expected = PROBLEMS[spoil].format(site="--hooks")
    for call in (helios.plan("base", platform="linux/amd64"), helios.build("base", platform="linux/amd64")):
        with pytest.raises(FunctionError) as caught:
            await call
        assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_validate_reads_a_huge_script_no_further_than_its_size(make_tree, tmp_path):
    """Bounded reads: a script far over the limit is refused from its size, not read into memory."""
    site = tmp_path / "site"
    write_files(site, {"common/build/turbo.sh": HOOK})
    with (site / "common/build/turbo.sh").open("ab") as stream:
        stream.truncate(1 << 34)  # 16 GiB, sparse: reading it whole would take minutes and the memory
    root = make_tree()
    started = time.monotonic()
    for command in (["validate"], COMMANDS["plan"]):
        result = CliRunner().invoke(app, [*command, "--root", str(root), "--hooks", str(site)])
        assert result.exit_code == 2 and f"turbo.sh is {1 << 34} bytes" in result.stderr
    assert time.monotonic() - started < 30  # hashing 16 GiB takes minutes
