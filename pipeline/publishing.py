"""Publishing, the one path of the module and the CLI: push, attach each image's SBOM, sign.

:func:`ship` pushes the images (pipeline/shipping.py), then adds referrers next to them: each
image's SBOM and, when asked, signatures of every pushed digest. A failure after the push names
what was already pushed and what to run again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import anyio
import dagger

from pipeline import sbom
from pipeline.errors import HeliosError
from pipeline.imagerewrite import NO_REWRITES, ImageRewrites
from pipeline.release import Publication
from pipeline.shipping import Built, Progress, Shipped, by_distro, push
from pipeline.signing import (
    BUNDLE_TYPE,
    Login,
    Signing,
    attach_sbom,
    attached_reference,
    check_cosign_key,
    digest_reference,
    discover,
    referrers,
    sign,
    tools,
)
from pipeline.toolpins import tool_image, tool_images


@dataclass(frozen=True)
class Attached:
    """One referrer pushed next to an image: its kind ("sbom", "signature"), what it refers to, where."""

    distro: str
    platform: str
    kind: str
    subject: str
    reference: str

    def line(self) -> str:
        """``sbom linux/amd64 <ref@digest> of <subject>``: how publish reports it."""
        return f"{self.kind} {self.platform} {self.reference} of {self.subject}"


@dataclass(frozen=True, kw_only=True)
class Destination:
    """Where a publish goes and what it adds: repository and tags, the login, SBOMs, signatures."""

    publication: Publication
    username: str | None = None
    password: dagger.Secret | None = None
    """The registry login; without one, the engine pushes with the caller's docker credentials."""
    signing: Signing = field(default_factory=Signing)
    sbom: bool = True
    """Attach each image's SPDX SBOM as an OCI referrer."""
    rewrites: ImageRewrites = NO_REWRITES
    """Where the site keeps the tool images (pipeline/imagerewrite.py)."""

    @property
    def login(self) -> Login:
        return Login(self.publication.address, self.username, self.password)


@dataclass(frozen=True)
class Shipment:
    """What a publish pushed: the images under their tags, then their SBOMs and signatures."""

    pushed: list[Shipped]
    attached: list[Attached]

    def lines(self) -> list[str]:
        """The module's report: each pushed reference with its digest, then each SBOM and signature."""
        return [f"{item.reference}@{item.digest}" for item in self.pushed] + [a.line() for a in self.attached]

    def rows(self) -> list[Shipped]:
        """The CLI's summary: the pushed images, then a row per SBOM and signature (:func:`as_rows`)."""
        return [*self.pushed, *as_rows(self.attached)]


async def ship(
    images: Sequence[Built], destination: Destination, *, version: str, progress: Progress | None = None
) -> Shipment:
    """Build and push ``images``, attach their SBOMs, sign what was pushed: the whole publish."""
    pushed = await push(images, destination.publication, destination.login, progress)
    attached = await attach_and_sign(images, pushed, destination, version=version, progress=progress)
    return Shipment(pushed, attached)


def _failure(what: str, error: dagger.DaggerError, hint: str) -> HeliosError:
    detail = error.stderr if isinstance(error, dagger.ExecError) else str(error)
    lines = [line for line in detail.strip().splitlines() if line.strip()]
    return HeliosError(f"{what} failed: {lines[-1] if lines else 'no output'}", hint=hint)


LOGIN_HINT = (
    "the image itself was pushed; the SBOM and signatures are pushed by tool containers, which cannot "
    "use your docker login: give the registry login (helios: --username and --password-env; dagger "
    "call: with-registry), or leave the SBOM out (--no-sbom; dagger call: --sbom=false)"
)


def index_digests(shipped: Sequence[Shipped], address: str) -> dict[str, list[str]]:
    """Per distro, the digest references it was pushed as (each once, whatever the number of tags)."""
    found: dict[str, list[str]] = {}
    for item in shipped:
        refs = found.setdefault(item.distro, [])
        if f"{address}@{item.digest}" not in refs:
            refs.append(f"{address}@{item.digest}")
    return found


