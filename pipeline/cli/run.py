"""Running builds and publishes on a Dagger engine through dagger-io's connection (for the CLI).

This module imports dagger-io, so the CLI imports it only when a command needs an engine.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import dagger
from dagger import dag

from pipeline import shipping, supply
from pipeline.cli.jobs import Destination, Export, Job
from pipeline.errors import BuildError, HeliosError
from pipeline.failure import engine_error
from pipeline.graph import Sources
from pipeline.imagerewrite import ImageRewrites
from pipeline.layout import host_include
from pipeline.shipping import Shipped
from pipeline.signing import Login, Signing

# The same files the module's source takes: the hook tree only.
HOST_INCLUDE = host_include()
HOST_EXCLUDE = ["**/__pycache__"]
# Of an input mirror, only its entries (each step then takes just its own).
MIRROR_INCLUDE = ["sha256/*", "git/*/*/*.bundle"]


def _sources(root: Path, hooks: Path | None, inputs: Path | None = None) -> Sources:
    user = dag.host().directory(str(hooks), exclude=HOST_EXCLUDE) if hooks is not None else None
    mirror = dag.host().directory(str(inputs), include=MIRROR_INCLUDE) if inputs is not None else None
    return Sources(dag.host().directory(str(root), include=HOST_INCLUDE, exclude=HOST_EXCLUDE), user, mirror)


def _say(message: str) -> None:
    print(f"helios: {message}", file=sys.stderr, flush=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()  # streamed: image tarballs are large
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


async def _export(image: dagger.Container, target: Path) -> str:
    """Export beside ``target`` then rename: a failed export never leaves a partial tarball."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        await image.export(str(partial.resolve()))
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return _sha256(target)


async def _build(job: Job, export: Export | None) -> list[Shipped]:
    async with dagger.connection(dagger.Config(log_output=sys.stderr)):
        images = _images(job)
        try:
            await shipping.sync_all(images, _say)
            shipped = []
            for built in images:
                reference, digest = "(built)", "-"
                if export is not None:
                    if export.folder:
                        export.path.mkdir(exist_ok=True)  # checked writable before the build
                    path = export.target(shipping.tarball_name(built.target))
                    _say(f"exporting {path}")
                    digest, reference = await _export(built.image, path), str(path)
                shipped.append(Shipped(built.target.distro, built.target.platform, reference, digest))
            return shipped
        except dagger.DaggerError as error:
            raise engine_error(str(error)) from None


async def _publish(job: Job, destination: Destination) -> list[Shipped]:
    async with dagger.connection(dagger.Config(log_output=sys.stderr)):
        images = _images(job)
        # The engine reads the variable itself: the password never enters this process's objects.
        env = destination.password_env
        secret = dag.secret(f"env://{env}") if env is not None else None
        try:
            shipped = await shipping.publish(
                images,
                destination.address,
                version=job.metadata.version,
                tags=destination.tags,
                channel=destination.channel,
                username=destination.username,
                password=secret,
                progress=_say,
            )
            extras = supply.Supply(
                Login(destination.address, destination.username, secret),
                _signing(destination),
                destination.sbom,
                ImageRewrites(job.rewrites),
            )
            attached = await supply.attach_and_sign(
                images, shipped, extras, version=job.metadata.version, progress=_say
            )
            return shipped + supply.as_rows(attached)
        except dagger.DaggerError as error:
            raise engine_error(str(error)) from None


def _signing(destination: Destination) -> Signing:
    """The cosign key (read from its file by the engine) or OIDC token, as Secrets: never their values."""

    def env(name: str | None) -> dagger.Secret | None:
        return dag.secret(f"env://{name}") if name is not None else None

    key = destination.cosign_key
    return Signing(
        dag.secret(f"file://{key.resolve()}") if key is not None else None,
        env(destination.cosign_password_env),
        env(destination.oidc_token_env),
    )


def _images(job: Job) -> list[shipping.Built]:
    return shipping.images_of(job.plans, _sources(job.root, job.hooks, job.inputs), job.metadata)


def _on_engine(work: Callable[[], Awaitable[list[Shipped]]]) -> list[Shipped]:
    """Run ``work`` with a Dagger connection; a failure to reach an engine is a clear error.

    The job's input was checked before, so whatever fails now is a failed build (exit code 1).
    """
    try:
        return anyio.run(work)
    except BuildError:
        raise
    except HeliosError as error:
        raise BuildError(error.message, hint=error.hint, problems=error.problems) from None
    except dagger.DaggerError as error:
        raise BuildError(
            f"could not start or reach a Dagger engine: {error}",
            hint="install the Dagger CLI 0.21.8 and a container runtime (README: Quick start), "
            "or run under `dagger run`, or point _EXPERIMENTAL_DAGGER_RUNNER_HOST at an engine",
        ) from None


def run_build(job: Job, export: Export | None) -> list[Shipped]:
    """Build the job's images concurrently on an engine; with ``export``, write their OCI tarballs."""
    return _on_engine(lambda: _build(job, export))


def run_publish(job: Job, destination: Destination) -> list[Shipped]:
    """Build the job's images and push each distro as one multi-arch image under its tags."""
    return _on_engine(lambda: _publish(job, destination))
