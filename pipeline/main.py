"""The Helios Dagger module: build, smoke-test and publish desktop images for every distro."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, ParamSpec, TypeVar

import dagger
from dagger import DefaultPath, Doc, Ignore, dag, function, object_type

# The SDK's way to fail without a traceback (FunctionError), and the base of all its own reports.
from dagger.mod._exceptions import FunctionError, ModuleError

from pipeline import shipping, smoke
from pipeline.errors import HeliosError
from pipeline.failure import engine_error
from pipeline.graph import PACKAGES_TXT, Sources
from pipeline.hookcheck import check_hooks_directory
from pipeline.layers import Layers
from pipeline.mirror import plan_inputs
from pipeline.mirror_dagger import list_mirror, make_mirror
from pipeline.plan import Planner
from pipeline.platforms import check_platform
from pipeline.release import DEFAULT_PLATFORMS, Metadata, Target, check_credentials, matrix
from pipeline.render import distros_table, inputs_table, plan_table
from pipeline.snapshot import snapshot
from pipeline.version import helios_version

# Only the hook tree is uploaded: edits elsewhere (pipeline code, tests, docs) never touch a build key.
SOURCE_FILTER = ["*", "!common", "!common/**", "!distros", "!distros/**", "**/__pycache__"]

DistroArg = Annotated[str, Doc("distro name or alias, e.g. rhel, rocky, ubuntu (see `distros`)")]
DistrosArg = Annotated[list[str] | None, Doc("distros to include, by name or alias (default: all)")]
PlatformArg = Annotated[
    str | None, Doc("target platform: linux/amd64 or linux/arm64 (default: the engine's own)")
]
PlatformsArg = Annotated[list[str] | None, Doc("target platforms (default: linux/amd64 and linux/arm64)")]
HooksArg = Annotated[
    dagger.Directory | None,
    Doc("your hooks tree, laid out like ours (common/build, common/root, distros/<d>/...); its files win"),
]
BaseArg = Annotated[str | None, Doc("replace the distro's base image, e.g. almalinux:9.6 for --distro=rhel")]
RevisionArg = Annotated[str, Doc("source revision for the image label, e.g. the git commit")]
SourceUrlArg = Annotated[str, Doc("source repository URL for the image label")]
EpochArg = Annotated[
    int,
    Doc("SOURCE_DATE_EPOCH: Unix time of the created label and of copied files (pass the commit time)"),
]
ChannelArg = Annotated[
    str | None, Doc("publish as <channel>-<distro> (e.g. unstable for main) instead of release tags")
]
AddressArg = Annotated[str, Doc("registry repository without a tag, e.g. ghcr.io/org/helios")]
UsernameArg = Annotated[str | None, Doc("registry username (default: the caller's docker credentials)")]
InputsArg = Annotated[
    dagger.Directory | None,
    Doc("a local input mirror (sha256/<hex>, git/<owner>/<repo>/<commit>.bundle; see docs/inputs.md): "
        "each step takes its pinned upstream inputs from it first"),
]  # fmt: skip
OfflineArg = Annotated[
    bool, Doc("never fetch a pinned input from upstream: one the --inputs mirror lacks is an error")
]
PasswordArg = Annotated[dagger.Secret | None, Doc("registry password or token, e.g. env:REGISTRY_TOKEN")]


P = ParamSpec("P")
R = TypeVar("R")


def user_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Report a HeliosError, or an engine error, as the function's one-line error with a hint.

    No traceback: the error says what failed and what to do; the engine's own log shows the call.
    """

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
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

    async def _planner(
        self,
        hooks: dagger.Directory | None,
        *,
        digests: bool = False,
        inputs: dagger.Directory | None = None,
        offline: bool = False,
    ) -> Planner:
        if offline and inputs is None:
            raise HeliosError("--offline needs --inputs", hint="make a mirror first: see docs/inputs.md")
        repo = await snapshot(self.source, digests=digests)
        if hooks is not None:
            await check_hooks_directory(hooks)
        user = await snapshot(hooks, digests=digests) if hooks is not None else None
        mirror = await list_mirror(inputs, offline=offline) if inputs is not None else None
        return Planner(Layers(repo, user, user_label="hooks"), mirror=mirror)

    async def _platform(self, platform: str | None) -> str:
        return check_platform(platform if platform is not None else str(await dag.default_platform()))

    async def _images(
        self,
        targets: list[Target],
        *,
        planner: Planner,
        hooks: dagger.Directory | None,
        base: str | None = None,
        metadata: Metadata,
        inputs: dagger.Directory | None = None,
    ) -> list[shipping.Built]:
        """Lazy images of ``targets``, from our tree, the user's hooks and the input mirror."""
        sources = Sources(self.source, hooks, inputs)
        return shipping.plan_images(planner, sources, targets, metadata, base=base)

    @staticmethod
    def _metadata(revision: str, source_url: str, epoch: int) -> Metadata:
        return Metadata(helios_version(), revision, source_url, epoch)

    @function
    @user_errors
    async def build(
        self,
        distro: DistroArg,
        platform: PlatformArg = None,
        base: BaseArg = None,
        hooks: HooksArg = None,
        revision: RevisionArg = "",
        source_url: SourceUrlArg = "",
        source_date_epoch: EpochArg = 0,
        inputs: InputsArg = None,
        offline: OfflineArg = False,
    ) -> dagger.Container:
        """Build a distro's desktop image; chain export, publish or terminal after it."""
        metadata = self._metadata(revision, source_url, source_date_epoch)
        built = await self._one_image(distro, platform, base, hooks, metadata, inputs, offline)
        return await shipping.sync_one(built)

    async def _one_image(
        self,
        distro: str,
        platform: str | None,
        base: str | None,
        hooks: dagger.Directory | None,
        metadata: Metadata,
        inputs: dagger.Directory | None = None,
        offline: bool = False,
    ) -> shipping.Built:
        planner = await self._planner(hooks, inputs=inputs, offline=offline)
        target = Target(planner.catalogue.get(distro).name, await self._platform(platform))
        (built,) = await self._images(
            [target], planner=planner, hooks=hooks, base=base, metadata=metadata, inputs=inputs
        )
        return built

    @function
    @user_errors
    async def build_all(
        self,
        distros: DistrosArg = None,
        platforms: Annotated[list[str] | None, Doc("target platforms (default: the engine's own)")] = None,
        hooks: HooksArg = None,
        revision: RevisionArg = "",
        source_url: SourceUrlArg = "",
        source_date_epoch: EpochArg = 0,
        inputs: InputsArg = None,
        offline: OfflineArg = False,
    ) -> dagger.Directory:
        """Build every distro (or a subset) concurrently; returns helios-<distro>-<arch>.tar files."""
        planner = await self._planner(hooks, inputs=inputs, offline=offline)
        targets = matrix(planner.catalogue, distros, platforms or [await self._platform(None)])
        metadata = self._metadata(revision, source_url, source_date_epoch)
        images = await self._images(targets, planner=planner, hooks=hooks, metadata=metadata, inputs=inputs)
        await shipping.sync_all(images)
        return shipping.tarballs(images)

    # A push must happen on every call: a cached result would return old references unpushed.
    @function(cache="never")  # type: ignore[call-overload]
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
        hooks: HooksArg = None,
        revision: RevisionArg = "",
        source_url: SourceUrlArg = "",
        source_date_epoch: EpochArg = 0,
        inputs: InputsArg = None,
        offline: OfflineArg = False,
    ) -> list[str]:
        """Push a distro's image, multi-arch, under its tags; returns the references with digests."""
        return await self._publish(
            [distro], address, tag, channel, platforms, username, password, base, hooks, revision,
            source_url, source_date_epoch, inputs, offline,
        )  # fmt: skip

    # Pushes on every call, as publish does.
    @function(cache="never")  # type: ignore[call-overload]
    @user_errors
    async def publish_all(
        self,
        address: AddressArg,
        distros: DistrosArg = None,
        channel: ChannelArg = None,
        platforms: PlatformsArg = None,
        username: UsernameArg = None,
        password: PasswordArg = None,
        hooks: HooksArg = None,
        revision: RevisionArg = "",
        source_url: SourceUrlArg = "",
        source_date_epoch: EpochArg = 0,
        inputs: InputsArg = None,
        offline: OfflineArg = False,
    ) -> list[str]:
        """Push every distro (or a subset), multi-arch; returns the references with digests."""
        return await self._publish(
            distros, address, None, channel, platforms, username, password, None, hooks, revision,
            source_url, source_date_epoch, inputs, offline,
        )  # fmt: skip

    async def _publish(
        self,
        distros: list[str] | None,
        address: str,
        tags: list[str] | None,
        channel: str | None,
        platforms: list[str] | None,
        username: str | None,
        password: dagger.Secret | None,
        base: str | None,
        hooks: dagger.Directory | None,
        revision: str,
        source_url: str,
        epoch: int,
        inputs: dagger.Directory | None = None,
        offline: bool = False,
    ) -> list[str]:
        check_credentials(username, password is not None)
        planner = await self._planner(hooks, inputs=inputs, offline=offline)
        targets = matrix(planner.catalogue, distros, platforms or DEFAULT_PLATFORMS)
        metadata = self._metadata(revision, source_url, epoch)
        images = await self._images(
            targets, planner=planner, hooks=hooks, base=base, metadata=metadata, inputs=inputs
        )
        shipped = await shipping.publish(
            images,
            address,
            version=metadata.version,
            tags=tags,
            channel=channel,
            username=username,
            password=password,
        )
        return [f"{item.reference}@{item.digest}" for item in shipped]

    @function
    @user_errors
    async def packages(
        self,
        distro: DistroArg,
        platform: PlatformArg = None,
        base: BaseArg = None,
        hooks: HooksArg = None,
        inputs: InputsArg = None,
        offline: OfflineArg = False,
    ) -> dagger.File:
        """The image's installed packages with versions (also in the image at /opt/helios/packages.txt)."""
        built = await self._one_image(
            distro, platform, base, hooks, self._metadata("", "", 0), inputs, offline
        )
        return (await shipping.sync_one(built)).file(PACKAGES_TXT)

    @function
    @user_errors
    async def distros(self, hooks: HooksArg = None) -> str:
        """List the distros with a one-line description each."""
        return distros_table((await self._planner(hooks)).catalogue)

    @function
    @user_errors
    async def plan(
        self,
        distro: DistroArg,
        platform: PlatformArg = None,
        base: BaseArg = None,
        hooks: HooksArg = None,
        digests: Annotated[bool, Doc("show a digest of everything each step's cache depends on")] = False,
        inputs: Annotated[
            dagger.Directory | None,
            Doc("an input mirror: also show each step's inputs and whether it holds them"),
        ] = None,
    ) -> str:
        """Show the numbered build steps for a distro: stage, the file each step runs, and its origin."""
        planner = await self._planner(hooks, digests=digests, inputs=inputs)
        planned = planner.plan(distro, await self._platform(platform), base=base)
        table = plan_table(planned, digests=digests)
        if planner.mirror is None:
            return table
        return table + "\n\n" + inputs_table(planned, "--inputs", planner.mirror.entries.__contains__)

    @function
    @user_errors
    async def inputs(
        self,
        distros: DistrosArg = None,
        platforms: PlatformsArg = None,
        hooks: HooksArg = None,
    ) -> dagger.Directory:
        """Every pinned upstream input the selection needs, verified, as an input mirror to export."""
        planner = await self._planner(hooks)
        targets = matrix(planner.catalogue, distros, platforms or DEFAULT_PLATFORMS)
        plans = [planner.plan(t.distro, t.platform) for t in targets]
        return make_mirror(plan_inputs(plans), plans[0].web_image)

    # A health check must really run every time. (The SDK's overloads lack `cache`, though it works.)
    @function(cache="never")  # type: ignore[call-overload]
    @user_errors
    async def smoke(
        self,
        distro: DistroArg,
        platform: PlatformArg = None,
        base: BaseArg = None,
        hooks: HooksArg = None,
        timeout: Annotated[int, Doc("seconds to wait for the desktop to be ready")] = smoke.DEFAULT_TIMEOUT,
        inputs: InputsArg = None,
        offline: OfflineArg = False,
    ) -> str:
        """Build a distro's image, run it as a service and check port 3000 serves the desktop."""
        if timeout <= 0:
            raise HeliosError(f"timeout must be positive, not {timeout}", hint="pass --timeout=180")
        built = await self._one_image(
            distro, platform, base, hooks, self._metadata("", "", 0), inputs, offline
        )
        image, plan = await shipping.sync_one(built), built.plan
        nonce = uuid.uuid4().hex
        try:
            return await smoke.probe(image, plan.web_image, timeout=timeout, nonce=nonce).stdout()
        except dagger.ExecError as error:
            boot = smoke.diagnostic_boot(image, timeout=timeout, nonce=nonce)
            log = (await boot.stdout()) + (await boot.stderr())
            tail = "\n".join(log.splitlines()[-smoke.LOG_TAIL_LINES :])
            raise HeliosError(
                f"smoke check of {plan.distro.name} on {plan.platform} failed: {error.stderr.strip()}\n"
                f"last lines of the container log:\n{tail}",
                hint="try it: dagger call build --distro=... "
                "as-service --args=/init --no-init up --ports=3000:3000",
            ) from None
