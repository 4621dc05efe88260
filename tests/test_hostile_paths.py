"""Every path a command takes, given every kind of wrong path, ends in one clean error.

The path options are found in the real command tree (a path option added later is covered), and
each is given a file where a folder belongs, /dev/null, a link to nothing, a folder it may not
read or write, a name with control characters, /, /proc... Everything runs as an unprivileged
user: root reads and writes anything, so a permission test run as root proves nothing. The
contract is the one of tests/test_cli_contract.py, and nothing may be written anywhere.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.versions import load_versions
from tests.conftest import FIXTURE_FILES, write_files
from tests.test_cli_contract import COMMANDS, assert_contract
from tests.test_untrusted_inputs import unprivileged

# The least each command needs to run; FOLDER stands for `inputs`'s argument.
BASE_ARGS = {
    "distros": [],
    "plan": ["-d", "base", "--platform", "linux/amd64"],
    "images": ["-d", "base", "--platform", "linux/amd64"],
    "validate": [],
    "build": ["--all", "--platform", "linux/amd64"],
    "publish": ["-d", "base", "--address", "registry.example/helios", "--no-sbom"],
    "inputs": ["FOLDER", "-d", "base", "--platform", "linux/amd64"],
}
PATH_METAVARS = ("DIR", "FILE", "PATH", "FOLDER")


def path_parameters() -> list[tuple[str, str]]:
    """(command, option) for every parameter that takes a path; FOLDER for an argument."""
    found = []
    for name, command in COMMANDS.items():
        for param in command.params:
            if param.metavar in PATH_METAVARS:
                found.append((name, param.opts[0] if param.param_type_name == "option" else "FOLDER"))
    return found


def hostile(world: Path) -> dict[str, str]:
    """Every kind of wrong path, made for real under ``world``."""
    (world / "a-file").write_text("not a folder, not a key\n")
    (world / "dangling").symlink_to("nothing-here")
    (world / "locked").mkdir()
    (world / "locked").chmod(0)
    return {
        "a file": str(world / "a-file"),
        "/dev/null": "/dev/null",
        "a link to nothing": str(world / "dangling"),
        "a folder it may not read or write": str(world / "locked"),
        "a missing path with control characters": str(world / "no\x1b[2Jsuch"),
        "/": "/",
        "/proc": "/proc",
    }


# Kinds that are no mistake for an option that makes what it is given, or writes into a folder.
NOT_WRONG = {
    "--export": {"a missing path with control characters", "/", "/proc"},  # a folder to make, or root's
    "FOLDER": {"a missing path with control characters", "/", "/proc"},
}


@pytest.fixture(scope="module")
def world():
    """A folder the unprivileged user can reach (pytest's tmp_path is private to its owner)."""
    folder = Path(tempfile.mkdtemp(prefix="helios-hostile-"))
    folder.chmod(0o755)
    write_files(folder / "tree", FIXTURE_FILES)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    values = hostile(folder)
    warm_up(folder)
    yield folder, values
    (folder / "locked").chmod(0o755)
    shutil.rmtree(folder, ignore_errors=True)


def warm_up(folder: Path) -> None:
    """Run every command once as root, so each module it imports lazily is loaded.

    The unprivileged user cannot read this Python's own library (it lives in root's home). Each
    run fails late, after what it imports, and writes nothing.
    """
    tree, mirror = str(folder / "tree"), write_files(folder / "warm-mirror", {f"sha256/{'1' * 64}": "x"})
    load_versions()
    runs = [
        ["plan", "-d", "base", "--inputs", str(mirror)],
        ["validate", "--inputs", str(mirror), "-d", "base"],
        ["distros"],
        ["inputs", str(folder / "a-file" / "m"), "-d", "base"],
        ["publish", "-d", "base", "--address", "registry.example/h", "--cosign-key", str(folder / "a-file")],
    ]
    for run in runs:
        result = CliRunner().invoke(app, [*run, "--root", tree])
        assert result.exit_code in (0, 2), result.output
    shutil.rmtree(mirror)


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if "locked" not in p.parts)


def test_every_command_and_kind_is_covered(world):
    assert set(BASE_ARGS) == set(COMMANDS)
    assert set(world[1]) == set(KINDS)
    assert {option for _, option in path_parameters()} >= {
        "--root",
        "--hooks",
        "--inputs",
        "--export",
        "FOLDER",
    }


KINDS = (
    "a file",
    "/dev/null",
    "a link to nothing",
    "a folder it may not read or write",
    "a missing path with control characters",
    "/",
    "/proc",
)
CASES = [
    (command, option, kind)
    for command, option in path_parameters()
    for kind in KINDS
    if kind not in NOT_WRONG.get(option, set())
]


@pytest.mark.parametrize(("command", "option", "kind"), CASES, ids=lambda x: str(x))
def test_a_wrong_path_is_one_clean_error_and_writes_nothing(world, no_engine, command, option, kind):
    folder, values = world
    value = values[kind]
    folder_arg = value if option == "FOLDER" else str(folder / "mirror")
    args = [folder_arg if arg == "FOLDER" else arg for arg in BASE_ARGS[command]]
    if option != "FOLDER":
        args += [option, value]
    if option != "--root":
        args += ["--root", str(folder / "tree")]
    before = listing(folder)
    load_versions()  # the pinned versions live in root's own temporary folder
    with unprivileged():
        result = CliRunner().invoke(app, [command, *args])
    assert_contract(result)
    assert "\x1b" not in result.stderr
    assert listing(folder) == before
