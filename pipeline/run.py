"""Running a planned build on a Dagger engine through dagger-io's connection (used by `helios build`)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import anyio
import dagger
from dagger import dag

from pipeline import graph
from pipeline.errors import HeliosError
from pipeline.failure import describe_failure
from pipeline.main import helios_version
from pipeline.plan import Plan

# The same files the module's source takes: the hook tree only.
HOST_INCLUDE = ["common/**", "distros/**"]
HOST_EXCLUDE = ["**/__pycache__"]


def _git(root: Path, *args: str) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def source_metadata(root: Path) -> tuple[str, str, datetime | None]:
    """Revision, source URL and commit time of the checkout at ``root`` (empty when not in git)."""
    revision = _git(root, "rev-parse", "HEAD")
    url = _git(root, "remote", "get-url", "origin")
    stamp = _git(root, "log", "-1", "--format=%ct")
    return revision, url, datetime.fromtimestamp(int(stamp), UTC) if stamp.isdigit() else None


async def _build(root: Path, hooks: Path | None, plan: Plan, export: Path | None) -> str:
    revision, url, created = source_metadata(root)
    async with dagger.connection(dagger.Config(log_output=sys.stderr)):
        user = dag.host().directory(str(hooks), exclude=HOST_EXCLUDE) if hooks is not None else None
        source = graph.Sources(
            dag.host().directory(str(root), include=HOST_INCLUDE, exclude=HOST_EXCLUDE), user
        )
        labels = graph.oci_labels(
            plan, version=helios_version(), revision=revision, source_url=url, created=created
        )
        image = graph.image(source, plan, labels=labels)
        try:
            if export is None:
                await image.sync()
                return f"built {plan.distro.name} for {plan.platform}"
            # Export beside the target, then rename: a failed build never leaves a partial tarball.
            partial = export.with_name(f".{export.name}.partial")
            try:
                await image.export(str(partial.resolve()))
                partial.replace(export)
            finally:
                partial.unlink(missing_ok=True)
            return f"wrote {export}"
        except dagger.ExecError as error:
            report = describe_failure(plan, error.command, error.exit_code, error.stdout, error.stderr)
            raise HeliosError(report, hint="fix the hook, then run the build again") from None
        except dagger.DaggerError as error:
            raise HeliosError(
                f"the Dagger engine failed: {error}", hint="see README: running a build"
            ) from None


def run_build(root: Path, hooks: Path | None, plan: Plan, export: Path | None) -> str:
    """Build ``plan`` from the tree at ``root`` (and ``hooks``); optionally export the image; summarize."""
    return anyio.run(_build, root, hooks, plan, export)
