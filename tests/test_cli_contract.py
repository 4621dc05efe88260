"""One error contract for every input of the `helios` CLI, usage errors and blank values included.

Every case is derived from the real command tree (every command, every option), so an option added
later is covered without a new test: a mistake ends as `error:`/`hint:` lines on stderr, exit code 2,
nothing on stdout, no traceback, no boxed panel, and nothing written.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.release import helios_version

GROUP = get_command(app)
COMMANDS = dict(GROUP.commands)  # type: ignore[attr-defined]
SUMMARY = re.compile(r"\d+ (problem|image|input)")  # the closing count of a list of problems


def invoke(*args: str, cwd: Path | None = None):
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(app, list(args))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        return runner.invoke(app, list(args))


def assert_contract(result, *fragments: str) -> None:
    """The contract: error/hint lines, exit 2, no traceback or panel, nothing on stdout."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and not set("╭╰│") & set(result.output), result.output
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert lines and lines[0].startswith("error: "), result.stderr
    strays = [
        line for line in lines if not line.startswith(("error: ", "hint: ")) and not SUMMARY.match(line)
    ]
    assert not strays, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def options(kind: str) -> list[tuple[str, str]]:
    """(command, option) for every option of every command that takes a value, or is a flag."""
    found = []
    for name, command in COMMANDS.items():
        for param in command.params:
            if param.param_type_name != "option":
                continue
            if (kind == "flag") == bool(param.is_flag):
                found += [(name, opt) for opt in param.opts]
    return found


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


USAGE_MISTAKES = [
    *[[name, "--no-such-option"] for name in COMMANDS],
    *[[name, "one", "two", "three"] for name in COMMANDS],
    *[[name, option] for name, option in options("value")],  # the value is missing
    *[[name, f"{option}=yes"] for name, option in options("flag") if option.startswith("--")],
    *[[name] for name, command in COMMANDS.items() if any(p.required for p in command.params)],
    ["no-such-command"],
    ["--no-such-option"],
]


@pytest.mark.parametrize("args", USAGE_MISTAKES, ids=" ".join)
def test_every_usage_mistake_is_an_error_line_with_a_hint(make_tree, args):
    root = make_tree()
    before = files_under(root)
    result = invoke(*args, cwd=root)
    assert_contract(result, "hint: ")
    assert files_under(root) == before


def test_a_usage_error_names_the_command_and_a_close_option():
    result = invoke("plan", "-d", "base", "--platfrm", "linux/amd64")
    assert_contract(result, "error: helios plan: no such option: --platfrm", "hint: did you mean --platform?")
    missing = invoke("plan")
    assert_contract(missing, "helios plan: missing option '--distro'", "`helios plan --help`")
    command = invoke("plna")
    assert_contract(command, "no such command 'plna'", "did you mean 'plan'?")


BLANKS = [
    *[[name, option, blank] for name, option in options("value") for blank in ("", " ")],
    *[[name, f"{option}="] for name, option in options("value") if option.startswith("--")],
    ["inputs", ""],
    ["inputs", "\t"],
]


@pytest.mark.parametrize("args", BLANKS, ids=repr)
def test_a_blank_value_is_refused_before_anything_runs_or_is_written(make_tree, args):
    root = make_tree()
    before = files_under(root)
    result = invoke(*args, cwd=root)
    named = args[1].split("=")[0] if args[1].strip() else "FOLDER"  # the argument's name
    assert_contract(result, f"{named} was given an empty value", "hint: pass a value, or leave it out")
    assert files_under(root) == before


def test_help_names_what_to_type_and_nothing_after_a_flag():
    """No `<bool>` after a flag, no type names (`<str>`) for a value, no clipped option names."""
    for args in (["--help"], *([name, "--help"] for name in COMMANDS)):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        assert not re.search(r"<(bool|str|int|list\[str\])>", result.stdout), (args, result.stdout)
        assert "…" not in result.stdout and not set("╭╰│") & set(result.stdout)
    for name, option in options("value"):
        shown = re.search(rf"(?<![\w-]){re.escape(option)}[ ,]", invoke(name, "--help").stdout)
        assert shown, (name, option)
    assert "--version" in invoke("--help").stdout


def test_version_prints_the_installed_version():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout == f"helios {helios_version()}\n"


def test_control_characters_in_what_the_user_typed_are_shown_escaped(make_tree):
    result = invoke("plan", "-d", "base\x1b[2J", "--root", str(make_tree()))
    assert_contract(result, "\\x1b[2J")
    assert "\x1b" not in result.stderr
    option = invoke("plan", "--plat\x1b[31mform", "x")
    assert_contract(option, "--plat\\x1b[31mform")
    assert "\x1b" not in option.stderr


def test_tables_show_a_users_control_characters_escaped(make_tree, tmp_path):
    from tests.conftest import HOOK, write_files

    site = write_files(
        tmp_path / "site\x1b[2J", {"common/build/turbo.sh": HOOK, "common/build/lib.sh": "x=1\n"}
    )
    result = invoke(
        "plan", "-d", "base", "--platform", "linux/amd64", "--root", str(make_tree()), "--hooks", str(site)
    )
    assert result.exit_code == 0, result.output
    assert "site\\x1b[2J/common/build/turbo.sh" in result.stdout
    assert "site\\x1b[2J/common/build/lib.sh as /helios/hooks/lib.sh" in result.stdout
    assert "\x1b" not in result.stdout
    validated = invoke("validate", "--root", str(make_tree()), "--hooks", str(site))
    assert validated.exit_code == 0 and "site\\x1b[2J is a valid Helios tree" in validated.stdout
    assert "\x1b" not in validated.stdout


def _string_parameters():
    """(function, parameter) of every module function argument a user types as text."""
    from pipeline.main import Helios

    found = []
    for name in Helios.__dagger_module__.get_object("Helios").functions:
        hints = typing.get_type_hints(getattr(Helios, name), include_extras=True)
        for parameter, hint in hints.items():
            text = str(hint)
            if parameter != "return" and ("str" in text) and "Secret" not in text:
                found.append((name, parameter))
    return found


@pytest.mark.asyncio
@pytest.mark.parametrize(("function", "parameter"), _string_parameters())
async def test_the_module_refuses_a_blank_argument_of_every_function(
    make_tree, monkeypatch, function, parameter
):
    import inspect

    from dagger.mod._exceptions import FunctionError

    from pipeline.main import Helios
    from tests.test_module_errors import module_on

    helios = module_on(make_tree(), monkeypatch)
    method = getattr(helios, function)
    signature = inspect.signature(getattr(Helios, function))
    required = {
        name: ["x"] if "list" in str(p.annotation) else "x"
        for name, p in signature.parameters.items()
        if name != "self" and p.default is inspect.Parameter.empty
    }
    blank = [" "] if "list" in str(signature.parameters[parameter].annotation) else ""
    with pytest.raises(FunctionError, match=f"--{parameter.replace('_', '-')} was given an empty value"):
        await method(**{**required, parameter: blank})
