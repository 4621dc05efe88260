"""What the `helios` CLI hands to the engine: the checked build job and where to push it.

Engine-free: `build` and `publish` make these before dagger-io is imported, so every bad input
fails first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import HeliosError
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


@dataclass(frozen=True)
class Export:
    """Where `build --export` writes: one tarball, or a folder of helios-<distro>-<arch>.tar files."""

    path: Path
    folder: bool
    """A folder (made, if missing, once the build has succeeded), not a file."""

    def target(self, tarball: str) -> Path:
        """Where the tarball called ``tarball`` goes."""
        return self.path / tarball if self.folder else self.path


def export_to(given: str, images: int) -> Export:
    """``--export given`` for ``images`` images, checked before anything is built.

    Several images, a path ending in "/", or an existing folder mean a folder; anything else is
    the file of the one image. The folder that will hold the file(s) must be writable.
    """
    path = Path(given)
    folder = images > 1 or given.endswith("/") or path.is_dir()
    if folder and (path.exists() or path.is_symlink()) and not path.is_dir():
        raise HeliosError(
            f"--export {given} is not a folder, and {images} image(s) are written into one",
            hint="pass a folder (made if missing); each image is written there as helios-<distro>-<arch>.tar",
        )
    place = path if path.is_dir() else path.parent
    if not place.is_dir():
        raise HeliosError(f"--export {given}: {place} is not a folder", hint="create it first")
    if not os.access(place, os.W_OK | os.X_OK, effective_ids=os.access in os.supports_effective_ids):
        raise HeliosError(f"--export {given}: cannot write into {place}", hint="pass a path you may write to")
    return Export(path, folder)
