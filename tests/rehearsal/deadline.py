"""Whether the rehearsal's second build still fits in the time a CI job has left."""

from __future__ import annotations

DEADLINE = "HELIOS_REHEARSAL_DEADLINE"
"""When the run must be over (seconds since the epoch): a CI job with a time limit sets it."""
REBUILD_BUDGET = 25 * 60
"""What the second build and the comparison may take on 2 busy cores with cold cache volumes."""


def time_left_problem(now: float, deadline: str | None) -> str | None:
    """Why the second build would not finish before ``deadline``, or None if it has the time."""
    if not deadline:
        return None
    left = float(deadline) - now
    if left >= REBUILD_BUDGET:
        return None
    return (
        f"{max(left, 0) / 60:.0f} minutes are left before {DEADLINE}, and the second build may take "
        f"{REBUILD_BUDGET // 60}: run it alone with python -m pytest -m 'rehearsal and reproducible' tests/rehearsal"
    )
