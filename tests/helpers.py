"""Helpers the test modules share, in one place: no test module imports another."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagger
import pytest
from dagger._exceptions import _query_error_from_transport
from gql import GraphQLRequest
from gql.transport.exceptions import TransportQueryError

from pipeline import graph, main, publishing, shipping
from pipeline.main import Helios
from pipeline.plan import Planner
from pipeline.release import Metadata, Publication
from pipeline.tree import LocalTree
from tests.conftest import REPO
from tests.dagwalk import source_directory

METADATA = Metadata("1.2.0", "abc", "https://example.org/helios", 981173106)
BOTH = (("base", "linux/amd64"), ("base", "linux/arm64"))
"""The fixture tree's base distro on both platforms."""


def built_images(
    root: Path, targets: Sequence[tuple[str, str]], metadata: Metadata = METADATA
) -> list[shipping.Built]:
    """The lazy images of ``targets`` (distro, platform) of the tree at ``root``, as a build makes them."""
    planner = Planner(LocalTree(root))
    plans = [planner.plan(distro, platform) for distro, platform in targets]
    return shipping.images_of(plans, graph.Sources(source_directory()), metadata)


# --- the Dagger module without an engine ----------------------------------------------------------

REQUEST = GraphQLRequest('query { container { from(address: "x") { sync } } }')


def engine_error(
    message: str, *, path: list[str], extensions: dict[str, Any] | None = None
) -> dagger.QueryError:
    """The exception dagger-io raises for an error reply of the engine.

    Made the way dagger-io makes it: the GraphQL transport raises gql's TransportQueryError with
    the engine's error list, and `_query_error_from_transport` (dagger/_exceptions.py, called from
    dagger/client/_core.py `Context.execute`) turns it into a QueryError, or an ExecError for an
    `EXEC_ERROR` extension.
    """
    raw = {"message": message, "path": path, "locations": [{"line": 1, "column": 3}]}
    if extensions is not None:
        raw["extensions"] = extensions
    error = _query_error_from_transport(TransportQueryError(message, errors=[raw]), REQUEST)
    assert error is not None
    return error


def module_on(root: Path, monkeypatch: pytest.MonkeyPatch, **inputs: Any) -> Helios:
    """The module on a fixture tree: the graph gets a real lazy Directory, the planner reads the disk.

    ``inputs`` are the other constructor arguments, as `dagger call --hooks=... build` passes them.
    """

    async def from_disk(source: object, *, digests: bool = False) -> LocalTree:
        return LocalTree(root)

    monkeypatch.setattr(main, "snapshot", from_disk)
    return Helios(source=dagger.dag.host().directory(str(root)), **inputs)


def registered_typedefs(tmp_path: Path) -> dict[str, Any]:
    """The type definitions the module runtime registers for the main object (tests/module_typedefs.py)."""
    env = {
        "DAGGER_MODULE": "helios",
        "DAGGER_MAIN_OBJECT": "Helios",
        "DAGGER_MODULE_FILE": str(tmp_path / "module.json"),
        "PATH": "/usr/bin:/bin",
    }
    script = str(REPO / "tests/module_typedefs.py")
    out = subprocess.run([sys.executable, script], capture_output=True, text=True, check=True, env=env)
    registered: dict[str, Any] = json.loads(out.stdout)["objects"]["Helios"]
    return registered


# --- a source directory and the publishing tools, stood in for --------------------------------------


class FakeFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    async def contents(self, *, offset_lines: int | None = None, limit_lines: int | None = None) -> str:
        """As the engine's: the lines after ``offset_lines``, at most ``limit_lines`` of them."""
        lines = self.path.read_text().splitlines(keepends=True)[offset_lines or 0 :]
        return "".join(lines if limit_lines is None else lines[:limit_lines])

    async def size(self) -> int:
        return self.path.stat().st_size

    async def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.path.read_bytes()).hexdigest()


