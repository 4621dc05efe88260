"""The `helios` command group: one error contract for every command, usage errors included.

Whatever the user gets wrong — an unknown option, a missing value, a blank value, a path that
cannot be read or written, a mistake in the tree — ends as ``error:`` and ``hint:`` lines on stderr
and exit code 2 (1 for a build that failed), never as a traceback or a boxed panel, and before
anything is written.
"""

from __future__ import annotations

import errno
import re
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from pipeline.errors import USAGE_ERROR, HeliosError, printable, suggest
from pipeline.spelling import ROWS, Front, other_front


def report(error: HeliosError) -> None:
    """Print ``error`` on stderr as its ``error:`` and ``hint:`` lines (see HeliosError.report)."""
    for line in error.report():
        typer.echo(line, err=True)


def blank_value(args: Sequence[str], command: str, argument: str = "an argument") -> HeliosError | None:
    """An error for the first blank value in ``args`` (``--channel ""``, ``--inputs=``), if any.

    No option or argument of `helios` means anything when blank: an empty value is a mistake, most
    often an unset shell variable, and taking it as "not given" or as "." would change what runs.
    ``argument`` names the command's argument, for a blank one.
    """
    for index, arg in enumerate(args):
        option, equals, value = arg.partition("=")
        if arg.startswith("--") and equals and not value.strip():
            name = option
        elif not arg.strip():
            before = args[index - 1] if index else ""
            name = before if before.startswith("-") and "=" not in before else argument
        else:
            continue
        return HeliosError(
            f"{command}: {name} was given an empty value",
            hint="pass a value, or leave it out (is a shell variable unset?)",
        )
    return None


SECRET_URI = re.compile(r"[a-z][a-z0-9+.-]*://")


def secret_uri(args: Sequence[str], command: str) -> HeliosError | None:
    """An error for a secret given as `dagger call` names it (``--cosign-key file://k``), if any.

    The module takes a secret's source as a URI; the CLI takes a path or a variable's name. The
    value itself is not shown: it may be the secret.
    """
    for index, arg in enumerate(args):
        option, equals, value = arg.partition("=")
        if not (arg.startswith("--") and equals):
            option, value = (args[index - 1] if index else ""), arg
        row = next((r for r in ROWS if r.cli.option == option and "://" in r.module.text), None)
        if row is not None and SECRET_URI.match(value):
            return HeliosError(
                f"{command}: {option} was given a URI, which is how `dagger call` names {row.what}",
                hint=f"`{command}` takes {row.cli.text}",
            )
    return None


def usage_error(error: typer.TyperException, command: str) -> HeliosError:
    """Click's usage error as a HeliosError: what is wrong, in which command, and what to type.

    ``command`` is the command line's command ("helios plan"), for errors click raises without one.
    """
    ctx = getattr(error, "ctx", None)
    command = ctx.command_path if ctx is not None else command
    see = f"`{command} --help` lists its options"
    option = getattr(error, "option_name", None)  # NoSuchOption, BadOptionUsage
    message = printable(error.format_message().rstrip("."))
    message = message[:1].lower() + message[1:]
    hint = see
    if option:
        other = other_front(option, Front.CLI)
        possibilities = sorted(getattr(error, "possibilities", None) or ())
        if other is not None:
            ours = f"takes {other.cli.text}" if other.cli.text else other.cli.note
            hint = f"{other.module.text} is how `dagger call` spells it; `{command}` {ours}"
        elif possibilities:
            hint = f"did you mean {possibilities[0]}? ({see})"
        if hasattr(error, "possibilities"):
            message = f"no such option: {printable(option)}"
    return HeliosError(f"{command}: {message}", hint=hint)


class Commands(TyperGroup):
    """The `helios` command group: the one place where every error of every command is reported.

    A HeliosError is reported as ``error:``/``hint:`` lines and exits with its code (2 for a
    mistake in the input, 1 for a build that failed); so are click's usage errors, a blank value,
    and an OSError from a path the user gave.
    """

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            known = list(self.commands)
            raise HeliosError(
                f"helios: no such command {printable(name)!r}",
                hint=suggest(name, known, f"the commands are: {', '.join(known)}"),
            )
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except HeliosError as error:
            report(error)
            raise typer.Exit(error.exit_code) from None
        except OSError as error:  # a path the user gave: a folder it cannot make, a file it cannot read
            if error.errno == errno.EPIPE:
                raise
            report(path_error(error))
            raise typer.Exit(USAGE_ERROR) from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command; report usage errors and blank values as every other error is reported."""
        given = list(sys.argv[1:] if args is None else args)
        named = next((arg for arg in given if arg in self.commands), None)
        command = f"helios {named}" if named else "helios"
        arguments = [p.metavar or p.name for p in getattr(self.commands.get(named or ""), "params", [])
                     if p.param_type_name == "argument"]  # fmt: skip
        argument = arguments[0] if len(arguments) == 1 else "an argument"
        refused = blank_value(given, command, argument) or secret_uri(given, command)
        if refused is not None:
            report(refused)
            code = USAGE_ERROR
        else:
            try:
                result = super().main(given, prog_name, complete_var, False, windows_expand_args, **extra)
                code = result if isinstance(result, int) else 0
            except typer.TyperException as error:
                if type(error).__name__ == "NoArgsIsHelpError":  # bare `helios`: its help, on stdout
                    typer.echo(error.message)
                else:
                    report(usage_error(error, command))
                code = USAGE_ERROR
            except typer.Abort:
                typer.echo("error: aborted", err=True)
                code = 1
        if standalone_mode:
            sys.exit(code)
        return code


def path_error(error: OSError) -> HeliosError:
    """An OSError on a path as one line: the path and the system's reason."""
    path = printable(str(error.filename)) if error.filename is not None else "a path"
    return HeliosError(
        f"{path}: {error.strerror or type(error).__name__}",
        hint="check the path: that it exists, is of the right kind, and that you may read (or write) it",
    )
