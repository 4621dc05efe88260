"""`helios inputs DIR`: make or complete a local input mirror for air-gapped builds (docs/inputs.md).

Engine-free: it needs the network (to upstream) and git, nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from pipeline.choice import Choice, plans_for
from pipeline.cli.common import checked_layers
from pipeline.cli.options import OnlyDistrosOption, OnlyPlatformsOption, Trees, grouped
from pipeline.errors import BuildError, HeliosError, printable
from pipeline.plan import Planner, plan_inputs
from pipeline.platforms import PLATFORMS

RETRY_HINT = "check the network (or the pin, if the download is corrupt) and run it again: sound entries stay"


@grouped
def inputs(
    folder: Annotated[
        Path,
        typer.Argument(metavar="FOLDER", help="The mirror folder; created if missing, completed if not."),
    ],
    distro: OnlyDistrosOption = None,
    platform: OnlyPlatformsOption = None,
    *,
    trees: Trees,
) -> None:
    """Download every pinned input the selection needs, verify each, and write the mirror layout.

    An entry already there and sound is kept; a corrupt one is replaced and reported.
    """
    from pipeline.mirror.local import complete_mirror

    if folder.exists() and not folder.is_dir():
        raise HeliosError(f"{folder} is not a folder", hint="pass a folder for the mirror")
    plans = plans_for(Planner(checked_layers(trees)), Choice.of(distro, platform, default=PLATFORMS))
    wanted = plan_inputs(plans)
    writable_folder(folder)
    outcomes = complete_mirror(folder, wanted)
    failed = []
    for outcome in outcomes:
        item = outcome.item
        line = f"{outcome.action:8}  {item.path}  ({item.name}, {item.pin_label})"
        if outcome.action == "replaced":
            line += f": the old entry was corrupt: {outcome.detail}"
        if outcome.action == "failed":
            message = f"{item.path} ({item.name} from {item.url}): {outcome.detail}"
            failed.append(BuildError(message, hint=RETRY_HINT))
        else:
            typer.echo(printable(line))
    counts = {a: sum(1 for o in outcomes if o.action == a) for a in ("added", "replaced", "kept")}
    summary = f"{folder}: " + ", ".join(f"{n} {a}" for a, n in counts.items())
    if failed:
        raise BuildError(f"{summary}, {len(failed)} failed", problems=failed)
    typer.echo(printable(summary))


def writable_folder(folder: Path) -> None:
    """Make ``folder`` (and its parents) if missing; an error when it cannot be made or written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise HeliosError(
            f"cannot make the mirror folder {folder}: {error.strerror}",
            hint="pass a folder you may create, or create it first",
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK, effective_ids=os.access in os.supports_effective_ids):
        raise HeliosError(
            f"cannot write into the mirror folder {folder}: permission denied",
            hint="pass a folder you may write to",
        )
