"""The web client: KasmVNC and KasmWeb pinned together, the KasmWeb patches and lockfile checked
against the real pinned tree, and step 1's refusal to build without a lockfile.

The checks on real trees clone the bundles of the pinned commits from a partial input mirror next
to the repository (../shared/inputs, or HELIOS_TEST_INPUTS; layout git/<owner>/<repo>/<commit>.bundle)
and skip, saying so, where it is absent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import (
    COMMON_BUILD,
    HEX40,
    VERSIONS,
    git,
    git_apply,
    mirrored_tree,
    run_bash,
)
from tests.helpers import novnc_patches as selected_patches

KASMVNC = VERSIONS["kasmvnc"]
KASMWEB = VERSIONS["kasmweb"]


# --- KasmVNC and KasmWeb are one pair ------------------------------------------------------------


def test_kasmweb_pin_is_the_web_client_of_the_pinned_kasmvnc() -> None:
    recorded = KASMVNC["kasmweb_commit"]
    assert HEX40.match(recorded), f"[kasmvnc] kasmweb_commit {recorded!r} is not a full commit id"
    assert KASMWEB["commit"] == recorded, (
        f"[kasmweb] commit {KASMWEB['commit']} is not the KasmWeb commit of KasmVNC {KASMVNC['version']} "
        f"({recorded}): bump both together"
    )


def test_recorded_kasmweb_commit_is_the_submodule_of_the_real_kasmvnc_tree(tmp_path: Path) -> None:
    tree = mirrored_tree(tmp_path, "kasmtech/KasmVNC", KASMVNC["commit"], bare=True)
    mode, kind, commit = git("ls-tree", "HEAD", "kasmweb", cwd=tree).split("\t")[0].split()
    assert (mode, kind) == ("160000", "commit"), "KasmVNC's kasmweb is no longer a submodule"
    assert KASMVNC["kasmweb_commit"] == commit


# --- the KasmWeb patches at the pinned commit ----------------------------------------------------


@pytest.fixture(scope="module")
def kasmweb_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mirrored_tree(tmp_path_factory.mktemp("kasmweb"), "kasmtech/noVNC", KASMWEB["commit"])


@pytest.mark.parametrize("webrtc", ["true", "false"])
def test_kasmweb_patches_apply_in_the_hooks_order(webrtc: str, kasmweb_tree: Path, tmp_path: Path) -> None:
    """As novnc.sh does: the interactive selection, then the view-only extras on the same tree."""
    tree = tmp_path / "src"
    shutil.copytree(kasmweb_tree, tree, symlinks=True)
    interactive = selected_patches("interactive", webrtc)
    view_only = selected_patches("view-only", webrtc)
    assert any("lockfile" in p for p in interactive), "no lockfile patch in the interactive build"
    git_apply(tree, interactive)
    git_apply(tree, [p for p in view_only if p not in interactive])


@pytest.fixture(scope="module")
def locked_kasmweb(kasmweb_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("locked") / "src"
    shutil.copytree(kasmweb_tree, tree, symlinks=True)
    git_apply(tree, [str(p) for p in sorted(COMMON_BUILD.glob("novnc-*lockfile*.patch"))])
    return tree


def manifest_dependencies(tree: Path) -> dict[str, str]:
    manifest = json.loads((tree / "package.json").read_text())
    return {**manifest.get("dependencies", {}), **manifest.get("devDependencies", {})}


def version_key(version: str) -> tuple[int, int, int]:
    core = re.match(r"^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$", version)
    assert core, f"{version!r} is not a semantic version"
    return int(core[1]), int(core[2]), int(core[3])


def satisfies(version: str, spec: str) -> bool:
    """npm's range semantics for the forms KasmWeb's package.json uses: exact, ^, ~ and >=."""
    have = version_key(version)
    if spec.startswith(">="):
        return have >= version_key(spec[2:])
    if spec.startswith(("^", "~")):
        low = version_key(spec[1:])
        if spec[0] == "~" or low[0] == 0:  # ^0.y.z behaves like ~0.y.z (y > 0 assumed)
            return low <= have and have[:2] == low[:2]
        return low <= have and have[0] == low[0]
    assert re.match(r"^\d+\.\d+\.\d+$", spec), f"range {spec!r}: not a form this check understands"
    return have == version_key(spec)


@pytest.mark.parametrize(
    ("version", "spec", "expected"),
    [
        ("7.29.7", "7.29.7", True),
        ("8.0.0", "7.29.7", False),
        ("1.10.27", "^1.10.27", True),
        ("2.0.0", "^1.10.27", False),
        ("0.13.11", "^0.13.9", True),
        ("0.14.0", "^0.13.9", False),
        ("4.61.1", ">=2.80.0", True),
        ("2.79.9", ">=2.80.0", False),
    ],
)
def test_range_check_follows_npm(version: str, spec: str, expected: bool) -> None:
    assert satisfies(version, spec) is expected


def test_lockfile_pins_every_dependency_of_package_json(locked_kasmweb: Path) -> None:
    wanted = manifest_dependencies(locked_kasmweb)
    lock = json.loads((locked_kasmweb / "package-lock.json").read_text())
    assert lock["lockfileVersion"] >= 2, "npm ci needs a lockfile with the packages map"
    root = lock["packages"][""]
    assert {**root.get("dependencies", {}), **root.get("devDependencies", {})} == wanted, (
        "the lockfile was made from another package.json: regenerate it"
    )
    unpinned = sorted(name for name, spec in wanted.items() if spec.strip() in {"*", "", "latest"})
    assert not unpinned, f"package.json still leaves {unpinned} to the registry of the day"
    for name, spec in wanted.items():
        entry = lock["packages"].get(f"node_modules/{name}")
        assert entry, f"{name} is in package.json but not in the lockfile"
        assert satisfies(entry["version"], spec), f"{name}: locked {entry['version']} does not satisfy {spec}"
        assert entry.get("integrity", "").startswith("sha512-"), f"{name}: no integrity hash"


def test_lockfile_tree_is_complete_for_npm(locked_kasmweb: Path) -> None:
    """npm itself checks the whole locked tree against package.json, offline."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    result = subprocess.run(
        [npm, "ls", "--all", "--package-lock-only", "--offline"],
        cwd=locked_kasmweb,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_lockfile_keeps_babel_on_7(locked_kasmweb: Path) -> None:
    """Babel 8 rejects @babel/plugin-syntax-dynamic-import (peer ^7): the ERESOLVE of the unlocked build."""
    lock = json.loads((locked_kasmweb / "package-lock.json").read_text())
    babel = {
        p: e["version"] for p, e in lock["packages"].items() if re.search(r"node_modules/@babel/[^/]+$", p)
    }
    assert babel["node_modules/@babel/core"].startswith("7.")
    assert not {p: v for p, v in babel.items() if version_key(v)[0] >= 8}


