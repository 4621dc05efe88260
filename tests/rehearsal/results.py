"""The rehearsal's results folder: timings, records, substitutions, logs, and a report at the end.

The folder is HELIOS_REHEARSAL_RESULTS (default <repo>/rehearsal-results, git-ignored). Every part
of the rehearsal writes through one :class:`Results`; :meth:`Results.write` leaves results.json
and report.md, also when the run failed half-way (what ran is still worth reading).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def results_dir() -> Path:
    return Path(os.environ.get("HELIOS_REHEARSAL_RESULTS", REPO / "rehearsal-results"))


@dataclass
class Results:
    """Collects what the rehearsal measured; thread-safe, as stages run in parallel."""

    dir: Path
    timings: dict[str, float] = field(default_factory=dict)
    records: dict[str, Any] = field(default_factory=dict)
    substitutions: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)

    @property
    def logs(self) -> Path:
        return self.dir / "logs"

    def substitute(self, name: str, why: str) -> None:
        """Name something the rehearsal could not have as pinned, and what stands in for it."""
        with self._lock:
            self.substitutions[name] = why
        print(f"rehearsal: substituted {name}: {why}", flush=True)

    def timing(self, name: str, seconds: float) -> None:
        """A wall time, in seconds (steps are named "step NN <stage> · <label>").

        The report is rewritten at once, so a long run (an emulated one takes hours) that is stopped
        half-way still leaves the time of every step it finished.
        """
        with self._lock:
            self.timings[name] = round(seconds, 1)
        print(f"rehearsal: {name}: {seconds:.0f} s", flush=True)
        self.write()

    def record(self, name: str, value: Any) -> None:
        """Any other measured fact (image size, memory, checks that ran)."""
        with self._lock:
            self.records[name] = value

    def write(self) -> None:
        """results.json and report.md, from everything collected so far."""
        with self._lock:
            data = {
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
                "wall_seconds": round(time.time() - self.started, 1),
                "timings": self.timings,
                "records": self.records,
                "substitutions": self.substitutions,
            }
        (self.dir / "results.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
        (self.dir / "report.md").write_text(report(data))


def report(data: dict[str, Any]) -> str:
    """The Markdown report of one rehearsal."""
    lines = [f"# Rehearsal of {data['started']} ({data['wall_seconds'] / 60:.1f} min in all)", ""]
    lines += ["| what | wall time |", "|---|---:|"]
    lines += [f"| {name} | {_duration(seconds)} |" for name, seconds in data["timings"].items()]
    lines += ["", "## Measured", ""]
    lines += [f"- **{name}**: {value}" for name, value in data["records"].items()]
    lines += ["", "## Substituted (what this machine cannot reach, and what stands in)", ""]
    lines += [f"- **{name}**: {why}" for name, why in data["substitutions"].items()]
    return "\n".join(lines) + "\n"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
