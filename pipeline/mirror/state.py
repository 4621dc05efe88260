"""What a build finds in an input mirror: each entry's state, and what a mirror cannot serve.

Engine-free: a mirror on local disk (pipeline/mirror/local.py) or on an engine
(pipeline/mirror/engine.py) is read into a :class:`Mirror` the planner takes.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from pipeline.errors import HeliosError
from pipeline.mirror.inputs import Input, unique


class State(enum.StrEnum):
    """What a build will find at an input's place in the mirror."""

    SOUND = "sound"
    """There, and verified against its pin."""
    CORRUPT = "corrupt"
    """Something is there that a step would refuse: wrong content, unreadable, a folder, a bad link."""
    MISSING = "missing"
    """Nothing is there: the step fetches it upstream (or fails, offline)."""
    UNCHECKED = "unchecked"
    """There, but not verified here (each step verifies its own entries as it reads them)."""


Verifier = Callable[["Input"], "str | None"]
"""What is wrong with an input's entry (None: sound); raises NotVerifiable when it cannot tell."""


class NotVerifiable(Exception):  # noqa: N818 -- a reason, not a failure
    """An entry that cannot be verified here, and why (e.g. git is not installed)."""


REPAIR_HINT = (
    "repair the mirror with `helios inputs DIR` on a connected machine (it replaces corrupt entries and "
    "adds missing ones), then carry DIR over"
)


@dataclass(frozen=True)
class Mirror:
    """What a mirror holds, and how a build uses it.

    ``entries`` maps each entry's path (``sha256/<hex>``, ``git/.../<commit>.bundle``) to a digest
    of its content, so a plan's step digests change exactly when an entry the step reads changes.
    ``problems`` maps the places where an entry should be but something else stands (a folder, a
    link to nothing, an unreadable file) to what is wrong. ``verify``, where the mirror can be
    read here, checks an entry against its pin.
    """

    entries: Mapping[str, str]
    offline: bool = False
    location: str = "the input mirror"
    problems: Mapping[str, str] = field(default_factory=dict)
    verify: Verifier | None = None
    _states: dict[str, tuple[State, str]] = field(default_factory=dict, compare=False, repr=False)

    def has(self, item: Input) -> bool:
        return item.path in self.entries

    def present(self, inputs: Iterable[Input]) -> tuple[str, ...]:
        """The paths of ``inputs`` that the mirror holds, in order, without repeats."""
        return tuple(dict.fromkeys(i.path for i in inputs if self.has(i)))

    def state(self, item: Input) -> tuple[State, str]:
        """What a step will find at ``item``'s place, and why when it is not sound (checked once)."""
        if item.path not in self._states:
            self._states[item.path] = self._state(item)
        return self._states[item.path]

    def _state(self, item: Input) -> tuple[State, str]:
        if item.path in self.problems:
            return State.CORRUPT, self.problems[item.path]
        if not self.has(item):
            return State.MISSING, ""
        if self.verify is None:
            return State.UNCHECKED, "its step verifies it"
        try:
            problem = self.verify(item)
        except NotVerifiable as reason:
            return State.UNCHECKED, str(reason)
        return (State.SOUND, "") if problem is None else (State.CORRUPT, problem)

    def refusals(self, inputs: Iterable[Input]) -> list[HeliosError]:
        """Why the mirror cannot serve a build that consumes ``inputs``: one error per input.

        A corrupt entry would fail its step (a step never falls back to upstream from a corrupt
        entry), so it is refused before anything runs; offline, so is a missing one.
        """
        problems = []
        for item in unique(inputs):
            state, why = self.state(item)
            what, where = f"{item.name} ({item.pin_label})", f"{self.location}/{item.path}"
            if state is State.CORRUPT:
                problems.append(HeliosError(f"{where}, {what}: {why}"))
            elif state is State.MISSING and self.offline:
                problems.append(
                    HeliosError(f"offline build: {what} is not in the mirror: expected at {where}")
                )
        return problems