# --- step 1 installs only what a lockfile pins ---------------------------------------------------

FAKE_NPM = """#!/usr/bin/env bash
# Records its arguments; `npm ci` insists on a lockfile as the real one does; `run build` leaves
# the dist tree a vite build leaves.
echo "npm $*" >>"$NPM_LOG"
case "$1" in
  ci) [[ -f package-lock.json ]] || { echo "npm error The \\`npm ci\\` command can only install with an existing package-lock.json" >&2; exit 1; } ;;
  run) mkdir -p dist/assets && cp index.html dist/index.html && echo built >dist/assets/app.js ;;
esac
"""


@pytest.fixture
def web_upstream(tmp_path: Path) -> tuple[Path, str]:
    """A one-commit stand-in for KasmWeb: package.json, index.html and the splash image folder."""
    repo = tmp_path / "kasmweb"
    (repo / "app" / "images").mkdir(parents=True)
    (repo / "package.json").write_text('{"name": "web", "devDependencies": {"vite": "*"}}\n')
    (repo / "index.html").write_text("<html></html>\n")
    git("init", "-q", str(repo))
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "web", cwd=repo)
    return repo, git("rev-parse", "HEAD", cwd=repo)


def run_web_hook(tmp_path: Path, upstream: tuple[Path, str], patches: dict[str, str]):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for name, text in patches.items():
        (hooks / name).write_text(text)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "npm").write_text(FAKE_NPM)
    (bin_dir / "npm").chmod(0o755)
    repo, commit = upstream
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "NPM_LOG": str(tmp_path / "npm.log"),
        "HELIOS_HOOKS": str(hooks),
        "HELIOS_OUT": str(tmp_path / "out"),
        "WORK_DIR": str(tmp_path / "work"),
        "KASMWEB_URL": repo.as_uri(),
        "KASMWEB_COMMIT": commit,
    }
    return run_bash(f'bash "{COMMON_BUILD / "novnc.sh"}"', env=env)


LOCKFILE_PATCH = """--- /dev/null
+++ b/package-lock.json
@@ -0,0 +1 @@
+{"lockfileVersion": 3, "packages": {}}
"""


def test_web_hook_refuses_to_build_without_a_lockfile(web_upstream, tmp_path: Path) -> None:
    result = run_web_hook(tmp_path, web_upstream, {})
    assert result.returncode != 0
    assert "no package-lock.json" in result.stderr and "lockfile" in result.stderr
    log = tmp_path / "npm.log"
    assert not log.exists() or "install" not in log.read_text(), "npm resolved against the registry"


def test_web_hook_installs_with_npm_ci_and_pins_file_times(web_upstream, tmp_path: Path) -> None:
    result = run_web_hook(tmp_path, web_upstream, {"novnc-05-lockfile.patch": LOCKFILE_PATCH})
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "npm.log").read_text().splitlines()
    assert calls[0].startswith("npm ci ") and not any(c.startswith("npm install") for c in calls)
    out = tmp_path / "out"
    assert (out / "www" / "index.html").is_file() and (out / "www" / "view-only" / "index.html").is_file()
    commit_time = int(git("show", "-s", "--format=%ct", "HEAD", cwd=web_upstream[0]))
    times = {p.relative_to(out).as_posix(): int(p.lstat().st_mtime) for p in [out, *out.rglob("*")]}
    assert set(times.values()) == {commit_time}, times
