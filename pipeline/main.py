"""The Helios Dagger module: `dagger call build --distro=rhel`, `distros`, `plan`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import dagger
from dagger import DefaultPath, Doc, Ignore, dag, function, object_type

from pipeline import graph, smoke
from pipeline.errors import HeliosError
from pipeline.failure import describe_failure
from pipeline.graph import Sources
from pipeline.layers import Layers
from pipeline.plan import Plan, Planner
from pipeline.platforms import check_platform
from pipeline.render import distros_table, plan_table
from pipeline.snapshot import snapshot

# Only the hook tree is uploaded: edits elsewhere (pipeline code, tests, docs) never touch a build key.
SOURCE_FILTER = ["*", "!common", "!common/**", "!distros", "!distros/**", "**/__pycache__"]

DistroArg = Annotated[str, Doc("distro name or alias, e.g. rhel, rocky, ubuntu (see `distros`)")]
PlatformArg = Annotated[
    str | None, Doc("target platform: linux/amd64 or linux/arm64 (default: the engine's own)")
]
HooksArg = Annotated[
    dagger.Directory | None,
    Doc("your hooks tree, laid out like ours (common/build, common/root, distros/<d>/...); its files win"),
]
BaseArg = Annotated[str | None, Doc("replace the distro's base image, e.g. almalinux:9.6 for --distro=rhel")]


def helios_version() -> str:
    """The version of this Helios checkout, as installed."""
    try:
        return version("helios")
    except PackageNotFoundError:
        return "0.0.0"


@object_type
class Helios:
    """Build ready-to-run Linux desktop images (KasmVNC, XFCE, s6) for many distros from one hook tree."""

    source: Annotated[
        dagger.Directory,
        DefaultPath("/"),
        Ignore(SOURCE_FILTER),
        Doc("the Helios tree: common/ and distros/ (default: this repository)"),
    ]

    async def _layers(self, hooks: dagger.Directory | None, *, digests: bool = False) -> Layers:
        repo = await snapshot(self.source, digests=digests)
        user = await snapshot(hooks, digests=digests) if hooks is not None else None
        return Layers(repo, user, user_label="hooks")

    async def _plan(
        self,
        distro: str,
        platform: str | None,
        base: str | None,
        hooks: dagger.Directory | None,
        *,
        digests: bool = False,
    ) -> Plan:
        if platform is None:
            platform = str(await dag.default_platform())
        layers = await self._layers(hooks, digests=digests)
        return Planner(layers).plan(distro, check_platform(platform), base=base)

    @function
    async def build(
        self,
        distro: DistroArg,
        platform: PlatformArg = None,
        base: BaseArg = None,
        hooks: HooksArg = None,
        revision: Annotated[str, Doc("source revision for the image label, e.g. a git commit")] = "",
        source_url: Annotated[str, Doc("source repository URL for the image label")] = "",
        source_date_epoch: Annotated[
            int | None, Doc("Unix time for the created label (default: now)")
        ] = None,
    ) -> dagger.Container:
        """Build a distro's desktop image; chain export, publish or terminal after it."""
        plan = await self._plan(distro, platform, base, hooks)
        created = datetime.fromtimestamp(source_date_epoch, UTC) if source_date_epoch is not None else None
        labels = graph.oci_labels(
            plan, version=helios_version(), revision=revision, source_url=source_url, created=created
        )
        return await self._sync(plan, graph.image(Sources(self.source, hooks), plan, labels=labels))

    @staticmethod
    async def _sync(plan: Plan, image: dagger.Container) -> dagger.Container:
        """Evaluate ``image``; a failed hook becomes an error naming its step, file and output."""
        try:
            return await image.sync()
        except dagger.ExecError as error:
            report = describe_failure(plan, error.command, error.exit_code, error.stdout, error.stderr)
            raise HeliosError(report, hint="fix the hook, then run the build again") from None

    @function(cache="never")  # a health check must really run every time
    async def smoke(
        self,
        distro: DistroArg,
        platform: PlatformArg = None,
        base: BaseArg = None,
        hooks: HooksArg = None,
        timeout: Annotated[int, Doc("seconds to wait for the desktop to report ready")] = 180,
    ) -> str:
        """Build a distro's image, run it as a service and check port 3000 serves the desktop."""
        if timeout <= 0:
            raise HeliosError(f"timeout must be positive, not {timeout}", hint="pass --timeout=180")
        plan = await self._plan(distro, platform, base, hooks)
        image = await self._sync(plan, graph.image(Sources(self.source, hooks), plan))
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

    @function
    async def distros(self, hooks: HooksArg = None) -> str:
        """List the distros with a one-line description each."""
        return distros_table(Planner(await self._layers(hooks)).catalogue)

    @function
    async def plan(
        self,
        distro: DistroArg,
        platform: PlatformArg = None,
        base: BaseArg = None,
        hooks: HooksArg = None,
        digests: Annotated[bool, Doc("show a digest of everything each step's cache depends on")] = False,
    ) -> str:
        """Show the numbered build steps for a distro: stage, the file each step runs, and its origin."""
        plan = await self._plan(distro, platform, base, hooks, digests=digests)
        return plan_table(plan, digests=digests)
