"""Building many images at once and publishing them, for the module and the CLI alike.

Images of every target are built concurrently; identical work (the web client of distros with the
same WebRTC setting, s6-overlay per architecture, equal package lists) has an identical graph, so
the engine does it once. A failure names its distro, platform, step and hook.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio
import dagger
from dagger import dag

from pipeline import graph
from pipeline.errors import BuildError, HeliosError
from pipeline.failure import describe_failure, engine_error, engine_failure
from pipeline.plan import Plan, Planner
from pipeline.release import Metadata, Target, tags_by_distro

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Built:
    """One target's plan and its (lazy) image."""

    target: Target
    plan: Plan
    image: dagger.Container


@dataclass(frozen=True)
class Shipped:
    """One line of the summary: what was produced, where, and its digest."""

    distro: str
    platform: str
    reference: str
    digest: str


def plan_images(
    planner: Planner,
    sources: graph.Sources,
    targets: Sequence[Target],
    metadata: Metadata,
    *,
    base: str | None = None,
) -> list[Built]:
    """Plans and lazy images for ``targets``; every bad input fails here, before any work runs."""
    plans = planner.plan_all(((target.distro, target.platform) for target in targets), base=base)
    return images_of(plans, sources, metadata)


def images_of(plans: Sequence[Plan], sources: graph.Sources, metadata: Metadata) -> list[Built]:
    """The lazy image of each plan, labelled from ``metadata``."""
    built = []
    for plan in plans:
        labels = graph.oci_labels(
            plan,
            version=metadata.version,
            revision=metadata.revision,
            source_url=metadata.source_url,
            epoch=metadata.epoch,
        )
        image = graph.image(sources, plan, labels=labels, epoch=metadata.epoch)
        built.append(Built(Target(plan.distro.name, plan.platform), plan, image))
    return built


async def sync_one(built: Built) -> dagger.Container:
    """Evaluate one image; a failed hook or any other engine error becomes a one-line HeliosError.

    A failed hook names its step, file and output; an error no hook caused (a base image that cannot
    be pulled, say) names the image being built, the engine's message and what to check.
    """
    try:
        return await built.image.sync()
    except dagger.ExecError as error:
        report = describe_failure(built.plan, error.command, error.exit_code, error.stdout, error.stderr)
        raise BuildError(report, hint="fix the hook, then run the build again") from None
    except dagger.QueryError as error:
        raise engine_failure(built.plan, error.error.message) from None
    except dagger.DaggerError as error:  # the session itself failed: no reply to attribute
        raise engine_error(str(error)) from None


async def sync_all(images: Sequence[Built], progress: Progress | None = None) -> None:
    """Evaluate every image concurrently; report every failure, each naming its target and step.

    Several failures become one error whose problems keep each image's own hint, in target order.
    """
    failures: dict[int, HeliosError] = {}

    async def one(index: int, built: Built) -> None:
        label = _label(built)
        if progress:
            progress(f"building {label}")
        try:
            await sync_one(built)
        except HeliosError as error:
            failures[index] = error
            return
        if progress:
            progress(f"built {label}")

    async with anyio.create_task_group() as group:
        for index, built in enumerate(images):
            group.start_soon(one, index, built)
    if len(images) == 1 and failures:
        raise failures[0]
    if failures:
        problems = [
            BuildError(f"{_label(images[i])}: {failures[i].message}", hint=failures[i].hint)
            for i in sorted(failures)
        ]
        raise BuildError(f"{len(failures)} of {len(images)} images failed", problems=problems)


def _label(built: Built) -> str:
    return f"{built.target.distro} ({built.target.platform})"


def tarball_name(target: Target) -> str:
    return f"helios-{target.distro}-{target.platform.rsplit('/', 1)[-1]}.tar"


def tarballs(images: Sequence[Built]) -> dagger.Directory:
    """A directory with one OCI tarball per image, named helios-<distro>-<arch>.tar."""
    out = dag.directory()
    for built in images:
        out = out.with_file(tarball_name(built.target), built.image.as_tarball())
    return out


def by_distro(images: Sequence[Built]) -> dict[str, list[Built]]:
    grouped: dict[str, list[Built]] = {}
    for built in images:
        grouped.setdefault(built.target.distro, []).append(built)
    return grouped


def push_plan(
    images: Sequence[Built],
    *,
    version: str,
    tags: Sequence[str] | None,
    channel: str | None = None,
) -> dict[str, tuple[list[Built], list[str]]]:
    """Per distro: its platform variants and the tags to push them under (tags checked, no engine)."""
    grouped = by_distro(images)
    defaults = [d for d, variants in grouped.items() if variants[0].plan.distro.is_default]
    tags_of = tags_by_distro(list(grouped), version, defaults, tags, channel)
    return {distro: (variants, tags_of[distro]) for distro, variants in grouped.items()}


def publisher(address: str, username: str | None, password: dagger.Secret | None) -> dagger.Container:
    """The empty container whose ``publish`` pushes platform variants as one multi-arch index.

    Registry credentials travel only as a Secret; without them the engine uses the caller's
    docker credentials.
    """
    ctr = dag.container()
    if username and password is not None:
        # Dagger parses the address like `docker push` does and binds the login to its registry.
        ctr = ctr.with_registry_auth(address, username, password)
    return ctr


async def publish(
    images: Sequence[Built],
    address: str,
    *,
    version: str,
    tags: Sequence[str] | None,
    username: str | None,
    password: dagger.Secret | None,
    channel: str | None = None,
    progress: Progress | None = None,
) -> list[Shipped]:
    """Push each distro's images (all its platforms as one multi-arch index) under its tags.

    ``address`` is checked by the caller (release.check_address), before anything was built.
    """
    plans = push_plan(images, version=version, tags=tags, channel=channel)
    await sync_all(images, progress)
    pusher = publisher(address, username, password)
    shipped: list[Shipped] = []
    for distro, (variants, distro_tags) in plans.items():
        platforms = ",".join(v.target.platform for v in variants)
        for tag in distro_tags:
            if progress:
                progress(f"pushing {address}:{tag} ({platforms})")
            reference = await pusher.publish(
                f"{address}:{tag}", platform_variants=[v.image for v in variants]
            )
            name, _, digest = reference.partition("@")
            shipped.append(Shipped(distro, platforms, name, digest))
    return shipped
