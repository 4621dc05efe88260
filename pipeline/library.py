"""The hook library's parts each script uses, read from the scripts themselves.

The library (``common/build/lib/<part>.sh``, loaded by ``common/build/lib.sh``) is mounted part by
part: a script gets the parts whose functions it calls or whose constants it reads, and the parts
those use in turn, so an edit of a part re-runs only the scripts that use it. Hooks, drop-ins and a
user's scripts are read alike, and a part a user adds is found like ours.

A function counts where a command may start (after a line break, ``;``, ``&&``, ``|``, ``(``,
``$(``, ``if``, ``then``, ``!`` ...) and in the text that ``eval`` and ``trap`` run; a constant where
it is expanded (``$NAME``, ``${NAME}``). So ``apt-get download`` and a message about downloads call
no ``download``. Reading too much only costs a re-run, reading too little would break a build, so
the reading leans wide; a call through a variable (``"$fn"``) is not seen: scripts name library
functions as commands (docs/hooks.md). tests/test_step_files.py holds this reading against shfmt's
syntax tree of every script.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

NAME = r"[A-Za-z_][A-Za-z0-9_]*"
COMMENT = re.compile(r"(?:^|(?<=\s))#.*$", re.MULTILINE)
"""A comment: from a ``#`` that starts a word to the end of the line (``$#`` and ``${#x}`` are not)."""
COMMAND = re.compile(
    rf"(?=(?:\b(?:if|then|do|else|elif|while|until|time|command|exec)\b|^|[;&|(){{}}`!])"
    rf"\s*(?:{NAME}=\S*\s+)*({NAME}))",
    re.MULTILINE,
)
"""The first word of a command, after any ``NAME=value`` assignments before it (a lookahead, so
that ``do`` of ``; do git_checkout`` is both a command word and what starts the next one; the
keywords come first, so ``if apt_has_candidate`` at the start of a line is read past ``if``)."""
EXPANSION = re.compile(rf"\$\{{?!?({NAME})")
RUN_TEXT = re.compile(r"""\b(?:eval|trap)\s+(['"])(.*?)\1""", re.DOTALL)
"""Text that ``eval`` or ``trap`` runs as commands."""
FUNCTION = re.compile(r"^[ \t]*(?:function[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*\(\)", re.MULTILINE)
CONSTANT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=", re.MULTILINE)
"""A variable the part sets at its top level (unindented), for the scripts that read it."""


def used_names(text: str) -> frozenset[str]:
    """The commands a script runs and the variables it expands, outside its comments."""
    code = COMMENT.sub("", text)
    run_texts = [run for _, run in RUN_TEXT.findall(code)]
    commands = [name for text in (code, *run_texts) for name in COMMAND.findall(text)]
    return frozenset(commands) | frozenset(EXPANSION.findall(code))


def defined_names(text: str) -> frozenset[str]:
    """The functions a part defines and the constants it sets."""
    return frozenset(FUNCTION.findall(text)) | frozenset(CONSTANT.findall(text))


@dataclass(frozen=True)
class Library:
    """The parts of the hook library, what each defines, and which parts each uses."""

    owner: Mapping[str, str]
    """The part that defines each function or constant."""
    uses: Mapping[str, frozenset[str]]
    """The parts each part uses (itself left out)."""

    @classmethod
    def read(cls, parts: Mapping[str, str]) -> Library:
        """The library of ``parts``: each part's text by its name."""
        owner: dict[str, str] = {}
        for part, text in sorted(parts.items()):
            for name in defined_names(text):
                owner.setdefault(name, part)
        uses = {
            part: frozenset(owner[name] for name in used_names(text) if name in owner) - {part}
            for part, text in parts.items()
        }
        return cls(owner, uses)

    def parts_for(self, script: str) -> tuple[str, ...]:
        """The parts ``script`` (its text) uses, directly or through other parts, by name."""
        return self.closure(self.owner[name] for name in used_names(script) if name in self.owner)

    def closure(self, parts: Iterable[str]) -> tuple[str, ...]:
        """``parts`` and every part they use, in turn, sorted."""
        found: set[str] = set()
        todo = list(parts)
        while todo:
            part = todo.pop()
            if part not in found:
                found.add(part)
                todo += self.uses.get(part, ())
        return tuple(sorted(found))
