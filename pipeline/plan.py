"""A build plan: the build order resolved for one distro and platform, with no engine.

The plan names the exact files each step uses, the environment each hook gets, and a digest of
everything each step's cache depends on, so comparing two checkouts shows what a change re-runs.
The Dagger graph is built from a plan and nothing else.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.catalogue import DISTROS_DIR, Catalogue, Distro
from pipeline.errors import HeliosError
from pipeline.imageconfig import load_image_env
from pipeline.order import BUILD_ORDER, PACKAGES_LIST_STEP, WEB_STEP, Action, Scope, Stage, Step
from pipeline.platforms import arch_of, check_platform
from pipeline.tree import Tree
from pipeline.versions import image_ref, load_versions, section_env

COMMON_BUILD = "common/build"
COMMON_ROOT = "common/root"
PACKAGES_FILE = "common/packages.toml"


@dataclass(frozen=True)
class PlannedStep:
    """A step of the build order, resolved: its files, its environment and its cache digest."""

    step: Step
    sources: tuple[str, ...]
    """The hook file, or the overlay directories in the order they are applied."""
    extras: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    digest: str = ""

    @property
    def hook(self) -> str:
        """The hook's path in the tree (hook steps only)."""
        return self.sources[0]


@dataclass(frozen=True)
class Plan:
    """Everything needed to build one distro's image for one platform."""

    distro: Distro
    platform: str
    base: str
    web_image: str
    steps: tuple[PlannedStep, ...]
    packages: tuple[str, ...]
    image_env: Mapping[str, str]
    s6_overlay: Mapping[str, Any]

    @property
    def arch(self) -> str:
        return arch_of(self.platform)

    def step(self, number: int) -> PlannedStep:
        return self.steps[number - 1]

    def stage(self, stage: Stage) -> tuple[PlannedStep, ...]:
        return tuple(s for s in self.steps if s.step.stage is stage)

    def find_hook(self, mount_path: str) -> PlannedStep | None:
        """The hook step whose script ran as ``mount_path``, named "<NN>-<hook>" (to explain a failure)."""
        number, _, name = mount_path.rsplit("/", 1)[-1].partition("-")
        if not number.isdigit() or not 1 <= int(number) <= len(self.steps):
            return None
        planned = self.step(int(number))
        return planned if planned.step.is_hook and planned.step.name == name else None


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class Planner:
    """Resolves plans against one tree (and its catalogue)."""

    def __init__(self, tree: Tree, versions: Mapping[str, Any] | None = None) -> None:
        self.tree = tree
        self.catalogue = Catalogue(tree)
        self.versions = load_versions() if versions is None else versions

    def plan(self, distro_name: str, platform: str, *, base: str | None = None) -> Plan:
        """The plan for ``distro_name`` (name or alias) on ``platform``; ``base`` overrides its image."""
        distro = self.catalogue.get(distro_name)
        platform = check_platform(platform)
        base = _check_image(base) if base is not None else distro.base
        web_image = image_ref(self.versions, "node")
        packages = self._packages(distro)
        chains = {
            Stage.WEB: _digest("web", web_image),
            Stage.KASM: _digest("kasm", base, platform),
            Stage.SYSTEM: _digest("system", base, platform),
        }
        steps: list[PlannedStep] = []
        for step in BUILD_ORDER:
            planned = self._resolve(step, distro, platform)
            if step.is_hook:
                inputs: list[object] = [chains[step.stage], planned.env]
                inputs += [self.tree.digest(path) for path in (*planned.sources, *planned.extras)]
                if step.number == PACKAGES_LIST_STEP:
                    inputs.append(packages)
                if step.stage is Stage.KASM and step.name == "package.sh":
                    inputs.append(chains[Stage.WEB])
                chains[step.stage] = _digest(*inputs)
            elif step.action is Action.JOIN:
                chains[Stage.IMAGE] = _digest(chains[Stage.KASM], chains[Stage.SYSTEM], self._s6())
            else:
                overlays = [(path, self.tree.digest(path)) for path in planned.sources]
                chains[Stage.IMAGE] = _digest(chains[Stage.IMAGE], overlays)
            steps.append(PlannedStep(planned.step, planned.sources, planned.extras, planned.env,
                                     chains[step.stage]))  # fmt: skip
        return Plan(
            distro=distro,
            platform=platform,
            base=base,
            web_image=web_image,
            steps=tuple(steps),
            packages=packages,
            image_env=load_image_env(self.tree),
            s6_overlay=self._s6(),
        )

    def _s6(self) -> Mapping[str, Any]:
        s6 = self.versions.get("s6_overlay")
        if not isinstance(s6, Mapping):
            raise HeliosError("pipeline/versions.toml: section [s6_overlay] is missing", hint="pin it there")
        return s6

    def _resolve(self, step: Step, distro: Distro, platform: str) -> PlannedStep:
        if step.action is Action.JOIN:
            return PlannedStep(step, ())
        if step.action is Action.OVERLAY:
            return PlannedStep(step, self._overlays(step, distro))
        hook = self.hook_path(step, distro)
        directory = hook.rsplit("/", 1)[0]
        extras = tuple(
            f"{directory}/{name}"
            for name in self.tree.list_dir(directory)
            if any(fnmatch.fnmatch(name, pattern) for pattern in step.extras)
        )
        return PlannedStep(step, (hook,), extras, self._env(step, distro, platform))

    def hook_path(self, step: Step, distro: Distro) -> str:
        """Where the hook of ``step`` comes from for ``distro`` (its own folder, then its ancestors')."""
        if step.scope is Scope.COMMON:
            candidates = [f"{COMMON_BUILD}/{step.name}"]
        else:
            candidates = [f"{DISTROS_DIR}/{name}/build/{step.name}" for name in distro.lineage]
        for path in candidates:
            if self.tree.is_file(path):
                return path
        raise HeliosError(
            f"step {step.number} ({step.label}): hook {candidates[0]} is missing",
            hint=f"create it (step {step.number} builds the {step.summary})"
            + (
                f", or inherit it with extends; looked in {', '.join(candidates)}"
                if len(candidates) > 1
                else ""
            ),
        )

    def _overlays(self, step: Step, distro: Distro) -> tuple[str, ...]:
        if step.scope is Scope.COMMON:
            candidates = [COMMON_ROOT]
        else:  # ancestors first, so the distro's own files win
            candidates = [f"{DISTROS_DIR}/{name}/root" for name in reversed(distro.lineage)]
        return tuple(path for path in candidates if self.tree.is_dir(path))

    def _env(self, step: Step, distro: Distro, platform: str) -> dict[str, str]:
        env = {"HELIOS_STEP": str(step.number), "HELIOS_WEBRTC": str(distro.webrtc).lower()}
        if step.number != WEB_STEP:  # the web client must not vary by distro or platform
            env |= {
                "HELIOS_DISTRO": distro.name,
                "HELIOS_FAMILY": distro.family,
                "HELIOS_ARCH": arch_of(platform),
            }
        for section in step.versions:
            env |= section_env(
                self.versions, section, arch=arch_of(platform), xorg_version=distro.xorg_version
            )
        return env

    def _packages(self, distro: Distro) -> tuple[str, ...]:
        from pipeline.packages import package_list

        if not self.tree.is_file(PACKAGES_FILE):
            raise HeliosError(f"{PACKAGES_FILE} is missing", hint="restore the unified package list")
        text = self.tree.read_bytes(PACKAGES_FILE).decode()
        return tuple(package_list(text, distro.packages, source=PACKAGES_FILE))


def _check_image(ref: str) -> str:
    ref = ref.strip()
    if not ref or any(char.isspace() for char in ref) or ref.startswith(("-", "/")):
        raise HeliosError(
            f"{ref!r} is not an image reference",
            hint="use a reference like almalinux:9.6 or ghcr.io/org/image:tag",
        )
    return ref
