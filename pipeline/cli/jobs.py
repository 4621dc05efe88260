"""What the `helios` CLI hands to the engine: the checked build job and where to push it.

Engine-free: `build` and `publish` make these before dagger-io is imported, so every bad input
fails first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.plan import Plan
from pipeline.release import Metadata, Target


@dataclass(frozen=True)
class Job:
    """Images to build from a checkout: its tree (and the user's hooks), each target's plan, metadata."""

    root: Path
    hooks: Path | None
    plans: tuple[Plan, ...]
    """One plan per target, made once while the options were checked."""
    metadata: Metadata
    inputs: Path | None = None
    """A local input mirror whose entries the steps get (the plans say which)."""
    rewrites: tuple[str, ...] = ()
    """--image-rewrite rules; the plans pull by them already, the publishing tools take them too."""

    @property
    def targets(self) -> tuple[Target, ...]:
        return tuple(Target(plan.distro.name, plan.platform) for plan in self.plans)


@dataclass(frozen=True)
class Destination:
    """Where and how to push: the repository, tag choice, and the registry login (if any)."""

    address: str
    """Checked already (release.check_address): the push never checks it again."""
    tags: tuple[str, ...] = ()
    channel: str | None = None
    username: str | None = None
    password_env: str | None = None
    """The name of the environment variable holding the password; never the password itself."""
    sbom: bool = True
    """Attach each image's SPDX SBOM as an OCI referrer (pipeline/supply.py)."""
    cosign_key: Path | None = None
    cosign_password_env: str | None = None
    oidc_token_env: str | None = None
    """Sign with the cosign key file (its password in that variable), or keyless with this token."""
