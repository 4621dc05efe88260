"""Engine tests: they build real images, so they need a Dagger engine.

Run them with `dagger run pytest -m engine tests/engine` (the GitHub workflow does). Elsewhere they
are skipped with a reason that says so. docs/engine.md says how to run them against any engine.

- ``HELIOS_ENGINE_DISTROS`` (comma-separated, default: every distro the tests name) chooses the
  distros whose real images are built; the others skip, saying so.
- ``HELIOS_ENGINE_STANDINS`` names a folder made by ``python -m tests.engine.standins`` for an
  engine that cannot reach upstream hosts: its tree, pins, input mirror and image rewrites are
  used instead of the repository's own.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagger
import pytest
import pytest_asyncio
from dagger import dag

from pipeline import graph
from pipeline.graph import Sources
from pipeline.imagerewrite import NO_REWRITES, ImageRewrites
from pipeline.mirror.local import open_mirror
from pipeline.mirror.state import Mirror
from pipeline.plan import Planner
from pipeline.platforms import host_default
from pipeline.tree import LocalTree

FIXTURE = Path(__file__).with_name("fixture")
REPO = FIXTURE.parents[2]
SKIP_REASON = "needs a Dagger engine: run `dagger run pytest -m engine tests/engine` (docs/engine.md)"
ALL_DISTROS = ("debian", "rhel", "alpine")
"""The distros whose real images the tests build, one per package family."""


def engine_reachable() -> bool:
    """True under `dagger run` (a session is open) or when explicitly asked for."""
    in_session = bool(os.environ.get("DAGGER_SESSION_PORT") and os.environ.get("DAGGER_SESSION_TOKEN"))
    return in_session or os.environ.get("HELIOS_ENGINE_TESTS") == "1"


def selected_distros() -> tuple[str, ...]:
    """The distros this run covers (HELIOS_ENGINE_DISTROS), in the order given."""
    raw = os.environ.get("HELIOS_ENGINE_DISTROS", "")
    chosen = tuple(name.strip() for name in raw.split(",") if name.strip())
    unknown = sorted(set(chosen) - set(ALL_DISTROS))
    if unknown:
        raise pytest.UsageError(
            f"HELIOS_ENGINE_DISTROS names {', '.join(unknown)}: the engine tests cover {', '.join(ALL_DISTROS)}"
        )
    return chosen or ALL_DISTROS


def require_distro(distro: str) -> None:
    """Skip, saying why, when this run does not cover ``distro``."""
    if distro not in selected_distros():
        pytest.skip(f"{distro} not selected: HELIOS_ENGINE_DISTROS={','.join(selected_distros())}")


@dataclass(frozen=True)
class Setting:
    """Where the engine tests take the tree, pins, input mirror and image rewrites from."""

    repo: Path
    versions_file: Path
    mirror_dir: Path | None = None
    rewrites: ImageRewrites = NO_REWRITES

    def mirror(self) -> Mirror | None:
        return open_mirror(self.mirror_dir, offline=True) if self.mirror_dir else None

    def cli_args(self, *, offline: bool = True) -> list[str]:
        """The `helios build` options that give the CLI this setting's mirror and rewrites.

        Without ``offline``, inputs the mirror lacks may come from upstream: the fixture distro pins
        inputs its hooks never fetch.
        """
        args = ["--inputs", str(self.mirror_dir)] if self.mirror_dir else []
        args += ["--offline"] if self.mirror_dir and offline else []
        for rule in self.rewrites.rules:
            args += ["--image-rewrite", rule.text]
        return args

    def planner(self, tree: Path | None = None) -> Planner:
        """A planner for ``tree`` (default: the repository) with this setting's mirror and rewrites."""
        return Planner(LocalTree(tree or self.repo), mirror=self.mirror(), rewrites=self.rewrites)


def setting() -> Setting:
    standins = os.environ.get("HELIOS_ENGINE_STANDINS")
    if not standins:
        return Setting(REPO, REPO / "pipeline/versions.toml")
    folder = Path(standins).resolve()
    rules = (folder / "image-rewrites").read_text().split() if (folder / "image-rewrites").is_file() else []
    return Setting(
        folder / "tree", folder / "tree/pipeline/versions.toml", folder / "mirror", ImageRewrites(rules)
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    engine_dir = Path(__file__).parent
    for item in items:
        if engine_dir in Path(item.path).parents:
            item.add_marker(pytest.mark.engine)
            if not engine_reachable():
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.fixture(autouse=True)
def engine_versions(session_versions: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every engine test plans with the pins of its setting (the repository's, or the stand-ins'),
    over the offline suite's own fixture pins (tests/conftest.py)."""
    monkeypatch.setattr("pipeline.versions.VERSIONS_FILE", setting().versions_file)


@pytest.fixture(scope="session")
def session_versions() -> Iterator[None]:
    """The same for fixtures wider than a test (an image built once for a module)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("pipeline.versions.VERSIONS_FILE", setting().versions_file)
        yield


@pytest_asyncio.fixture(loop_scope="session")
async def engine():
    """A Dagger connection for one test. Not one for the session: the CLI tests run `helios` in this
    process, and the CLI closes the global connection when its command ends, as it must; a test
    using a connection opened before that would find it closed (and the SDK's lazy reconnect
    fails when several queries start it at once)."""
    async with dagger.connection(dagger.Config(log_output=sys.stderr)):
        yield


def sources(tree: Path, user: Path | None = None, *, include: list[str] | None = None) -> Sources:
    """The host folders a graph of ``tree`` reads (and the setting's mirror), as the engine gets them."""
    mirror = setting().mirror_dir
    return Sources(
        dag.host().directory(str(tree), include=include),
        dag.host().directory(str(user)) if user is not None else None,
        dag.host().directory(str(mirror)) if mirror is not None else None,
    )


def image_of(distro: str):
    """The plan and lazy image of ``distro`` for the engine's platform, in this run's setting."""
    require_distro(distro)
    run = setting()
    plan = run.planner().plan(distro, host_default())
    return plan, graph.image(sources(run.repo, include=["common/**", "distros/**"]), plan)