async def attach_and_sign(
    images: Sequence[Built],
    shipped: Sequence[Shipped],
    destination: Destination,
    *,
    version: str,
    progress: Progress | None = None,
) -> list[Attached]:
    """Attach every pushed image's SBOM, then sign the pushed digests and SBOMs; what was pushed where."""
    if not destination.sbom and not destination.signing.enabled:
        return []
    address = destination.publication.address
    images_of = tool_images(destination.rewrites)
    ctr = tools(images_of["oras"], images_of["cosign"], destination.login)
    variants = by_distro(images)
    pushed = index_digests(shipped, address)
    attached: list[Attached] = []
    failures: list[HeliosError] = []

    async def one_sbom(distro: str, subject: str, built: Built) -> None:
        platform = built.platform
        document = sbom.sbom(built.image, scanner=images_of["syft"], name=address, version=version)
        if progress:
            progress(f"attaching the SBOM of {distro} ({platform}) to {subject}")
        try:
            out = await attach_sbom(ctr, subject, platform, document).stdout()
        except dagger.DaggerError as error:
            what = f"attaching the SBOM of {distro} ({platform}) to {subject}"
            failures.append(_failure(what, error, LOGIN_HINT))
            return
        attached.append(Attached(distro, platform, "sbom", subject, attached_reference(out)))

    if destination.sbom:
        async with anyio.create_task_group() as group:
            for distro, subjects in pushed.items():
                for subject in subjects:
                    for built in variants[distro]:
                        group.start_soon(one_sbom, distro, subject, built)
    if failures:  # every attachment was tried; the first failure speaks for the others
        first = failures[0]
        more = f" (and {len(failures) - 1} more SBOMs)" if len(failures) > 1 else ""
        raise HeliosError(first.message + more, hint=first.hint)
    attached.sort(key=lambda a: (a.distro, a.platform, a.subject))
    if destination.signing.enabled:
        labels = {a.reference: (a.distro, a.platform) for a in attached}
        for distro, refs in pushed.items():
            platforms = ",".join(b.platform for b in variants[distro])
            labels.update({ref: (distro, platforms) for ref in refs})
        attached += await sign_all(ctr, destination.signing, list(labels), labels, progress)
    return attached


async def sign_pushed(
    references: Sequence[str],
    login: Login,
    how: Signing,
    rewrites: ImageRewrites = NO_REWRITES,
) -> list[Attached]:
    """Sign digests pushed earlier (images and SBOMs, as publish printed them); their signatures."""
    subjects = [digest_reference(ref) for ref in references]
    if not subjects:
        raise HeliosError(
            "no reference to sign", hint="pass the references publish printed, e.g. --reference=REF"
        )
    ctr = tools(tool_image("oras", rewrites=rewrites), tool_image("cosign", rewrites=rewrites), login)
    return await sign_all(ctr, how, subjects, {})


async def sign_all(
    ctr: dagger.Container,
    how: Signing,
    subjects: Sequence[str],
    labels: Mapping[str, tuple[str, str]],
    progress: Progress | None = None,
) -> list[Attached]:
    """Sign ``subjects`` (an index with each of its images); the signature referrers each now has.

    ``labels`` names the distro and platform of a subject, for the report.
    """
    subjects = list(dict.fromkeys(subjects))
    if progress:
        progress(f"signing {len(subjects)} digests ({how.mode})")
    try:
        await sign(ctr, how, subjects).sync()
        found = []
        for subject in subjects:
            out = await discover(ctr, subject).stdout()
            found += [
                Attached(*labels.get(subject, ("-", "-")), "signature", subject, ref)
                for ref in referrers(out, BUNDLE_TYPE)
            ]
    except dagger.DaggerError as error:
        raise _failure(
            f"signing {', '.join(subjects)}",
            error,
            "the images and SBOMs were pushed unsigned; check the cosign key and its password "
            "(or that the OIDC token is fresh: CI tokens last minutes) and that the engine reaches "
            "Sigstore (cosign reads its signing configuration from tuf-repo-cdn.sigstore.dev and "
            "records to Rekor, even with a key), then run `sign` on these digests",
        ) from None
    return found


async def check_key_secret(key: dagger.Secret, where: str = "--cosign-key") -> None:
    """The key behind a Secret is a cosign private key; read once here, never shown or logged."""
    try:
        text = await key.plaintext()
    except dagger.DaggerError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "no reason given"
        raise HeliosError(
            f"{where} could not be read: {first}",
            hint="pass the private key file as file://PATH/cosign.key, or env://VAR holding it",
        ) from None
    check_cosign_key(text, where)


def as_rows(attached: Sequence[Attached]) -> list[Shipped]:
    """SBOMs and signatures as summary rows: "sbom of <subject, short>" and the referrer's digest.

    The subject's full digest is on its own row above; 12 hex digits keep the table readable.
    """
    rows = []
    for a in attached:
        name, _, digest = a.subject.partition("@")
        reference = f"{a.kind} of {name}@{digest[:19]}"
        rows.append(Shipped(a.distro, a.platform, reference, a.reference.partition("@")[2]))
    return rows