class FakeDirectory:
    """Just the async reads snapshot() makes of a dagger.Directory, served from disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def glob(self, pattern: str) -> list[str]:
        """As the engine's (core/directory.go, Glob): matching paths, folders with a trailing slash."""
        return sorted(
            p.relative_to(self.root).as_posix() + ("/" if p.is_dir() else "") for p in self.root.glob(pattern)
        )

    def file(self, path: str) -> FakeFile:
        return FakeFile(self.root / path)

    def directory(self, path: str) -> FakeFolder:
        return FakeFolder(self.root / path)

    async def export(self, path: str, **_: object) -> str:
        """As the engine's export: the tree written to ``path``, links kept as links."""
        shutil.copytree(self.root, path, symlinks=True, dirs_exist_ok=True)
        return path


class FakeFolder:
    def __init__(self, path: Path) -> None:
        self.path = path

    async def digest(self) -> str:
        return "sha256:" + LocalTree(self.path).digest(".")


ADDRESS = "ghcr.io/org/helios"
INDEX = "sha256:" + "a" * 64


def sbom_digest(platform: str) -> str:
    return "sha256:" + ("1" if platform.endswith("amd64") else "2") * 64


class FakeTools:
    """Stands in for the oras/cosign execs: records what ran and prints what oras 1.3 prints."""

    def __init__(self, fail: str | None = None) -> None:
        self.ran: list[tuple[str, object]] = []
        self.fail = fail

    def install(self, monkeypatch) -> FakeTools:
        monkeypatch.setattr(
            publishing, "tool_image", lambda name, rewrites=None: f"{name}:v1@sha256:" + "9" * 64
        )
        monkeypatch.setattr(publishing, "attach_sbom", self.attach)
        monkeypatch.setattr(publishing, "sign", self.sign)
        monkeypatch.setattr(publishing, "discover", self.discover)
        return self

    def result(self, kind: str, out: str):
        fail = self.fail

        class Result:
            async def stdout(self) -> str:
                if fail == kind:
                    raise engine_error(
                        "process did not complete successfully: exit code: 1",
                        path=["container", "withExec", "stdout"],
                        extensions={"_type": "EXEC_ERROR", "cmd": ["sh"], "exitCode": 1, "stdout": "",
                                    "stderr": "Error: unauthorized: authentication required\n"},
                    )  # fmt: skip
                return out

            async def sync(self) -> None:
                await self.stdout()

        return Result()

    def attach(self, ctr, subject, platform, document):
        self.ran.append(("attach", (subject, platform)))
        reference = f"{ADDRESS}@{sbom_digest(platform)}"
        return self.result(
            "attach", json.dumps({"reference": reference, "artifactType": "application/spdx+json"})
        )

    def sign(self, ctr, how, subjects):
        self.ran.append(("sign", (how.mode, list(subjects))))
        return self.result("sign", "")

    def discover(self, ctr, subject):
        bundle = {"reference": f"{ADDRESS}@sha256:{subject[-8:] * 8}",
                  "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"}  # fmt: skip
        return self.result("discover", json.dumps({"reference": subject, "referrers": [bundle]}))


def images_to_publish(root: Path) -> list[shipping.Built]:
    """The fixture's base distro on both platforms, as publish builds it."""
    return built_images(root, BOTH, Metadata("1.2.0", "", "", 0))


def destination(**how: Any) -> publishing.Destination:
    """The publish of the base distro to :data:`ADDRESS`, with ``how`` (signing, sbom, rewrites)."""
    return publishing.Destination(publication=Publication(ADDRESS, {"base": ("1.2.0-base", "base")}), **how)


def pushed() -> list[shipping.Shipped]:
    """What pushing :func:`images_to_publish` reports: one index under two tags."""
    platforms = "linux/amd64,linux/arm64"
    return [
        shipping.Shipped("base", platforms, f"{ADDRESS}:1.2.0-base", INDEX),
        shipping.Shipped("base", platforms, f"{ADDRESS}:base", INDEX),
    ]
