"""From what a user chooses (distros, platforms, a base image) to plans: one path, without an engine.

Both front ends take it: the module's functions and the CLI's commands name distros (or none, for
every one), platforms and an optional base; :func:`plans_for` resolves each distro once, plans every
distro on every platform, and refuses a mirror that cannot serve the plans, before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.catalogue import Catalogue, Distro
from pipeline.plan import Plan, Planner
from pipeline.platforms import check_platform


@dataclass(frozen=True, kw_only=True)
class Choice:
    """What to build: distros by name or alias (none: every distro), on which platforms, from which base."""

    distros: tuple[str, ...] = ()
    platforms: tuple[str, ...]
    """At least one; each front end fills in its own default."""
    base: str | None = None
    """Replaces the base image of every chosen distro."""

    @classmethod
    def of(
        cls,
        distros: Iterable[str] | None,
        platforms: Iterable[str] | None,
        *,
        default: Iterable[str],
        base: str | None = None,
    ) -> Choice:
        """The choice a front end's options make: no distros means every one, no platforms ``default``."""
        return cls(distros=tuple(distros or ()), platforms=tuple(platforms or default), base=base)


def chosen_distros(catalogue: Catalogue, names: Iterable[str]) -> list[Distro]:
    """The distros ``names`` name (aliases resolved, each once), or every distro when they are none."""
    chosen = list(names)
    if not chosen:
        return [catalogue.distros[name] for name in catalogue.names()]
    found = [catalogue.get(name) for name in chosen]
    return list({distro.name: distro for distro in found}.values())


def plans_for(planner: Planner, choice: Choice) -> tuple[Plan, ...]:
    """The plan of every chosen distro on every chosen platform, distro by distro.

    Every bad input fails here: an unknown distro or platform, a bad base, a broken hook tree, and a
    mirror that cannot serve the plans (Planner.plan_all).
    """
    platforms = list(dict.fromkeys(check_platform(p) for p in choice.platforms))
    distros = chosen_distros(planner.catalogue, choice.distros)
    return tuple(planner.plan_all([(d, p) for d in distros for p in platforms], base=choice.base))
