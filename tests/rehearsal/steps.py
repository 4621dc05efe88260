"""Executing a plan's hook steps for real, each exec given what the Dagger graph gives it.

Everything comes from the :class:`~pipeline.plan.Plan` and :mod:`pipeline.stepmounts`: for each
run of a step, /helios/hooks holds exactly :func:`~pipeline.stepmounts.run_layout`; the env is the
base image's plus ``planned.env``; the stage's cache volumes, the step's feeds (step 1's
/helios/out for step 8, the package list for step 9) and its mirror entries are mounted where the
graph mounts them. A hook that fails stops the build with the same report the pipeline gives.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.failure import describe_failure
from pipeline.hookenv import HOOKS_MOUNT, INPUTS_ENV, INPUTS_MOUNT, OFFLINE_ENV, OUT_DIR
from pipeline.layers import Layers
from pipeline.order import Feed, Stage
from pipeline.plan import Plan, PlannedStep
from pipeline.stepmounts import (
    cache_volumes,
    feeds,
    hook_command,
    package_listing,
    packages_record_command,
    run_layout,
)
from tests.rehearsal.chroot import CACHE, Bind, Exec, HostTrust, host_certificates, run_in

VOLUMES = CACHE / "volumes"
"""Cache volumes by the graph's names, kept between runs as the engine keeps them."""
STEP_TIMEOUT = 45 * 60.0


class StepError(Exception):
    """A hook exited non-zero; the message is the pipeline's failure report."""


@dataclass
class StageRunner:
    """Runs the hook steps of one stage of ``plan`` in the root filesystem ``root``."""

    plan: Plan
    layers: Layers
    stage: Stage
    root: Path
    workdir: Path
    """Scratch space: the hook folders of each run."""
    logs: Path
    base_env: Mapping[str, str]
    """The environment of the stage's base image (PATH, and NODE_VERSION in the Node image)."""
    mirror: Path | None = None
    extra_env: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    """Step number -> variables added or replaced for that step (named substitutes only)."""
    timing: Callable[[str, float], None] = lambda name, seconds: None
    volumes: Path = VOLUMES

    def run(self, planned: PlannedStep, feed_sources: Mapping[Feed, Path] | None = None) -> float:
        """Run every script of ``planned``; its wall time. Raises :class:`StepError` on a failure."""
        number = planned.step.number
        log = self.logs / f"step-{number:02d}-{planned.step.label}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        binds = [Bind(self._volume(key), path, read_only=False) for path, key in self._caches().items()]
        for path, feed in feeds(planned.step).items():
            source = (feed_sources or {}).get(feed)
            if source is None:
                raise ValueError(f"step {number} needs the {feed} feed at {path}, and none was given")
            binds.append(Bind(source, path))
        extra = dict(self.extra_env.get(number, {}))
        # A substitute's file is in the mirror under its own sum, which the plan cannot know of.
        entries = [*planned.mirrored, *(f"sha256/{v}" for k, v in extra.items() if k.endswith("_SHA256"))]
        if self.mirror is not None:
            binds += [Bind(self.mirror / entry, f"{INPUTS_MOUNT}/{entry}") for entry in entries]
        env = {"HOME": "/root", **self.base_env, **planned.env, **extra}
        if self.mirror is not None and entries:
            # Nothing the mirror holds may come from the network instead.
            env |= {INPUTS_ENV: INPUTS_MOUNT, OFFLINE_ENV: "true"}
        started = time.monotonic()
        for run in planned.runs:
            hooks = self._hook_folder(run.mounted, run_layout(run))
            command = hook_command(self.plan, planned, run)
            trust = HostTrust(self.root, host_certificates(), log)
            trust.install()
            try:
                code = run_in(
                    self.root,
                    Exec(command, env, [Bind(hooks, HOOKS_MOUNT), *binds], timeout=STEP_TIMEOUT),
                    log,
                )
            finally:
                trust.uninstall()
            if code != 0:
                output = log.read_text(errors="replace")
                raise StepError(
                    describe_failure(self.plan, command, code, output, "") + f"\n(full log: {log})"
                )
        seconds = time.monotonic() - started
        self.timing(f"step {number:02d} {planned.step.stage} · {planned.step.label}", seconds)
        return seconds

    def run_stage(self, feed_sources: Mapping[Feed, Path] | None = None, before: int | None = None) -> None:
        """Run the stage's steps in order (only those numbered below ``before``, if given)."""
        for planned in self.plan.stage(self.stage):
            if before is None or planned.step.number < before:
                self.run(planned, feed_sources)

    def run_from(self, first: int, feed_sources: Mapping[Feed, Path] | None = None) -> None:
        """Run the stage's steps numbered ``first`` and above."""
        for planned in self.plan.stage(self.stage):
            if planned.step.number >= first:
                self.run(planned, feed_sources)

    def record_packages(self) -> None:
        """What the graph runs after the system stage: the sorted list of installed packages."""
        log = self.logs / "packages-record.log"
        code = run_in(self.root, Exec(packages_record_command(self.plan), self.base_env), log)
        if code != 0:
            raise StepError(f"recording the installed packages failed with exit code {code} (log: {log})")

    @property
    def out(self) -> Path:
        """The stage's exported folder, /helios/out."""
        return self.root / OUT_DIR.lstrip("/")

    def _caches(self) -> dict[str, str]:
        return cache_volumes(self.plan, self.stage)

    def _volume(self, key: str) -> Path:
        path = self.volumes / key
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _hook_folder(self, mounted: str, layout: Mapping[str, tuple[object, int | None]]) -> Path:
        folder = self.workdir / "hooks" / mounted
        shutil.rmtree(folder, ignore_errors=True)
        for name, (ref, permissions) in layout.items():
            target = folder / name  # a library part lives in lib/
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.layers.read_bytes(ref))  # type: ignore[arg-type]
            target.chmod(permissions if permissions is not None else 0o644)
        return folder


def write_package_list(plan: Plan, dest: Path) -> Path:
    """/helios/packages.list of ``plan``, written to ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(package_listing(plan))
    return dest
