"""Helpers the test modules share, in one place: no test module imports another.

The runtime run on the host (sandbox, nginx, kclient) has its own module, tests/runtime_host.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dagger
import pytest
from dagger._exceptions import _query_error_from_transport
from gql import GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from typer.main import get_command

from pipeline import graph, main, publishing, shipping
from pipeline.cli import app
from pipeline.main import Helios
from pipeline.plan import Plan, Planner
from pipeline.release import Metadata, Publication
from pipeline.tree import LocalTree
from tests.conftest import REPO, write_files
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

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeTools:
        pinned = lambda name: f"{name}:v1@sha256:" + "9" * 64  # noqa: E731
        monkeypatch.setattr(publishing, "tool_image", lambda name, rewrites=None: pinned(name))
        monkeypatch.setattr(
            publishing,
            "tool_images",
            lambda rewrites=None: {n: pinned(n) for n in ("syft", "oras", "cosign")},
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


# --- the hook library and the hooks, run with bash ---------------------------------------------------

COMMON_BUILD = REPO / "common" / "build"
VERSIONS = tomllib.loads((REPO / "pipeline" / "versions.toml").read_text())
LIB = COMMON_BUILD / "lib.sh"
"""The library's loader: sourcing it defines every part's functions."""
HEX40 = re.compile(r"^[0-9a-f]{40}$")
SHARED_INPUTS = Path(os.environ.get("HELIOS_TEST_INPUTS", REPO.parent / "shared" / "inputs"))
"""An input mirror beside the checkout (tests that need upstream sources skip without it)."""
FILE_TRANSFER_SUFFIX = "-file-transfer.patch"


def run_bash(
    script: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a bash snippet in strict mode with the library at hand (HELIOS_LIB) and ``args`` as $1...

    The common hooks can be sourced too: their main only runs when they are executed.
    """
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail; {script}", "snippet", *args],
        capture_output=True,
        text=True,
        env={
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp"),
            "HELIOS_LIB": str(LIB),
            **(env or {}),
        },
        cwd=cwd,
        check=False,
    )


