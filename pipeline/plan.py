"""A build plan: the build order resolved for one distro and platform, with no engine.

The plan names the exact files each step uses (and whether they come from the repository or from
the user's hooks), the environment each hook gets, and a digest of everything each step's cache
depends on, so comparing two checkouts shows what a change re-runs. The Dagger graph is built
from a plan and nothing else.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pipeline.catalogue import Catalogue, Distro
from pipeline.dates import DEFAULT_SOURCE_DATE, epoch, snapshot_id
from pipeline.errors import HeliosError
from pipeline.hookenv import INPUTS_ENV, INPUTS_MOUNT, OFFLINE_ENV, path_env
from pipeline.imageconfig import load_image_env
from pipeline.imageref import check_reference
from pipeline.imagerewrite import NO_REWRITES, ImageRewrites
from pipeline.layers import REPO, USER, Layers, Ref
from pipeline.layout import (
    COMMON_BUILD,
    COMMON_ROOT,
    HOOK_LIBRARY,
    LIBRARY_PARTS,
    PACKAGES_FILE,
    config_path,
    distro_build,
    distro_root,
    drop_in_folder,
)
from pipeline.library import Library
from pipeline.mirror.inputs import Input, s6_inputs, step_inputs, unique
from pipeline.mirror.state import REPAIR_HINT, Mirror
from pipeline.order import BUILD_ORDER, Action, Feed, Scope, Stage, Step
from pipeline.platforms import arch_of, check_platform
from pipeline.tree import MAX_SCRIPT_BYTES, Tree, too_large
from pipeline.versions import image_ref, load_versions, section_env


@dataclass(frozen=True)
class Run:
    """One script execution: the script, its name in the container, and the files mounted beside it."""

    script: Ref
    mounted: str
    """The script's file name under /helios/hooks, "<NN>-<hook>" or "<NN>-<hook>.d-<script>"."""
    extras: tuple[Ref, ...] = ()
    """The files it reads beside it: the step's extras (a hook), its folder's data (a drop-in)."""
    library: tuple[Ref, ...] = ()
    """The hook library's loader, then the parts the script uses (pipeline/library.py)."""

    @property
    def files(self) -> tuple[Ref, ...]:
        """Everything mounted beside the script."""
        return (*self.extras, *self.library)


