"""One spelling per front end: the table of pipeline/spelling.py against the real front ends.

Each row is checked against `helios ... --help` and the arguments the module runtime registers
(tests/module_typedefs.py), both ways round, so neither front end's table can borrow the other's
spelling; and a flag spelt the module's way, typed to the CLI, gets a hint in the CLI's spelling.
"""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.spelling import CONSTRUCTOR, ROWS, Front, Row
from tests.test_module import registered_typedefs

# Which module functions each CLI command stands for.
COUNTERPARTS = {"build": ("build", "build-all"), "publish": ("publish", "publish-all")}
# Options only one front end has, and why.
CLI_ONLY = {"--root": "the CLI reads a checkout; the module's tree is its own source", "--help": "help"}
MODULE_ONLY = {"--source": "the module's tree, its own source by default; the CLI's --root"}


@pytest.fixture(scope="module")
def module_flags(tmp_path_factory) -> dict[str, set[str]]:
    """The flags the module runtime registers, per function (CONSTRUCTOR: the object's own)."""
    main = registered_typedefs(tmp_path_factory.mktemp("typedefs"))
    flags = {name.replace("_", "-"): fn["args"] for name, fn in main["functions"].items()}
    flags[CONSTRUCTOR] = main["constructor"]["args"]
    return {name: {"--" + arg.replace("_", "-") for arg in args} for name, args in flags.items()}


def cli_options(command: str) -> set[str]:
    """The options `helios COMMAND --help` shows."""
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-z])\b", result.stdout))


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.what)
def test_each_module_spelling_is_a_registered_flag(row: Row, module_flags):
    for function in row.module.where:
        assert function in module_flags, f"no module function {function!r}"
        if row.module.option is not None:
            assert row.module.option in module_flags[function], (row.what, function)
    for flag in own_flags(row.module.text):
        assert any(flag in module_flags[f] for f in row.module.where), (row.what, flag)


def own_flags(text: str) -> list[str]:
    """The module's flags in ``text``: up to a chained core call (`build --distro=x export --path=y`)."""
    words = text.replace(",", " ").split()
    bare = [index for index, word in enumerate(words) if not word.startswith("-")]
    end = bare[1] if len(bare) > 1 else len(words)
    return [word.split("=")[0] for word in words[:end] if word.startswith("--")]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.what)
def test_each_cli_spelling_is_an_option_of_its_commands(row: Row):
    for command in row.cli.where:
        options = cli_options(command)
        assert row.cli.option in options, (row.what, command)
        for option in re.findall(r"(?<![\w-])(--[a-z-]+|-[a-z])\b", row.cli.text):
            assert option in options, (row.what, command, option)


@pytest.mark.parametrize("command", COUNTERPARTS)
def test_every_cli_option_is_the_modules_or_has_a_row(command, module_flags):
    theirs = set().union(module_flags[CONSTRUCTOR], *(module_flags[f] for f in COUNTERPARTS[command]))
    rowed = {option for row in ROWS for option in re.findall(r"--[a-z-]+|-[a-z]\b", row.cli.text)}
    unexplained = cli_options(command) - theirs - rowed - set(CLI_ONLY)
    assert not unexplained, f"`helios {command}` options with no row in pipeline/spelling.py: {unexplained}"


@pytest.mark.parametrize("function", [f for fs in COUNTERPARTS.values() for f in fs])
def test_every_module_flag_is_the_clis_or_has_a_row(function, module_flags):
    command = next(c for c, fs in COUNTERPARTS.items() if function in fs)
    ours = cli_options(command)
    rowed = {row.module.option for row in ROWS} | {
        flag for row in ROWS for flag in own_flags(row.module.text)
    }
    flags = module_flags[function] | module_flags[CONSTRUCTOR]
    unexplained = flags - ours - rowed - set(MODULE_ONLY)
    assert not unexplained, (
        f"`dagger call {function}` flags with no row in pipeline/spelling.py: {unexplained}"
    )


DIFFERING = [row for row in ROWS if row.module.option is not None and row.module.option != row.cli.option]


@pytest.mark.parametrize("row", DIFFERING, ids=lambda row: row.what)
def test_a_module_spelling_typed_to_the_cli_is_answered_in_the_clis_spelling(row: Row):
    command = next(iter(row.cli.where), "build")
    result = CliRunner().invoke(app, [command, f"{row.module.option}=x"])
    assert result.exit_code == 2, result.output
    hint = next(line for line in result.stderr.splitlines() if line.startswith("hint: "))
    assert f"is how `dagger call` spells it; `helios {command}`" in hint
    assert (row.cli.text or row.cli.note) in hint


@pytest.mark.parametrize(
    "args",
    [["--cosign-key", "file://cosign.key"], ["--cosign-key=file://k"], ["--password-env", "env://TOKEN"]],
)
def test_a_secret_given_as_a_module_uri_is_refused_with_the_cli_spelling(args):
    result = CliRunner().invoke(app, ["publish", "--address", "ghcr.io/org/helios", "-d", "x", *args])
    assert result.exit_code == 2 and "was given a URI, which is how `dagger call` names" in result.stderr
    assert "TOKEN" not in result.stderr.split("hint:")[0]  # the value is never shown


def test_the_clis_login_hint_names_the_clis_password_option(make_tree):
    result = CliRunner().invoke(
        app,
        [
            "publish",
            "--address",
            "ghcr.io/org/helios",
            "-d",
            "base",
            "--username",
            "me",
            "--root",
            str(make_tree()),
        ],
    )
    assert result.exit_code == 2
    assert "hint: pass the password as a secret, e.g. --password-env REGISTRY_TOKEN" in result.stderr
    assert "env://" not in result.stderr


def test_the_tables_render_each_front_ends_spelling_first():
    from pipeline.render import spelling_markdown

    module, cli = spelling_markdown(Front.MODULE), spelling_markdown(Front.CLI)
    assert module.splitlines()[0] == "| to set | `dagger call` | `helios` |"
    assert cli.splitlines()[0] == "| to set | `helios` | `dagger call` |"
    assert (
        "| the registry password | `--password-env REGISTRY_TOKEN` | `--password=env://REGISTRY_TOKEN` |"
        in cli
    )