def run_lib(code: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with only the library sourced."""
    return run_bash(f'source "{LIB}"; {code}', *args, env=env)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def needs_curl() -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed (the downloads below use file:// URLs)")


def novnc_patches(kind: str, webrtc: str) -> list[str]:
    """The patches novnc.sh applies for a build ``kind``, in its own order (its select_patches)."""
    result = run_bash(
        f'source "{COMMON_BUILD / "novnc.sh"}"; select_patches {kind}',
        env={"HELIOS_WEBRTC": webrtc, "HELIOS_HOOKS": str(COMMON_BUILD)},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def kclient_patches(*, file_transfer: bool) -> list[str]:
    """The patches step 7 applies, in its own order (common/build/kclient.sh's kclient_patches)."""
    result = run_bash(
        f'source "{COMMON_BUILD / "kclient.sh"}"; kclient_patches "{COMMON_BUILD}"',
        env={"HELIOS_FILE_TRANSFER": "true" if file_transfer else "false"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


# --- git, and upstream trees from the input mirror ----------------------------------------------------

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@e",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@e",
}


def git(*args: str, cwd: Path | None = None) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, env={**os.environ, **GIT_ENV}
    )
    return result.stdout.strip()


def mirrored_tree(tmp_path: Path, owner_repo: str, commit: str, *, bare: bool = False) -> Path:
    """A clone of the mirrored bundle of ``owner_repo`` at ``commit``; skips when there is none."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    bundle = SHARED_INPUTS / "git" / owner_repo / f"{commit}.bundle"
    if not bundle.is_file():
        pytest.skip(f"no input mirror entry {bundle} (set HELIOS_TEST_INPUTS to a mirror that has it)")
    dest = tmp_path / owner_repo.replace("/", "+")
    git("clone", "-q", *(["--bare"] if bare else []), str(bundle), str(dest))
    assert git("rev-parse", "HEAD", cwd=dest) == commit, f"{bundle}: HEAD is not {commit}"
    return dest


def git_apply(tree: Path, patches: list[str]) -> None:
    for patch in patches:
        result = subprocess.run(
            ["git", "-C", str(tree), "apply", "--whitespace=nowarn", patch], capture_output=True, text=True
        )
        assert result.returncode == 0, f"{Path(patch).name} does not apply: {result.stderr}"


def patched_kclient(tmp_path: Path, *, file_transfer: bool = False) -> Path:
    """kclient at its pinned commit with the patches step 7 applies."""
    tree = mirrored_tree(tmp_path, "linuxserver/kclient", VERSIONS["kclient"]["commit"])
    git_apply(tree, kclient_patches(file_transfer=file_transfer))
    return tree


# --- the CLI's error contract ---------------------------------------------------------------------

CLI_COMMANDS = dict(get_command(app).commands)  # type: ignore[attr-defined]
"""Every `helios` command by name, as click holds them."""

SUMMARY = re.compile(r"\d+ (problem|image|input)")  # the closing count of a list of problems


def assert_contract(result: Any, *fragments: str) -> None:
    """The contract: error/hint lines, exit 2, no traceback or panel, nothing on stdout."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and not set("╭╰│") & set(result.output), result.output
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert lines and lines[0].startswith("error: "), result.stderr
    strays = [
        line for line in lines if not line.startswith(("error: ", "hint: ")) and not SUMMARY.match(line)
    ]
    assert not strays, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def assert_user_error(result: Any, *fragments: str) -> None:
    """A user mistake: exit 2 and an ``error:`` line holding each of ``fragments``, no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: ")
    for fragment in fragments:
        assert fragment in result.stderr


@contextlib.contextmanager
def unprivileged() -> Iterator[None]:
    """Run as nobody when the tests run as root, who could read a mode 000 file anyway."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


# --- a distro's step 9 with stand-ins for the network and package tools ------------------------------
# The stand-ins answer as the real tools do (tests/test_debian_system_hook.py says how, tool by tool).

PINNED = "AE1A7BA4EFFF9A9987E1474C4BACCAB36E7FE9A1"

OTHER = "0123456789ABCDEF0123456789ABCDEF01234567"

CURL = r"""#!/bin/bash
# curl -fsSL [--connect-timeout S] [--speed-limit B --speed-time S] [--retry N] -o DEST URL
dest= url= limits=
while (($#)); do case $1 in
  -o) dest=$2; shift 2 ;;
  --connect-timeout|--speed-limit|--speed-time) limits+=" $1=$2"; shift 2 ;;
  --retry) shift 2 ;;
  -*) shift ;;
  *) url=$1; shift ;;
esac; done
echo "curl $url" >>"$STUB_LOG"
echo "curl-limits$limits" >>"$STUB_LOG"
if [[ ${STUB_CURL:-} == unreachable ]]; then
  echo "curl: (6) Could not resolve host: ${url#https://}" | sed 's#/.*##' >&2
  exit 6
fi
case $url in
  */VGL-GPG-KEY) cp "$STUB_DIR/project.asc" "$dest" ;;
  */gpgkey) cp "$STUB_DIR/index.asc" "$dest" ;;
  *) echo "curl: (22) The requested URL returned error: 404" >&2; exit 22 ;;
esac
"""

GPG = r"""#!/bin/bash
echo "gpg $*" >>"$STUB_LOG"
args=("$@")
case " $* " in
  *" --show-keys "*)
    file=${args[-1]}
    grep -q 'BEGIN PGP PUBLIC KEY BLOCK' "$file" || { echo "gpg: no valid OpenPGP data found." >&2; exit 2; }
    fpr=$STUB_FPR
    echo "pub:-:4096:1:${fpr: -16}:1605647594:::-:::scSC::::::23::0:"
    echo "fpr:::::::::$fpr:"
    echo "uid:-::::1758741215::8C208CADECD6456984E5268D2D70225EABC5DFA3::The VirtualGL Project (Signing key for official binaries) <information@VirtualGL.org>::::::::::0:"
    ;;
  *" --import "*) echo "gpg: key ${STUB_FPR: -16}: public key imported" >&2 ;;
  *" --verify "*)
    sig=${args[-2]}
    actual=$(sha256sum | cut -d' ' -f1)
    if [[ $actual == "$(cat "$sig")" ]]; then
      echo "[GNUPG:] GOODSIG ${STUB_FPR: -16} The VirtualGL Project"
      echo "[GNUPG:] VALIDSIG $STUB_FPR 2025-09-24 1758741215 0 4 0 1 10 00 $STUB_FPR"
    else
      echo "[GNUPG:] BADSIG ${STUB_FPR: -16} The VirtualGL Project"
      exit 1
    fi
    ;;
  *) echo "gpg stand-in: unexpected call: $*" >&2; exit 2 ;;
esac
"""

KEY = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nstand-in\n-----END PGP PUBLIC KEY BLOCK-----\n"


def write_stubs(tmp: Path, tools: dict[str, str]) -> Path:
    """The stand-in ``tools`` in tmp/bin, the two keys curl serves, and a vglserver_config that logs."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    for name, body in tools.items():
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    (tmp / "project.asc").write_text(KEY)
    (tmp / "index.asc").write_text(KEY)
    vgl = tmp / "vgl/bin"
    vgl.mkdir(parents=True)
    (vgl / "vglserver_config").write_text('#!/bin/sh\necho "vglserver_config $*" >>"$STUB_LOG"\n')
    (vgl / "vglserver_config").chmod(0o755)
    return tmp


def run_hook_function(
    hook: Path, function: str, tmp: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Source ``hook`` (its main does not run when sourced) and call ``function``, with the stand-ins
    of ``tmp`` first on PATH and ``env`` over the step's usual variables."""
    base = {
        "PATH": f"{tmp / 'bin'}:/usr/bin:/bin",
        "HELIOS_LIB": str(LIB),
        "HELIOS_STEP": "9",
        "HELIOS_ARCH": "amd64",
        "VGL_PREFIX": str(tmp / "vgl"),
        "STUB_DIR": str(tmp),
        "STUB_LOG": str(tmp / "calls.log"),
        "STUB_FPR": PINNED,
        "TMPDIR": str(tmp),
    }
    return subprocess.run(
        ["bash", "-c", f'source "$1" && {function}', "step9-test", str(hook)],
        env=base | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def calls(tmp: Path) -> str:
    log = tmp / "calls.log"
    return log.read_text() if log.exists() else ""


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("[helios step 9] error:")]
    assert lines, f"no '[helios step 9] error:' line; stderr was:\n{result.stderr}"
    return lines[-1]


# --- the graph of a tree, and what an edit changes in it ---------------------------------------------


def build(root: Path, distro: str, platform: str = "linux/amd64") -> tuple[Plan, object]:
    """The plan of ``distro`` in the tree at ``root``, and its image's lazy graph."""
    plan = Planner(LocalTree(root)).plan(distro, platform)
    labels = {"org.opencontainers.image.title": f"helios-{distro}"}
    return plan, graph.image(graph.Sources(source_directory()), plan, labels=labels)


def KASM_FROM(first: int) -> list[str]:  # noqa: N802 - reads as a constant in the tables that use it
    """The kasm stage's steps from ``first`` to step 8: a re-run step re-runs those after it."""
    return [f"step {n}" for n in range(first, 9)]


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The execs whose cache key differs between two walks (label -> key), in build order."""
    return sorted((label for label in before if before[label] != after[label]), key=_order)


def _order(label: str) -> tuple[int, str]:
    parts = label.split()
    return (int(parts[1]) if parts[0] == "step" else 99, label)


def edit(root: Path, path: str) -> None:
    """A change to the file at ``path`` of the tree at ``root`` that leaves its meaning alone."""
    target = root / path
    write_files(root, {path: target.read_text() + "\n# edited\n"})