@dataclass(frozen=True)
class PlannedStep:
    """A step of the build order, resolved: what it runs or copies, its environment and its digest."""

    step: Step
    runs: tuple[Run, ...] = ()
    """Hook steps: the hook, then its drop-in scripts."""
    overlays: tuple[Ref, ...] = ()
    """Overlay steps: the root/ folders in the order they are copied (the last one wins)."""
    env: Mapping[str, str] = field(default_factory=dict)
    digest: str = ""
    inputs: tuple[Input, ...] = ()
    """The pinned upstream inputs the step consumes (pipeline/mirror/inputs.py), mirrored or not."""
    mirrored: tuple[str, ...] = ()
    """With a mirror: the paths of its entries the step gets, read-only, at /helios/inputs."""

    @property
    def hook(self) -> Ref:
        """The hook itself (hook steps only)."""
        return self.runs[0].script

    @property
    def extras(self) -> tuple[Ref, ...]:
        """The extra files of the hook (patches, images): those its step declares, where it reads them."""
        return self.runs[0].extras


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

    def find_run(self, command: str) -> tuple[PlannedStep, Run] | None:
        """The step and script that ran as ``command`` (a path ending in the mounted name)."""
        if not command.startswith("/") or "\n" in command:
            return None
        mounted = command.rsplit("/", 1)[-1]
        number = mounted.split("-", 1)[0]
        if not number.isdigit() or not 1 <= int(number) <= len(self.steps):
            return None
        planned = self.step(int(number))
        run = next((r for r in planned.runs if r.mounted == mounted), None)
        return (planned, run) if run else None


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class Planner:
    """Resolves plans against one tree, or the repository's tree with a user's hooks over it."""

    def __init__(
        self,
        source: Tree | Layers,
        versions: Mapping[str, Any] | None = None,
        mirror: Mirror | None = None,
        rewrites: ImageRewrites = NO_REWRITES,
    ) -> None:
        self.layers = source if isinstance(source, Layers) else Layers(source)
        self.catalogue = Catalogue(self.layers)
        self.versions = load_versions() if versions is None else versions
        self.mirror = mirror
        """A local input mirror the build takes pinned inputs from (None: the network only)."""
        self.rewrites = rewrites
        """Where the site keeps the images the plan pulls (pipeline/imagerewrite.py)."""
        self._hook_library: tuple[Library, dict[str, Ref]] | None = None
        self._parts: dict[Ref, tuple[Ref, ...]] = {}
        """The library each script gets, read once for all the plans of this planner."""

    def plan(self, distro_name: str, platform: str, *, base: str | None = None) -> Plan:
        """The plan for ``distro_name`` (name or alias) on ``platform``; ``base`` overrides its image."""
        return self.plan_distro(self.catalogue.get(distro_name), platform, base=base)

    def plan_distro(self, distro: Distro, platform: str, *, base: str | None = None) -> Plan:
        """The plan for ``distro`` of this planner's catalogue on ``platform``."""
        platform = check_platform(platform)
        base = self.rewrites.apply(_check_base(distro, base))
        web_image = self.rewrites.apply(image_ref(self.versions, "node"))
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
                for run in planned.runs:
                    script = self._script_digest(run.script)
                    inputs += [run.mounted, script, [self._digest(f) for f in run.files]]
                fed: dict[Feed, object] = {Feed.PACKAGE_LIST: packages, Feed.WEB_CLIENT: chains[Stage.WEB]}
                inputs += [fed[feed] for feed in step.consumes]
                if planned.mirrored:
                    inputs.append(self._entry_digests(planned.mirrored))
                chains[step.stage] = _digest(*inputs)
            elif step.action is Action.JOIN:
                joined: list[object] = [chains[Stage.KASM], chains[Stage.SYSTEM], self._s6()]
                if planned.mirrored:
                    joined.append(self._entry_digests(planned.mirrored))
                chains[Stage.IMAGE] = _digest(*joined)
            else:
                overlays = [(str(ref), self._digest(ref)) for ref in planned.overlays]
                chains[Stage.IMAGE] = _digest(chains[Stage.IMAGE], overlays)
            steps.append(replace(planned, digest=chains[step.stage]))
        return Plan(
            distro=distro,
            platform=platform,
            base=base,
            web_image=web_image,
            steps=tuple(steps),
            packages=packages,
            image_env=load_image_env(self.layers.tree(REPO)),
            s6_overlay=self._s6(),
        )

    def plan_all(self, targets: Iterable[tuple[Distro, str]], *, base: str | None = None) -> list[Plan]:
        """The plans of ``targets`` (distro, platform), refused when the mirror cannot serve them.

        Every pinned input the plans consume is looked up in the mirror before anything runs: a
        corrupt entry would fail its step, and offline a missing one would (see Mirror.refusals).
        """
        plans = [self.plan_distro(distro, platform, base=base) for distro, platform in targets]
        if self.mirror is not None:
            problems = self.mirror.refusals(plan_inputs(plans))
            if problems:
                raise HeliosError(
                    f"the input mirror {self.mirror.location} cannot serve this build: "
                    f"{len(problems)} input(s) above",
                    problems=problems,
                    hint=REPAIR_HINT,
                )
        return plans

    def _digest(self, ref: Ref) -> str:
        # By content only, as the engine keys files: moving a file between layers re-runs nothing.
        return self.layers.digest(ref)

    def _script_digest(self, script: Ref) -> str:
        """A script's digest; one too large to be a script is refused before it is read."""
        self._check_script_size(script)
        return self._digest(script)

    def _check_script_size(self, script: Ref) -> None:
        size = self.layers.size(script)
        if size > MAX_SCRIPT_BYTES:
            raise too_large(script, size, MAX_SCRIPT_BYTES, "script")

    def _entry_digests(self, paths: tuple[str, ...]) -> list[tuple[str, str]]:
        entries = self.mirror.entries if self.mirror is not None else {}
        return [(path, entries.get(path, "")) for path in paths]

    def _with_inputs(self, planned: PlannedStep, inputs: tuple[Input, ...]) -> PlannedStep:
        """``planned`` consuming ``inputs``; with a mirror, its entries and the hooks' mirror env."""
        if self.mirror is None or not inputs:
            return replace(planned, inputs=inputs)
        env = dict(planned.env)
        if planned.runs:  # the image stage's s6-overlay is fetched by the pipeline, not by a hook
            env[INPUTS_ENV] = INPUTS_MOUNT
            if self.mirror.offline:
                env[OFFLINE_ENV] = "true"
        return replace(planned, env=env, inputs=inputs, mirrored=self.mirror.present(inputs))

    def _s6(self) -> Mapping[str, Any]:
        s6 = self.versions.get("s6_overlay")
        if not isinstance(s6, Mapping):
            raise HeliosError("pipeline/versions.toml: section [s6_overlay] is missing", hint="pin it there")
        return s6

    def _resolve(self, step: Step, distro: Distro, platform: str) -> PlannedStep:
        if step.action is Action.JOIN:
            return self._with_inputs(PlannedStep(step), s6_inputs(self.versions, arch_of(platform)))
        if step.action is Action.OVERLAY:
            return PlannedStep(step, overlays=self._overlays(step, distro))
        hook = self.hook_ref(step, distro)
        mounted = f"{step.number:02d}-{step.name}"
        runs = (
            Run(hook, mounted, self._extras(step, distro, hook), self._library_for(hook)),
            *self._drop_ins(step, distro, mounted),
        )
        planned = PlannedStep(step, runs=runs, env=self._env(step, distro, platform))
        inputs = step_inputs(
            self.versions,
            step_sections(step, distro),
            arch=arch_of(platform),
            xorg_version=distro.xorg_version,
        )
        return self._with_inputs(planned, inputs)

    def _extras(self, step: Step, distro: Distro, hook: Ref) -> tuple[Ref, ...]:
        """The files beside ``hook`` that its step declares, but switched ones only where it reads them."""
        folder = hook.path.rsplit("/", 1)[0]
        off = [s.pattern for s in step.switched if distro.setting(s.setting) is not s.when]
        return tuple(
            ref
            for name, ref in self.layers.entries(folder).items()
            if any(fnmatch.fnmatch(name, pattern) for pattern in step.extras)
            and not any(fnmatch.fnmatch(name, pattern) for pattern in off)
            and self.layers.is_file(ref)
        )

    def _library_for(self, script: Ref) -> tuple[Ref, ...]:
        """The hook library a script gets: the loader lib.sh, then the parts it uses.

        Read from the script itself (pipeline/library.py), so an edit of a part re-runs only the
        scripts that use it; a user's script is read the same way, and a part a user adds is found.
        """
        if script not in self._parts:
            self._check_script_size(script)
            text = self.layers.read_bytes(script).decode(errors="replace")
            library, files = self._library_files()
            loader = self.layers.find_file(HOOK_LIBRARY)
            found = (loader, *(files[part] for part in library.parts_for(text)))
            self._parts[script] = tuple(ref for ref in found if ref is not None)
        return self._parts[script]

    def _library_files(self) -> tuple[Library, dict[str, Ref]]:
        """The hook library as read from its parts, and each part's file (the top-most layer's)."""
        if self._hook_library is None:
            files = {
                name.removesuffix(".sh"): ref
                for name, ref in self.layers.entries(LIBRARY_PARTS).items()
                if name.endswith(".sh") and self.layers.is_file(ref)
            }
            texts = {}
            for part, ref in files.items():
                self._check_script_size(ref)
                texts[part] = self.layers.read_bytes(ref).decode(errors="replace")
            self._hook_library = (Library.read(texts), files)
        return self._hook_library

    def _folders(self, step: Step, distro: Distro, leaf: str) -> list[str]:
        """Where ``leaf`` of ``step`` may live, nearest first (distro hooks follow ``extends``)."""
        if step.scope is Scope.COMMON:
            return [f"{COMMON_BUILD}/{leaf}"]
        return [f"{distro_build(name)}/{leaf}" for name in distro.lineage]

    def hook_ref(self, step: Step, distro: Distro) -> Ref:
        """Where the hook of ``step`` comes for ``distro``: the nearest distro, the user's copy first."""
        candidates = self._folders(step, distro, step.name)
        for path in candidates:
            ref = self.layers.find_file(path)
            if ref is not None:
                return ref
        raise HeliosError(
            f"step {step.number} ({step.label}): hook {candidates[0]} is missing",
            hint=f"create it (step {step.number} builds the {step.summary})"
            + (
                f", or inherit it with extends; looked in {', '.join(candidates)}"
                if len(candidates) > 1
                else ""
            ),
        )

    def _drop_ins(self, step: Step, distro: Distro, mounted: str) -> list[Run]:
        """The scripts of every ``<hook>.d/`` for this step, merged by name, in lexical order.

        Folders are merged from the farthest ancestor to the distro itself, repository before user,
        so a nearer or user file with the same name replaces the other. Files that are not ``*.sh``
        are data, mounted beside every script of the folder.
        """
        folder = drop_in_folder(step.name)
        merged: dict[str, Ref] = {}
        for path in reversed(self._folders(step, distro, folder)):
            merged.update(self.layers.entries(path))
        files = {name: ref for name, ref in merged.items() if self.layers.is_file(ref)}
        data = tuple(ref for name, ref in files.items() if not name.endswith(".sh"))
        return [
            Run(ref, f"{mounted.removesuffix('.sh')}.d-{name}", data, self._library_for(ref))
            for name, ref in sorted(files.items())
            if name.endswith(".sh")
        ]

    def _overlays(self, step: Step, distro: Distro) -> tuple[Ref, ...]:
        """Overlay order: repo common (12), then repo distro, user common, user distro (13)."""
        distro_roots = [distro_root(name) for name in reversed(distro.lineage)]
        repo, user = self.layers.tree(REPO), self.layers.tree(USER) if self.layers.has_user else None
        if step.scope is Scope.COMMON:
            return (self.layers.ref(REPO, COMMON_ROOT),) if repo.is_dir(COMMON_ROOT) else ()
        ordered = [self.layers.ref(REPO, path) for path in distro_roots if repo.is_dir(path)]
        if user is not None:
            ordered += [
                self.layers.ref(USER, path) for path in [COMMON_ROOT, *distro_roots] if user.is_dir(path)
            ]
        return tuple(ordered)

    def _env(self, step: Step, distro: Distro, platform: str) -> dict[str, str]:
        env = {"HELIOS_STEP": str(step.number), **path_env(step)}
        for setting in step.settings:
            value = setting_text(distro.setting(setting))
            if value is not None:
                env[f"HELIOS_{setting.upper()}"] = value
        # The web client is the same for every distro, so it never gets a distro's date.
        env["SOURCE_DATE_EPOCH"] = str(epoch(distro.source_date if step.per_distro else DEFAULT_SOURCE_DATE))
        if step.per_distro:
            env |= {
                "HELIOS_DISTRO": distro.name,
                "HELIOS_FAMILY": distro.family,
                "HELIOS_ARCH": arch_of(platform),
            }
        for section in step_sections(step, distro):
            env |= section_env(
                self.versions, section, arch=arch_of(platform), xorg_version=distro.xorg_version
            )
        return env

    def _packages(self, distro: Distro) -> tuple[str, ...]:
        from pipeline.packages import package_list

        repo = self.layers.tree(REPO)
        if not repo.is_file(PACKAGES_FILE):
            raise HeliosError(f"{PACKAGES_FILE} is missing", hint="restore the unified package list")
        text = repo.read_bytes(PACKAGES_FILE).decode()
        return tuple(package_list(text, distro.packages, source=PACKAGES_FILE))


def plan_inputs(plans: Iterable[Plan]) -> list[Input]:
    """Every pinned input the ``plans`` consume (their steps', s6-overlay's), without repeats."""
    return unique(item for plan in plans for planned in plan.steps for item in planned.inputs)


def setting_text(value: object) -> str | None:
    """A distro.toml setting as hook environment: true/false, a snapshot id; None when it is not set."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return snapshot_id(value)
    return str(value).lower()


def step_sections(step: Step, distro: Distro) -> tuple[str, ...]:
    """The versions.toml sections a step reads: its row's, then those the distro adds (``inputs``)."""
    return (*step.versions, *distro.inputs.get(step.number, ()))


def _check_base(distro: Distro, override: str | None) -> str:
    """The base image: ``--base`` when given, else the distro's ``base =``, checked either way."""
    if override is not None:
        return check_reference(override, where="--base", hint="pass an image reference")
    return check_reference(
        distro.base,
        where=f"distro {distro.name}: base =",
        hint=f"fix `base` in {config_path(distro.name)} (or in the distro it extends)",
    )
