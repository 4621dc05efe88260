"""The Helios Dagger module: build, smoke-test and publish desktop images for every distro.

Module-wide inputs (the hook tree, the user's hooks, the input mirror, the image labels) are the
object's constructor arguments: ``dagger call --hooks=./site build --distro=rhel``. Every function
here only picks targets and hands them to the engine-free core and :mod:`pipeline.shipping`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, ParamSpec, TypeVar

import dagger
from dagger import DefaultPath, Doc, Ignore, Name, dag, function, object_type

# The SDK's way to fail without a traceback (FunctionError), and the base of all its own reports.
from dagger.mod._exceptions import FunctionError, ModuleError

from pipeline import shipping, smoke, supply
from pipeline.errors import HeliosError
from pipeline.failure import engine_error
from pipeline.graph import Sources
from pipeline.hookcheck import directory_problems, first_hazard
from pipeline.imagerewrite import ImageRewrites
from pipeline.layers import Layers
from pipeline.layout import source_ignore
from pipeline.mirror import plan_inputs
from pipeline.mirror_dagger import list_mirror, make_mirror
from pipeline.plan import Planner
from pipeline.platforms import check_platform
from pipeline.release import (
    DEFAULT_PLATFORMS,
    Metadata,
    check_address,
    check_credentials,
    helios_version,
    matrix,
)
from pipeline.render import distros_table, inputs_table, plan_table
from pipeline.signing import Login, Signing
from pipeline.snapshot import snapshot
from pipeline.spelling import Front, spell
from pipeline.stepmounts import PACKAGES_TXT

MODULE = Front.MODULE
"""This front end: hints name options as `dagger call` spells them."""

# Only the hook tree is uploaded: edits elsewhere (pipeline code, tests, docs) never touch a build key.
SOURCE_FILTER = source_ignore()

DistroArg = Annotated[str, Doc("distro name or alias, e.g. rhel, rocky, ubuntu (see `distros`)")]
DistrosArg = Annotated[list[str] | None, Doc("distros to include, by name or alias (default: all)")]
PlatformArg = Annotated[
    str | None, Doc("target platform: linux/amd64 or linux/arm64 (default: the engine's own)")
]
PlatformsArg = Annotated[list[str] | None, Doc("target platforms (default: linux/amd64 and linux/arm64)")]
BaseArg = Annotated[str | None, Doc("replace the distro's base image, e.g. almalinux:9.6 for --distro=rhel")]
ChannelArg = Annotated[
    str | None, Doc("publish as <channel>-<distro> (e.g. unstable for main) instead of release tags")
]
AddressArg = Annotated[str, Doc("registry repository without a tag, e.g. ghcr.io/org/helios")]
UsernameArg = Annotated[str | None, Doc("registry username (default: the caller's docker credentials)")]
PasswordArg = Annotated[dagger.Secret | None, Doc("registry password or token, e.g. env://REGISTRY_TOKEN")]
SbomArg = Annotated[
    bool, Doc("attach an SPDX SBOM to each pushed image as an OCI referrer (--sbom=false to skip)")
]
CosignKeyArg = Annotated[
    dagger.Secret | None,
    Doc("sign the pushed digests with this cosign private key, e.g. file://./cosign.key"),
]
CosignPasswordArg = Annotated[
    dagger.Secret | None, Doc("the cosign key's password, e.g. env://COSIGN_PASSWORD")
]
OidcTokenArg = Annotated[
    dagger.Secret | None,
    Doc("sign keyless (Sigstore) with this CI OIDC token of audience sigstore, e.g. env://SIGSTORE_ID_TOKEN"),
]

P = ParamSpec("P")
R = TypeVar("R")

# dagger-io 0.21's typed overloads of `function` leave out the `cache` argument its body takes.
_function_with_options: Callable[..., Any] = function


def never_cached(func: Callable[P, R]) -> Callable[P, R]:
    """``@function`` for calls that must act every time: the engine never answers them from its cache."""
    registered: Callable[P, R] = _function_with_options(func, cache="never")
    return registered


def refuse_blank(function: str, arguments: Mapping[str, object]) -> None:
    """No argument means anything when blank: ``--channel=""`` (an unset variable) is a mistake.

    Taken as "not given" it would, for one, publish release tags from a script meant for a channel.
    """
    for name, value in arguments.items():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(item, str) and not item.strip() for item in values):
            flag = "--" + name.replace("_", "-")
            raise HeliosError(
                f"{function.replace('_', '-')}: {flag} was given an empty value",
                hint="pass a value, or leave it out (is a shell variable unset?)",
            )


def user_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Report a HeliosError, or an engine error, as the function's one-line error with a hint.

    No traceback: the error says what failed and what to do; the engine's own log shows the call.
    A blank argument is refused before the function runs.
    """
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            refuse_blank(fn.__name__, signature.bind(*args, **kwargs).arguments)
            return await fn(*args, **kwargs)
        except HeliosError as error:
            raise FunctionError(str(error)) from None
        except ModuleError:
            raise  # already the SDK's own report
        except dagger.DaggerError as error:  # e.g. a push the registry refused
            raise FunctionError(str(engine_error(str(error)))) from None

    return wrapper


