"""The web client: KasmVNC and KasmWeb pinned together, and the KasmWeb patches checked against the
real pinned tree.

The checks on real trees clone the bundles of the pinned commits from a partial input mirror next
to the repository (../shared/inputs, or HELIOS_TEST_INPUTS; layout git/<owner>/<repo>/<commit>.bundle)
and skip, saying so, where it is absent.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_hook_scripts import COMMON_BUILD, HEX40, VERSIONS, run_bash
from tests.test_mirror_lib import SHARED_INPUTS, git

KASMVNC = VERSIONS["kasmvnc"]
KASMWEB = VERSIONS["kasmweb"]


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


def selected_patches(kind: str, webrtc: str) -> list[str]:
    """The patches novnc.sh applies for a build ``kind``, in its own order (its select_patches)."""
    result = run_bash(
        f'source "{COMMON_BUILD / "novnc.sh"}"; select_patches {kind}',
        env={"HELIOS_WEBRTC": webrtc, "HOOKS_DIR": str(COMMON_BUILD)},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def git_apply(tree: Path, patches: list[str]) -> None:
    for patch in patches:
        result = subprocess.run(
            ["git", "-C", str(tree), "apply", "--whitespace=nowarn", patch], capture_output=True, text=True
        )
        assert result.returncode == 0, f"{Path(patch).name} does not apply: {result.stderr}"


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
    git_apply(tree, interactive)
    git_apply(tree, [p for p in view_only if p not in interactive])
