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

from pipeline import publishing, shipping
from pipeline.cli.jobs import Export, Job, Push
from pipeline.cli.options import SigningKeys
from pipeline.errors import BuildError, HeliosError
from pipeline.failure import engine_error
from pipeline.graph import Sources
from pipeline.imagerewrite import ImageRewrites
from pipeline.layout import host_include
from pipeline.shipping import Shipped
from pipeline.signing import Signing

# The same files the module's source takes: the hook tree only.
HOST_INCLUDE = host_include()
HOST_EXCLUDE = ["**/__pycache__"]
# Of an input mirror, only its entries (each step then takes just its own).
MIRROR_INCLUDE = ["sha256/*", "git/*/*/*.bundle"]


def _sources(root: Path, hooks: Path | None, mirror: Path | None = None) -> Sources:
    user = dag.host().directory(str(hooks), exclude=HOST_EXCLUDE) if hooks is not None else None
    entries = dag.host().directory(str(mirror), include=MIRROR_INCLUDE) if mirror is not None else None
    return Sources(dag.host().directory(str(root), include=HOST_INCLUDE, exclude=HOST_EXCLUDE), user, entries)


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
                    path = export.target(shipping.tarball_name(built))
                    _say(f"exporting {path}")
                    digest, reference = await _export(built.image, path), str(path)
                shipped.append(Shipped(built.distro, built.platform, reference, digest))
            return shipped
        except dagger.DaggerError as error:
            raise engine_error(str(error)) from None


async def _publish(job: Job, push: Push) -> list[Shipped]:
    async with dagger.connection(dagger.Config(log_output=sys.stderr)):
        destination = publishing.Destination(
            publication=push.publication,
            username=push.registry.username,
            password=_env_secret(push.registry.password_env),
            signing=_signing(push.signing),
            sbom=push.sbom,
            rewrites=ImageRewrites(job.rewrites),
        )
        try:
            shipment = await publishing.ship(
                _images(job), destination, version=job.metadata.version, progress=_say
            )
        except dagger.DaggerError as error:
            raise engine_error(str(error)) from None
        return shipment.rows()


def _env_secret(name: str | None) -> dagger.Secret | None:
    """The variable ``name`` as a Secret the engine reads itself: its value never enters this process."""
    return dag.secret(f"env://{name}") if name is not None else None


def _signing(keys: SigningKeys) -> Signing:
    """The cosign key (read from its file by the engine) or OIDC token, as Secrets: never their values."""
    key = keys.cosign_key
    return Signing(
        dag.secret(f"file://{key.resolve()}") if key is not None else None,
        _env_secret(keys.cosign_password_env),
        _env_secret(keys.oidc_token_env),
    )


def _images(job: Job) -> list[shipping.Built]:
    return shipping.images_of(job.plans, _sources(job.root, job.hooks, job.mirror), job.metadata)


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


def run_publish(job: Job, push: Push) -> list[Shipped]:
    """Build the job's images, push each distro as one multi-arch image, attach SBOMs, sign."""
    return _on_engine(lambda: _publish(job, push))