@object_type
class Helios:
    """Build ready-to-run Linux desktop images (KasmVNC, XFCE, s6) for many distros from one hook tree."""

    source: Annotated[
        dagger.Directory,
        DefaultPath("/"),
        Ignore(SOURCE_FILTER),
        Doc("the Helios tree: common/ and distros/ (default: this repository)"),
    ]
    hooks: Annotated[
        dagger.Directory | None,
        Doc(
            "your hooks tree, laid out like ours (common/build, common/root, distros/<d>/...); its files win"
        ),
    ] = None
    # `inputs` is also the name of a function, so the attribute has its own Python name.
    mirror: Annotated[
        dagger.Directory | None,
        Name("inputs"),
        Doc("a local input mirror (sha256/<hex>, git/<owner>/<repo>/<commit>.bundle; see docs/inputs.md): "
            "each step takes its pinned upstream inputs from it first"),
    ] = None  # fmt: skip
    offline: Annotated[
        bool, Doc("never fetch a pinned input from upstream: one the --inputs mirror lacks is an error")
    ] = False
    image_rewrite: Annotated[
        list[str] | None,
        Doc("pull images from where your site keeps them: FROM=TO rules, e.g. docker.io=registry.corp/hub "
            "(a registry or repository prefix, or one image by tag or digest; see docs/engine.md)"),
    ] = None  # fmt: skip
    revision: Annotated[str, Doc("source revision for the image label, e.g. the git commit")] = ""
    source_url: Annotated[str, Doc("source repository URL for the image label")] = ""
    source_date_epoch: Annotated[
        int,
        Doc("SOURCE_DATE_EPOCH: Unix time of the created label and of copied files (pass the commit time)"),
    ] = 0

    @function
    @user_errors
    async def build(
        self, distro: DistroArg, platform: PlatformArg = None, base: BaseArg = None
    ) -> dagger.Container:
        """Build a distro's desktop image; chain export, publish or terminal after it."""
        return await shipping.sync_one(await self._image(distro, platform, base))

    @function
    @user_errors
    async def build_all(
        self,
        distros: DistrosArg = None,
        platforms: Annotated[list[str] | None, Doc("target platforms (default: the engine's own)")] = None,
    ) -> dagger.Directory:
        """Build every distro (or a subset) concurrently; returns helios-<distro>-<arch>.tar files."""
        images = await self._images(distros, platforms or [await self._platform(None)])
        await shipping.sync_all(images)
        return shipping.tarballs(images)

    # A push must happen on every call: a cached result would return old references unpushed.
    @never_cached
    @user_errors
    async def publish(
        self,
        distro: DistroArg,
        address: AddressArg,
        tag: Annotated[list[str] | None, Doc("tags to push instead of <version>-<distro>, <distro>")] = None,
        channel: ChannelArg = None,
        platforms: PlatformsArg = None,
        username: UsernameArg = None,
        password: PasswordArg = None,
        base: BaseArg = None,
        sbom: SbomArg = True,
        cosign_key: CosignKeyArg = None,
        cosign_password: CosignPasswordArg = None,
        oidc_token: OidcTokenArg = None,
    ) -> list[str]:
        """Push a distro's image, multi-arch, under its tags, with its SBOM and (if asked) signatures.

        Returns the references with digests, then one line per SBOM and signature pushed.
        """
        return await self._publish(
            [distro],
            address,
            platforms,
            tags=tag,
            channel=channel,
            username=username,
            password=password,
            base=base,
            sbom=sbom,
            signing=Signing(cosign_key, cosign_password, oidc_token),
        )

    # Pushes on every call, as publish does.
    @never_cached
    @user_errors
    async def publish_all(
        self,
        address: AddressArg,
        distros: DistrosArg = None,
        channel: ChannelArg = None,
        platforms: PlatformsArg = None,
        username: UsernameArg = None,
        password: PasswordArg = None,
        sbom: SbomArg = True,
        cosign_key: CosignKeyArg = None,
        cosign_password: CosignPasswordArg = None,
        oidc_token: OidcTokenArg = None,
    ) -> list[str]:
        """Push every distro (or a subset), multi-arch, with SBOMs; returns references, SBOMs, signatures."""
        return await self._publish(
            distros,
            address,
            platforms,
            channel=channel,
            username=username,
            password=password,
            sbom=sbom,
            signing=Signing(cosign_key, cosign_password, oidc_token),
        )

    # Signs on every call.
    @never_cached
    @user_errors
    async def sign(
        self,
        reference: Annotated[
            list[str], Doc("digest references to sign, as publish printed them (images and SBOMs)")
        ],
        username: UsernameArg = None,
        password: PasswordArg = None,
        cosign_key: CosignKeyArg = None,
        cosign_password: CosignPasswordArg = None,
        oidc_token: OidcTokenArg = None,
    ) -> list[str]:
        """Sign images and SBOMs pushed earlier, e.g. with a CI OIDC token fetched just before."""
        how = Signing(cosign_key, cosign_password, oidc_token)
        if not how.enabled:
            raise HeliosError(
                "nothing to sign with",
                hint=f"pass {spell('a cosign key', MODULE)} or {spell('a keyless signing token', MODULE)}",
            )
        check_credentials(username, password is not None, MODULE)
        if cosign_key is not None:
            await supply.check_key_secret(cosign_key)
        login = Login(reference[0].partition("@")[0] if reference else "", username, password)
        return [a.line() for a in await supply.sign_pushed(reference, login, how, self._rewrites())]

    @function
    @user_errors
    async def packages(
        self, distro: DistroArg, platform: PlatformArg = None, base: BaseArg = None
    ) -> dagger.File:
        """The image's installed packages with versions (also in the image at /opt/helios/packages.txt)."""
        return (await shipping.sync_one(await self._image(distro, platform, base))).file(PACKAGES_TXT)

    # A health check must really run every time.
    @never_cached
    @user_errors
    async def smoke(
        self,
        distro: DistroArg,
        platform: PlatformArg = None,
        base: BaseArg = None,
        timeout: Annotated[int, Doc("seconds to wait for the desktop to be ready")] = smoke.DEFAULT_TIMEOUT,
    ) -> str:
        """Build a distro's image, run it as a service and check port 3000 serves the desktop."""
        smoke.check_timeout(timeout)
        built = await self._image(distro, platform, base)
        return await smoke.check(await shipping.sync_one(built), built.plan, timeout=timeout)

    @function
    @user_errors
    async def distros(self) -> str:
        """List the distros with a one-line description each."""
        return distros_table((await self._planner()).catalogue)

    @function
    @user_errors
    async def plan(
        self,
        distro: DistroArg,
        platform: PlatformArg = None,
        base: BaseArg = None,
        digests: Annotated[bool, Doc("show a digest of everything each step's cache depends on")] = False,
    ) -> str:
        """Show the numbered build steps for a distro: stage, the file each step runs, and its origin.

        With --inputs, also each step's pinned inputs and whether the mirror holds them.
        """
        # Never offline here: the table shows what the mirror lacks instead of stopping at it.
        planner = await self._planner(digests=digests, mirror=True)
        planned = planner.plan(distro, await self._platform(platform), base=base)
        table = plan_table(planned, digests=digests)
        if planner.mirror is None:
            return table
        return table + "\n\n" + inputs_table(planned, planner.mirror)

    @function
    @user_errors
    async def inputs(self, distros: DistrosArg = None, platforms: PlatformsArg = None) -> dagger.Directory:
        """Every pinned upstream input the selection needs, verified, as an input mirror to export."""
        planner = await self._planner()
        targets = matrix(planner.catalogue, distros, platforms or DEFAULT_PLATFORMS)
        plans = [planner.plan(t.distro, t.platform) for t in targets]
        return make_mirror(plan_inputs(plans), plans[0].web_image)

    # What the functions share: the planner, the targets' lazy images, and the push.

    async def _planner(
        self, *, digests: bool = False, mirror: bool = False, offline: bool = False
    ) -> Planner:
        """Our tree under the user's hooks; with ``mirror``, the --inputs mirror (``offline`` or not)."""
        if offline and self.mirror is None:
            raise HeliosError("--offline needs --inputs", hint="make a mirror first: see docs/inputs.md")
        repo = await snapshot(self.source, digests=digests)
        # The checks of `helios validate`, before anything is planned or built.
        problems = await directory_problems(repo, self.hooks)
        if problems:
            raise first_hazard(problems, "`helios validate --hooks DIR`")
        user = await snapshot(self.hooks, digests=digests) if self.hooks is not None else None
        listed = (
            await list_mirror(self.mirror, offline=offline) if mirror and self.mirror is not None else None
        )
        return Planner(Layers(repo, user, user_label="hooks"), mirror=listed, rewrites=self._rewrites())

    def _rewrites(self) -> ImageRewrites:
        return ImageRewrites(self.image_rewrite or ())

    async def _platform(self, platform: str | None) -> str:
        return check_platform(platform if platform is not None else str(await dag.default_platform()))

    async def _images(
        self, distros: list[str] | None, platforms: list[str], *, base: str | None = None
    ) -> list[shipping.Built]:
        """Lazy images of every distro x platform; every bad input fails here, before any work runs."""
        planner = await self._planner(mirror=True, offline=self.offline)
        targets = matrix(planner.catalogue, distros, platforms)
        metadata = Metadata(helios_version(), self.revision, self.source_url, self.source_date_epoch)
        sources = Sources(self.source, self.hooks, self.mirror)
        return shipping.plan_images(planner, sources, targets, metadata, base=base)

    async def _image(self, distro: str, platform: str | None, base: str | None) -> shipping.Built:
        (built,) = await self._images([distro], [await self._platform(platform)], base=base)
        return built

    async def _publish(
        self,
        distros: list[str] | None,
        address: str,
        platforms: list[str] | None,
        *,
        tags: list[str] | None = None,
        channel: str | None = None,
        username: str | None = None,
        password: dagger.Secret | None = None,
        base: str | None = None,
        sbom: bool = True,
        signing: Signing | None = None,
    ) -> list[str]:
        address = check_address(address)
        check_credentials(username, password is not None, MODULE)
        how = signing or Signing()
        if how.key is not None:
            await supply.check_key_secret(how.key)
        images = await self._images(distros, platforms or list(DEFAULT_PLATFORMS), base=base)
        shipped = await shipping.publish(
            images,
            address,
            version=helios_version(),
            tags=tags,
            channel=channel,
            username=username,
            password=password,
        )
        extras = supply.Supply(Login(address, username, password), how, sbom, self._rewrites())
        attached = await supply.attach_and_sign(images, shipped, extras, version=helios_version())
        return supply.report_lines(shipped, attached)
