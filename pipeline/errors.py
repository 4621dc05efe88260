"""User-facing errors: what is wrong, where, and what to do about it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

USAGE_ERROR = 2
"""Exit code of the `helios` CLI for a mistake in the user's input or tree."""
BUILD_FAILED = 1
"""Exit code for a build, push or download that failed after the input was accepted."""


class HeliosError(Exception):
    """A mistake in the user's input or tree, reported without a traceback.

    ``message`` says what is wrong and where (file, key, step); ``hint`` says what to do.
    ``problems`` are the single errors a summary stands for (every bad file of a tree, every failed
    image of a build), each with its own hint.
    """

    exit_code = USAGE_ERROR

    def __init__(
        self, message: str, *, hint: str | None = None, problems: Sequence[HeliosError] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.problems = tuple(problems)

    def __str__(self) -> str:
        """One text for reports that are a single string (the module's function errors)."""
        text = "\n".join([self.message + (":" if self.problems else ""), *map(str, self.problems)])
        return f"{text} (hint: {self.hint})" if self.hint else text

    def report(self) -> list[str]:
        """The lines the CLI prints: ``error:`` and ``hint:`` for this error, or for each problem.

        An error with problems is their summary: a plain line after them, as compilers end with
        theirs, so it is what a long list ends on.

        Control characters in a message (a name, a value, a hook's output) are escaped, so what is
        printed is what it says; a message's own line breaks (a hook's last lines) are kept.
        """
        message = "\n".join(map(printable, self.message.split("\n")))
        if self.problems:
            lines = [line for problem in self.problems for line in problem.report()]
            lines.append(message)
        else:
            lines = [f"error: {message}"]
        if self.hint:
            lines.append(f"hint: {printable(self.hint)}")
        return lines


def printable(text: str) -> str:
    """``text`` with every character that is not printable escaped, as Python escapes it in a repr.

    A name or value from the user (a file name, a distro's description, an argument) can hold
    terminal escapes or line breaks; printed raw they would rewrite the screen or forge a line.
    Bytes that are not UTF-8 (kept by Python as surrogates) are shown as the bytes they were.
    """
    return "".join(char if char.isprintable() else _escaped(char) for char in text)


def _escaped(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    return repr(char)[1:-1] if code < 0x10000 else f"\\U{code:08x}"


def suggest(name: str, known: Iterable[str], otherwise: str) -> str:
    """A hint for a mistyped ``name``: the closest of ``known``, else ``otherwise``."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"did you mean {close[0]!r}?" if close else otherwise


class BuildError(HeliosError):
    """A build, push or download that failed on input that was accepted (a hook, the engine)."""

    exit_code = BUILD_FAILED
