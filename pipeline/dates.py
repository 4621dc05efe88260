"""The dates a build stamps: SOURCE_DATE_EPOCH of every hook step, and a distro archive's snapshot.

"Now" is not an input, so no build step may read the clock. Every hook step gets
SOURCE_DATE_EPOCH, which compilers (GCC's ``__DATE__`` and ``__TIME__``), CMake's
``string(TIMESTAMP)``, fontconfig's caches and most build tools take instead of the clock, and the
pipeline gives every file a system-stage step writes that time (pipeline/settle.py).

The value changes only with a step's own inputs: it is the distro's ``source_date``, which is its
archive ``snapshot`` when it pins one and :data:`DEFAULT_SOURCE_DATE` otherwise; the web client,
the same for every distro, always gets the default. It never follows the commit: the commit time
reaches only the image stage (the created label, the times of copied files), after the heavy steps,
so a new commit re-runs no step.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.errors import HeliosError

DEFAULT_SOURCE_DATE = datetime(2026, 1, 1, tzinfo=UTC)
"""The build date of a distro that states neither ``source_date`` nor ``snapshot``. Changing it
re-runs every step of every distro: change it only to move the date compiled into the programs."""
EARLIEST_SOURCE_DATE = datetime(1980, 1, 1, tzinfo=UTC)
"""Zip archives cannot hold an earlier time, and build tools write zip files."""
EARLIEST_SNAPSHOT = datetime(2005, 1, 1, tzinfo=UTC)
"""No archive has snapshots from before 2005 (Debian's start in 2005, Ubuntu's in March 2023)."""
SNAPSHOT_FORMAT = "%Y%m%dT%H%M%SZ"
"""How snapshot.debian.org, snapshot.ubuntu.com and apt name a snapshot: 20260601T000000Z."""

TOML_EXAMPLE = "2026-06-01T00:00:00Z"


def epoch(moment: datetime) -> int:
    """``moment`` as SOURCE_DATE_EPOCH: whole seconds since 1970-01-01 UTC."""
    return int(moment.timestamp())


def snapshot_id(moment: datetime) -> str:
    """``moment`` as the archives name a snapshot, in UTC: 20260601T000000Z."""
    return moment.astimezone(UTC).strftime(SNAPSHOT_FORMAT)


def toml_text(moment: datetime) -> str:
    """``moment`` as distro.toml writes it: 2026-06-01T00:00:00Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def check_moment(
    where: str, key: str, value: datetime, *, earliest: datetime, now: datetime | None = None
) -> None:
    """``value`` of ``key`` is a whole second with a time zone, from ``earliest`` to now; else an error."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise HeliosError(
            f"{where}: key {key!r} is {value.isoformat()} without a time zone",
            hint=f"add one, in UTC preferably: {toml_text(value.replace(tzinfo=UTC))}",
        )
    if value.microsecond:
        raise HeliosError(
            f"{where}: key {key!r} is {value.isoformat()}, with a fraction of a second",
            hint=f"give whole seconds, e.g. {value.replace(microsecond=0).isoformat()}",
        )
    current = now or datetime.now(UTC)
    if value > current:
        raise HeliosError(
            f"{where}: key {key!r} is {value.isoformat()}, which is in the future",
            hint="give a moment that has passed (a snapshot or build date cannot be ahead of the build)",
        )
    if value < earliest:
        raise HeliosError(
            f"{where}: key {key!r} is {value.isoformat()}, before {earliest.date().isoformat()}",
            hint=f"give {earliest.date().isoformat()} or later, e.g. {TOML_EXAMPLE}",
        )
