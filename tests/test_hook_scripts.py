"""Static and behavioural checks of every shell script and of pipeline/versions.toml.

Static: the hook rules of the contract (shebang, strict mode, no `curl | sh`, no hard-coded
architecture, nothing fetched from a moving branch), every script sourcing the hook library (common/build/lib.sh) instead of
redefining its helpers, and the agreement between the variables the common hooks read and the
sections of pipeline/versions.toml. Behavioural: the library's functions (checksum check,
downloads, pinned git checkout, patches, architecture mapping, package list, Node.js install, the
X server recipe) and the hooks' own helpers run here with bash, the library taken from the
repository through HELIOS_LIB. shellcheck and shfmt run in tests/test_shell.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.order import BUILD_ORDER, Scope
from tests.helpers import (
    COMMON_BUILD,
    HEX40,
    LIB,
    VERSIONS,
    needs_curl,
    novnc_patches,
    run_bash,
    run_lib,
    sha256,
)

ROOT = Path(__file__).resolve().parents[1]

LIB_PARTS = sorted((COMMON_BUILD / "lib").glob("*.sh"))
SCRIPTS = sorted(p for top in ("common", "distros") for p in (ROOT / top).rglob("*.sh"))


def is_build_script(path: Path) -> bool:
    """A hook (build/<hook>.sh) or a drop-in script (build/<hook>.d/<script>.sh)."""
    folder = path.parent
    return folder.name == "build" or (folder.name.endswith(".d") and folder.parent.name == "build")


HOOKS = sorted(p for p in SCRIPTS if is_build_script(p) and p != LIB)
# The line every hook and drop-in sources the library with (HELIOS_LIB lets the tests point at ours).
SOURCE_LIB = 'source "${HELIOS_LIB:-/helios/hooks/lib.sh}"'
# Exceptions to "bash with set -euo pipefail": Alpine hooks that run first in a container of the
# bare Alpine base (step 2 starts the kasm stage, step 9 the system stage), where there is no bash
# until the hook has installed it. They must still start with `set -eu`.
POSIX_SH_ALLOWED = {ROOT / "distros" / "alpine" / "build" / name for name in ("kasm.sh", "system.sh")}
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def code_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The script's lines without comments (a whole-line comment, or a trailing ' # ...')."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        yield number, re.sub(r"\s+#\s.*$", "", line)


# --- every script ------------------------------------------------------------------------------


def test_scripts_are_discovered() -> None:
    names = {rel(p) for p in HOOKS}
    for hook in ("novnc.sh", "turbo.sh", "kasm.sh", "kclient.sh", "package.sh", "system.sh"):
        assert f"common/build/{hook}" in names
    assert "common/build/lib.sh" not in names, "the library is no hook"
    assert not {rel(part) for part in LIB_PARTS} & names, "library parts are no hooks"
    assert LIB in SCRIPTS and set(LIB_PARTS) <= set(SCRIPTS), "the library is linted like every script"


@pytest.mark.parametrize("script", SCRIPTS, ids=rel)
def test_no_pipe_to_shell(script: Path) -> None:
    for number, line in code_lines(script):
        assert not re.search(r"\b(curl|wget)\b.*\|\s*(sudo\s+)?(ba|da|a)?sh\b", line), (
            f"{rel(script)}:{number}: downloads piped into a shell: {line.strip()}"
        )


@pytest.mark.parametrize("script", SCRIPTS, ids=rel)
def test_nothing_fetched_from_a_moving_ref(script: Path) -> None:
    moving = re.compile(
        r"/(latest|master|main|HEAD)(/|\b)|releases/latest|api\.github\.com|--branch\s+(master|main)"
    )
    for number, line in code_lines(script):
        if re.search(r"https?://|git\s+clone", line):
            assert not moving.search(line), f"{rel(script)}:{number}: unpinned download: {line.strip()}"


@pytest.mark.parametrize("script", SCRIPTS, ids=rel)
def test_no_hard_coded_architecture(script: Path) -> None:
    """x86_64/amd64 may only appear as an arm of a `case` on HELIOS_ARCH, or next to HELIOS_ARCH."""
    in_arch_case = False
    for number, line in code_lines(script):
        if re.search(r"\bcase\b.*\bin\b", line):
            in_arch_case = "HELIOS_ARCH" in line
        elif re.search(r"\besac\b", line):
            in_arch_case = False
        if not re.search(r"x86_64|amd64", line) or "HELIOS_ARCH" in line:
            continue
        is_case_arm = re.match(r"\s*[\w|*-]+\)", line) is not None
        assert in_arch_case and is_case_arm, (
            f"{rel(script)}:{number}: hard-coded architecture: {line.strip()}"
        )


# --- hooks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("hook", HOOKS, ids=rel)
def test_hook_has_shebang_and_strict_mode(hook: Path) -> None:
    lines = hook.read_text().splitlines()
    assert lines and lines[0].startswith("#!"), f"{rel(hook)} has no shebang"
    if hook in POSIX_SH_ALLOWED and not lines[0].endswith("bash"):
        assert any(re.match(r"\s*set -eu\b", line) for line in lines), f"{rel(hook)} lacks `set -eu`"
        return
    assert re.match(r"#!(/usr/bin/env bash|/bin/bash)$", lines[0]), f"{rel(hook)}: not a bash shebang"
    assert any(line.strip() == "set -euo pipefail" for line in lines[:40]), (
        f"{rel(hook)} lacks set -euo pipefail"
    )


@pytest.mark.parametrize("hook", HOOKS, ids=rel)
def test_hook_has_a_header_comment(hook: Path) -> None:
    header = hook.read_text().splitlines()[1:4]
    assert header and all(line.startswith("#") for line in header[:2]), f"{rel(hook)}: no header comment"


@pytest.mark.parametrize("hook", [*HOOKS, *LIB_PARTS], ids=rel)
def test_make_uses_all_cores(hook: Path) -> None:
    for number, line in code_lines(hook):
        assert not re.search(r"\bmake\b.*\s-j\s*\d", line), f'{rel(hook)}:{number}: use make -j"$(nproc)"'


# --- the hook library ----------------------------------------------------------------------------


def part_functions(part: Path) -> set[str]:
    return set(re.findall(r"^([a-z_][a-z0-9_]*)\(\)\s*\{", part.read_text(), flags=re.MULTILINE))


def library_functions() -> set[str]:
    return {name for part in LIB_PARTS for name in part_functions(part)}


def test_library_offers_the_shared_helpers() -> None:
    expected = {"banner", "log", "die", "require_env", "require_tools", "verify_sha256", "download"}
    expected |= {"git_checkout", "git_apply_patches", "uname_arch", "multiarch_triplet"}
    expected |= {"load_package_list", "install_nodejs", "build_xorg_server"}
    assert expected <= library_functions()


@pytest.mark.parametrize("hook", HOOKS, ids=rel)
def test_hook_sources_the_library(hook: Path) -> None:
    """Once, with the shellcheck hint, and (for the POSIX sh hooks) only after `exec bash`."""
    lines = [line.strip() for line in hook.read_text().splitlines()]
    assert lines.count(SOURCE_LIB) == 1, f"{rel(hook)} must source the library with: {SOURCE_LIB}"
    at = lines.index(SOURCE_LIB)
    assert lines[at - 1] == "# shellcheck source=common/build/lib.sh", f"{rel(hook)}: shellcheck hint"
    if not lines[0].endswith("bash"):
        reexec = next((i for i, line in enumerate(lines) if line.startswith('exec bash "$0"')), None)
        assert reexec is not None and reexec < at, f"{rel(hook)} sources bash code before running under bash"


@pytest.mark.parametrize("hook", HOOKS, ids=rel)
def test_hook_does_not_redefine_library_helpers(hook: Path) -> None:
    shared = library_functions()
    for number, line in code_lines(hook):
        match = re.match(r"\s*(?:function\s+)?([a-z_][a-z0-9_]*)\s*\(\)", line)
        assert not (match and match.group(1) in shared), (
            f"{rel(hook)}:{number}: defines {match.group(1)}, which lib.sh provides: use it"
        )


def test_sourcing_the_library_runs_nothing() -> None:
    """Bash alone is enough: no PATH (so no external command), strict mode, not a word printed."""
    bash = shutil.which("bash")
    assert bash is not None
    result = subprocess.run(
        [bash, "--noprofile", "--norc", "-c", f'set -euo pipefail; source "{LIB}"; type -t die'],
        capture_output=True,
        text=True,
        env={"PATH": "/nonexistent"},
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "function\n", "")


@pytest.mark.parametrize("part", LIB_PARTS, ids=rel)
def test_library_part_defines_only_functions_and_constants(part: Path) -> None:
    """Every unindented line is a function's first or last line or a plain NAME=value constant."""
    allowed = re.compile(r"[a-z_][a-z0-9_]*\(\)\s*\{.*|\}|[A-Z][A-Z0-9_]*=[^$`;|&()]*")
    for number, line in code_lines(part):
        if not line[:1].isspace():
            assert allowed.fullmatch(line.rstrip()), f"{rel(part)}:{number}: runs when sourced: {line}"


def test_the_loader_sources_exactly_the_parts_beside_it(tmp_path: Path) -> None:
    """lib.sh defines nothing itself and loads whatever parts are mounted beside it, no more."""
    assert part_functions(LIB) == set()
    (tmp_path / "lib").mkdir()
    shutil.copy(LIB, tmp_path / "lib.sh")
    shutil.copy(COMMON_BUILD / "lib" / "log.sh", tmp_path / "lib" / "log.sh")
    listing = 'source "$1"; declare -F | cut -d" " -f3 | sort | tr "\\n" " "'
    only_log = run_bash(listing, str(tmp_path / "lib.sh"))
    assert only_log.returncode == 0, only_log.stderr
    assert set(only_log.stdout.split()) == part_functions(COMMON_BUILD / "lib" / "log.sh")
    everything = run_bash(listing, str(LIB))
    assert set(everything.stdout.split()) == library_functions()


def test_internal_functions_are_marked_and_hooks_call_only_the_public_ones() -> None:
    """Functions the library keeps to itself start with _; no hook or drop-in calls them."""
    internal = {name for name in library_functions() if name.startswith("_")}
    assert {"_mirror_git_path", "_xorg_configure", "_pkgconfig_expose"} <= internal
    for hook in HOOKS:
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", "\n".join(line for _, line in code_lines(hook))))
        assert not words & internal, f"{rel(hook)} calls library-internal {sorted(words & internal)}"


# --- versions.toml -----------------------------------------------------------------------------


def section_env_names(section: str) -> set[str]:
    """The environment names a step gets from one section, by the contract's rule."""
    if section == "xorg":
        return {"XORG_VERSION", "XORG_SHA256"}
    return {f"{section.upper()}_{key.upper()}" for key in VERSIONS[section]}


def pinned_values() -> Iterator[tuple[str, str, str]]:
    """(id, kind, value) for every checksum and commit in the file, arch tables flattened."""
    for section, data in VERSIONS.items():
        for key, value in data.items():
            kind = "sha256" if key.startswith("sha256") else "commit" if key == "commit" else ""
            if not kind:
                continue
            values = value.items() if isinstance(value, dict) else [("", value)]
            for sub, item in values:
                yield f"{section}.{key}" + (f".{sub}" if sub else ""), kind, item


@pytest.mark.parametrize(("kind", "value"), [pytest.param(k, v, id=i) for i, k, v in pinned_values()])
def test_checksums_and_commits_are_well_formed(kind: str, value: str) -> None:
    pattern = HEX64 if kind == "sha256" else HEX40
    assert isinstance(value, str) and pattern.match(value), f"{kind} {value!r} is not {pattern.pattern}"


def test_every_value_is_a_string() -> None:
    for section, data in VERSIONS.items():
        for key, value in data.items():
            values = value.values() if isinstance(value, dict) else [value]
            assert all(isinstance(v, str) for v in values), f"[{section}] {key}: values must be strings"


def test_arch_tables_cover_both_architectures() -> None:
    for section, data in VERSIONS.items():
        if section == "xorg":
            continue
        for key, value in data.items():
            if isinstance(value, dict):
                assert set(value) == {"amd64", "arm64"}, f"[{section}] {key} must have amd64 and arm64"


def test_xorg_versions_of_the_contract_are_pinned() -> None:
    versions = VERSIONS["xorg"]["sha256"]
    assert "1.20.14" in versions
    assert any(v.startswith("21.1.") for v in versions)


def test_every_declared_section_exists() -> None:
    for step in BUILD_ORDER:
        for section in step.versions:
            assert section in VERSIONS, f"step {step.number} declares [{section}], missing in versions.toml"
    for section in ("images", "s6_overlay"):
        assert section in VERSIONS
    s6 = VERSIONS["s6_overlay"]
    for key in ("version", "sha256_noarch", "sha256_symlinks_noarch", "sha256_symlinks_arch", "sha256"):
        assert key in s6, f"[s6_overlay] {key} is missing"


COMMON_HOOK_STEPS = [s for s in BUILD_ORDER if s.is_hook and s.scope is Scope.COMMON]


@pytest.mark.parametrize("step", COMMON_HOOK_STEPS, ids=lambda s: s.name)
def test_common_hook_reads_only_variables_its_step_gets(step) -> None:
    """A version variable a hook reads must come from a section that step declares, and exist.

    Only a variable the hook reads exclusively as ``${NAME:-...}`` counts as optional.
    """
    text = "\n".join(line for _, line in code_lines(COMMON_BUILD / step.name))
    prefixes = tuple(section.upper() + "_" for section in VERSIONS if section != "images")
    names = {name for name in re.findall(r"\b([A-Z][A-Z0-9_]*)\b", text) if name.startswith(prefixes)}
    optional = {n for n in names if len(re.findall(rf"\b{n}\b", text)) == text.count(f"${{{n}:-")}
    referenced = names - optional
    available = set().union(*(section_env_names(s) for s in step.versions)) if step.versions else set()
    missing = sorted(referenced - available)
    assert not missing, f"{step.name} reads {missing}, not given to step {step.number} by versions.toml"


# --- the library's functions, run with bash ------------------------------------------------------


def test_banner_and_die_name_the_step() -> None:
    result = run_lib('banner "hello"; die "broken"; echo unreachable', env={"HELIOS_STEP": "7"})
    assert result.returncode == 1
    assert "==== [helios step 7] hello ====" in result.stdout
    assert result.stderr == "[helios step 7] error: broken\n"
    assert "unreachable" not in result.stdout


@pytest.mark.parametrize(
    ("env", "passes"),
    [({"A": "1", "B": "2"}, True), ({"A": "1"}, False), ({"A": "1", "B": ""}, False)],
)
def test_require_env_names_the_missing_variable(env: dict[str, str], passes: bool) -> None:
    result = run_lib("require_env A B", env=env)
    assert (result.returncode == 0) is passes, result.stderr
    if not passes:
        assert "B is not set" in result.stderr


def test_require_tools_names_the_missing_tool() -> None:
    assert run_lib("require_tools bash").returncode == 0
    result = run_lib("require_tools bash helios-no-such-tool")
    assert result.returncode != 0
    assert "helios-no-such-tool is missing" in result.stderr


def test_verify_sha256_accepts_only_the_pinned_sum(tmp_path: Path) -> None:
    payload = tmp_path / "payload.tar.gz"
    payload.write_bytes(b"helios")
    good = sha256(b"helios")
    for expected, passes in ((good, True), ("0" * 64, False), ("", False), (good.upper(), False)):
        result = run_lib('verify_sha256 "$1" "$2"', str(payload), expected)
        assert (result.returncode == 0) is passes, (expected, result.stderr)
    mismatch = run_lib('verify_sha256 "$1" "$2"', str(payload), "0" * 64)
    assert "checksum mismatch for payload.tar.gz" in mismatch.stderr


def test_download_refuses_an_empty_checksum_before_fetching(tmp_path: Path) -> None:
    result = run_lib('download http://127.0.0.1:9/never "$1" ""', str(tmp_path / "x"))
    assert result.returncode != 0
    assert "no sha256 pinned" in result.stderr
    assert not (tmp_path / "x").exists()


def test_download_fetches_and_verifies(tmp_path: Path) -> None:
    needs_curl()
    source = tmp_path / "upstream.tar.gz"
    source.write_bytes(b"release")
    dest = tmp_path / "dl" / "file.tar.gz"
    result = run_lib('download "$1" "$2" "$3"', source.as_uri(), str(dest), sha256(b"release"))
    assert result.returncode == 0, result.stderr
    assert dest.read_bytes() == b"release"


def test_download_removes_a_file_that_does_not_match(tmp_path: Path) -> None:
    needs_curl()
    source = tmp_path / "upstream.tar.gz"
    source.write_bytes(b"tampered")
    dest = tmp_path / "file.tar.gz"
    result = run_lib('download "$1" "$2" "$3"', source.as_uri(), str(dest), sha256(b"release"))
    assert result.returncode != 0
    assert "checksum mismatch" in result.stderr
    assert not dest.exists(), "a file that failed its check must not stay for a later step to use"


@pytest.mark.parametrize(
    ("arch", "uname", "triplet"),
    [("amd64", "x86_64", "x86_64-linux-gnu"), ("arm64", "aarch64", "aarch64-linux-gnu")],
)
def test_arch_mapping_from_helios_arch(arch: str, uname: str, triplet: str) -> None:
    result = run_lib("uname_arch; multiarch_triplet", env={"HELIOS_ARCH": arch})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [uname, triplet]


@pytest.mark.parametrize("arch", ["riscv64", "x86_64", ""])
def test_arch_mapping_rejects_anything_else(arch: str) -> None:
    for function in ("uname_arch", "multiarch_triplet"):
        result = run_lib(f"{function}; echo reached", env={"HELIOS_ARCH": arch})
        assert result.returncode != 0
        assert "unsupported HELIOS_ARCH" in result.stderr
        assert "reached" not in result.stdout


def test_load_package_list_reads_names_and_skips_blank_lines(tmp_path: Path) -> None:
    listing = tmp_path / "packages.list"
    listing.write_text("bash\n\nnginx\n  \nxfce4\n")
    result = run_lib('load_package_list pkgs "$1"; printf "%s|" "${pkgs[@]}"', str(listing))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "bash|nginx|xfce4|"


@pytest.mark.parametrize("content", [None, "", "\n  \n"])
def test_load_package_list_fails_without_packages(content: str | None, tmp_path: Path) -> None:
    listing = tmp_path / "packages.list"
    if content is not None:
        listing.write_text(content)
    result = run_lib('load_package_list pkgs "$1"', str(listing))
    assert result.returncode != 0
    assert str(listing) in result.stderr


@pytest.fixture
def upstream(tmp_path: Path) -> tuple[Path, list[str]]:
    """A local git repository with two commits, standing in for an upstream project."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "upstream"
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e",
    }
    commits = []
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for content in ("one\n", "two\n"):
        (repo / "file").write_text(content)
        subprocess.run(["git", "-C", str(repo), "add", "file"], check=True)
        subprocess.run(
            ["git", "-C", str(repo), "commit", "-qm", content], check=True, env={**os.environ, **env}
        )
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        )
        commits.append(head.stdout.strip())
    return repo, commits


def test_git_checkout_pins_the_exact_commit(upstream, tmp_path: Path) -> None:
    repo, (first, _second) = upstream
    dest = tmp_path / "checkout"
    dest.mkdir()
    (dest / "stale").write_text("from an earlier run")
    result = run_lib('git_checkout "$1" "$2" "$3"', str(repo), first, str(dest))
    assert result.returncode == 0, result.stderr
    assert (dest / "file").read_text() == "one\n"  # the pinned commit, not the newest one
    assert not (dest / "stale").exists()
    head = subprocess.run(["git", "-C", str(dest), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert head.stdout.strip() == first


@pytest.mark.parametrize("ref", ["HEAD", "master", "abc1234", "0" * 39])
def test_git_checkout_refuses_anything_but_a_full_commit_id(ref: str, upstream, tmp_path: Path) -> None:
    repo, _ = upstream
    result = run_lib('git_checkout "$1" "$2" "$3"', str(repo), ref, str(tmp_path / "c"))
    assert result.returncode != 0
    assert "not a full commit id" in result.stderr


def test_git_checkout_fails_on_a_commit_the_remote_lacks(upstream, tmp_path: Path) -> None:
    repo, _ = upstream
    result = run_lib('git_checkout "$1" "$2" "$3"', str(repo), "1" * 40, str(tmp_path / "c"))
    assert result.returncode != 0
    assert "could not fetch" in result.stderr


def make_patch(tmp_path: Path, name: str, old: str, new: str) -> Path:
    patch = tmp_path / name
    patch.write_text(f"--- a/file\n+++ b/file\n@@ -1 +1 @@\n-{old}\n+{new}\n")
    return patch


def test_git_apply_patches_in_order_and_fails_on_one_that_does_not_apply(upstream, tmp_path: Path) -> None:
    repo, (_first, second) = upstream
    tree = tmp_path / "tree"
    assert run_lib('git_checkout "$1" "$2" "$3"', str(repo), second, str(tree)).returncode == 0
    first_patch = make_patch(tmp_path, "10-a.patch", "two", "three")
    second_patch = make_patch(tmp_path, "20-b.patch", "three", "four")
    result = run_lib('git_apply_patches "$@"', str(tree), str(first_patch), str(second_patch))
    assert result.returncode == 0, result.stderr
    assert (tree / "file").read_text() == "four\n"
    stale = make_patch(tmp_path, "30-stale.patch", "two", "five")
    result = run_lib('git_apply_patches "$@"', str(tree), str(stale))
    assert result.returncode != 0
    assert "30-stale.patch does not apply" in result.stderr


def fake_nodejs_tarball(tmp_path: Path, version: str) -> Path:
    """An official-build-like tarball: node-v<version>-linux/bin/{node,npm,npx}, include/node."""
    top = tmp_path / "node-build" / f"node-v{version}-linux"
    (top / "bin").mkdir(parents=True)
    (top / "include" / "node").mkdir(parents=True)
    (top / "include" / "node" / "node.h").write_text("/* headers */\n")
    for tool in ("node", "npm", "npx"):
        (top / "bin" / tool).write_text(f"#!/bin/sh\necho v{version}\n")
        (top / "bin" / tool).chmod(0o755)
    tarball = tmp_path / "node.tar.xz"
    subprocess.run(["tar", "-cJf", str(tarball), "-C", str(top.parent), top.name], check=True)
    return tarball


@pytest.mark.parametrize(("shipped", "passes"), [("22.11.0", True), ("20.0.0", False)])
def test_install_nodejs_unpacks_links_and_checks_the_version(
    shipped: str, passes: bool, tmp_path: Path
) -> None:
    needs_curl()
    if shutil.which("xz") is None:
        pytest.skip("xz is not installed")
    tarball = fake_nodejs_tarball(tmp_path, shipped)
    env = {
        "NODEJS_VERSION": "22.11.0",
        "NODEJS_URL": tarball.as_uri(),
        "NODEJS_SHA256": sha256(tarball.read_bytes()),
        "TMPDIR": str(tmp_path),
    }
    node_dir, bin_dir = tmp_path / "opt" / "node", tmp_path / "bin"
    result = run_lib('install_nodejs "$1" "$2"', str(node_dir), str(bin_dir), env=env)
    assert (result.returncode == 0) is passes, result.stderr
    if passes:
        assert (node_dir / "include" / "node" / "node.h").is_file()
        assert (bin_dir / "npm").readlink() == node_dir / "bin" / "npm"
        assert not (tmp_path / "node-v22.11.0.tar.xz").exists(), "the tarball is cleaned up"
    else:
        assert "node reports v20.0.0, expected v22.11.0" in result.stderr


def test_install_nodejs_needs_its_pins() -> None:
    result = run_lib("install_nodejs /nonexistent", env={"NODEJS_VERSION": "22.11.0"})
    assert result.returncode != 0
    assert "NODEJS_URL is not set" in result.stderr


@pytest.mark.parametrize(
    ("version", "patch"), [("21.1.16", "xserver21.patch"), ("1.20.14", "xserver120.patch")]
)
def test_xorg_series_patch(version: str, patch: str) -> None:
    assert run_lib(f"_xorg_series_patch {version}").stdout.strip() == patch


def test_build_xorg_server_refuses_a_series_kasmvnc_does_not_patch(tmp_path: Path) -> None:
    (tmp_path / "unix" / "xserver" / "hw" / "vnc").mkdir(parents=True)
    result = run_lib(
        "build_xorg_server",
        env={"XORG_VERSION": "21.2.0", "XORG_SHA256": "0" * 64, "SRC_DIR": str(tmp_path)},
    )
    assert result.returncode != 0
    assert "not a series KasmVNC patches" in result.stderr


# --- the hooks' own helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("webrtc", "kind", "expected"),
    [
        ("true", "interactive", ["novnc-10-helios.patch"]),
        ("false", "interactive", ["novnc-10-helios.patch", "novnc-20-webrtc-off.patch"]),
        ("true", "view-only", ["novnc-10-helios.patch", "novnc-30-view-only.patch"]),
        (
            "false",
            "view-only",
            ["novnc-10-helios.patch", "novnc-20-webrtc-off.patch", "novnc-30-view-only.patch"],
        ),
    ],
)
def test_novnc_patch_selection(webrtc: str, kind: str, expected: list[str]) -> None:
    expected = ["novnc-05-lockfile.patch", *expected]  # the lockfile goes to every build
    assert [Path(line).name for line in novnc_patches(kind, webrtc)] == expected


@pytest.mark.parametrize("patch", sorted(COMMON_BUILD.glob("*.patch")), ids=lambda p: p.name)
def test_patches_are_well_formed(patch: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    result = subprocess.run(
        ["git", "apply", "--numstat", str(patch)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), f"{patch.name} changes nothing"


def test_splash_image_is_a_jpeg() -> None:
    assert (COMMON_BUILD / "splash.jpg").read_bytes()[:3] == b"\xff\xd8\xff"


def install_fonts(tmp_path: Path, entries: dict[str, bytes]) -> tuple[subprocess.CompletedProcess, Path]:
    """Run step 10's install_fonts on a zip of ``entries``; return the result and the font folder."""
    if shutil.which("unzip") is None:
        pytest.skip("unzip is not installed")
    archive = tmp_path / "CascadiaCode.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    dest = tmp_path / "fonts"
    result = run_bash(
        f'source "{COMMON_BUILD / "system.sh"}"; install_fonts "{archive}" "{dest}"',
        env={"WORK_DIR": str(tmp_path / "work")},
    )
    return result, dest


def test_install_fonts_copies_the_static_otf_faces(tmp_path: Path) -> None:
    entries = {"otf/static/CascadiaCode-Regular.otf": b"OTTO", "ttf/CascadiaCode.ttf": b"\0\1\0\0"}
    result, dest = install_fonts(tmp_path, entries)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["CascadiaCode-Regular.otf"]


def test_install_fonts_fails_on_an_unexpected_archive(tmp_path: Path) -> None:
    result, _dest = install_fonts(tmp_path, {"README": b"no fonts"})
    assert result.returncode != 0
    assert "no otf/static" in result.stderr


SLOCK_CAPABILITIES = bytes.fromhex("0100000202000001000000000000000000000000")
"""Debian's /usr/bin/slock as its package ships it: cap_sys_resource=ep (vfs_cap_data, revision 2)."""


@pytest.mark.skipif(os.geteuid() != 0, reason="setting file capabilities needs root (CAP_SETFCAP)")
def test_no_file_keeps_its_file_capabilities(tmp_path: Path) -> None:
    root = tmp_path / "image"
    (root / "usr/bin").mkdir(parents=True)
    slock, plain = root / "usr/bin/slock", root / "usr/bin/plain"
    for path in (slock, plain):
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    try:
        os.setxattr(slock, "security.capability", SLOCK_CAPABILITIES)
    except OSError as error:
        pytest.skip(f"this file system takes no file capabilities here: {error}")
    (root / "usr/bin/link").symlink_to(slock)
    result = run_bash(
        f'source "{COMMON_BUILD / "system.sh"}"; no_file_capabilities', env={"IMAGE_ROOT": str(root)}
    )
    assert result.returncode == 0, result.stderr
    assert "security.capability" not in os.listxattr(slock)
    assert result.stdout.count("removed the file capabilities of") == 1
    assert f"removed the file capabilities of {slock}" in result.stdout


def fake_node(tmp_path: Path, *, headers: bool) -> Path:
    """A node on PATH in <prefix>/bin, with or without <prefix>/include/node/node.h."""
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "node").write_text("#!/bin/sh\necho v22.11.0\n")
    (prefix / "bin" / "node").chmod(0o755)
    if headers:
        (prefix / "include" / "node").mkdir(parents=True)
        (prefix / "include" / "node" / "node.h").write_text("/* headers */\n")
    return prefix


@pytest.mark.parametrize("headers", [True, False])
def test_kclient_builds_only_against_local_node_headers(headers: bool, tmp_path: Path) -> None:
    """node-gyp gets the headers of the node on PATH; without them the hook stops, never downloads."""
    prefix = fake_node(tmp_path, headers=headers)
    result = run_bash(
        f'source "{COMMON_BUILD / "kclient.sh"}"; node_headers_prefix',
        env={"PATH": f"{prefix / 'bin'}:{os.environ['PATH']}"},
    )
    assert (result.returncode == 0) is headers, result.stderr
    if headers:
        assert result.stdout.strip() == str(prefix)
    else:
        assert "no Node.js headers" in result.stderr


def test_hooks_fail_fast_without_their_versions() -> None:
    for hook, variable in (
        ("turbo.sh", "LIBJPEG_TURBO_VERSION"),
        ("kasm.sh", "KASMVNC_URL"),
        ("kclient.sh", "KCLIENT_URL"),
    ):
        result = run_bash(f'bash "{COMMON_BUILD / hook}"')
        assert result.returncode != 0
        assert f"{variable} is not set" in result.stderr, (hook, result.stderr)


# --- the X server hook (step 5), run end to end against stub tools ---------------------------

XORG_HOOKS = sorted((ROOT / "distros").glob("*/build/xorg.sh"))


def fake_xorg_tarball(tmp_path: Path, version: str, libgl: str) -> Path:
    """An xorg-server tarball whose configure records its arguments and the GL requirement."""
    top = tmp_path / "tarball" / f"xorg-server-{version}"
    top.mkdir(parents=True)
    configure = top / "configure"
    configure.write_text(
        f'#!/bin/sh\nLIBGL="{libgl}"\nprintf "%s\\n" "$LIBGL" >configure.libgl\n'
        'printf "%s\\n" "$@" >configure.args\n: >Makefile\n'
    )
    configure.chmod(0o755)
    # A release's aclocal.m4 carries font-util's macros, which step 5 hands to autoreconf.
    (top / "aclocal.m4").write_text(
        "dnl fontutil.m4.  Generated from fontutil.m4.in by configure.\n"
        "m4_defun([XORG_FONT_MACROS_VERSION],[])\nAC_DEFUN([XORG_FONTDIR],[])\n"
    )
    tarball = tmp_path / "xorg.tar.gz"
    subprocess.run(["tar", "-czf", str(tarball), "-C", str(top.parent), top.name], check=True)
    return tarball


def stub_build_tools(bin_dir: Path, tarball: Path) -> None:
    """curl serves the fake tarball; patch, autoreconf and make only pretend to work."""
    bin_dir.mkdir()
    stubs = {
        "curl": f'while [ $# -gt 0 ]; do [ "$1" = -o ] && cp "{tarball}" "$2"; shift; done\n',
        "patch": 'echo "patch $*" >>"$PATCH_LOG"\n',
        "autoreconf": ":\n",
        "make": "mkdir -p hw/vnc && : >hw/vnc/Xvnc && chmod +x hw/vnc/Xvnc\n",
    }
    for name, body in stubs.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body)
        (bin_dir / name).chmod(0o755)


@pytest.mark.parametrize("hook", XORG_HOOKS, ids=rel)
@pytest.mark.parametrize(
    ("version", "upstream_libgl", "expected_libgl", "patches"),
    [
        # 1.20 wants Mesa's version in gl.pc; libglvnd's gl.pc (EL9) says 1.2.
        ("1.20.14", "gl >= 7.1.0", "gl >= 1.2", ["xserver120.patch", "CVE-2022-2320-v1.20.patch"]),
        ("21.1.16", "gl >= 1.2", "gl >= 1.2", ["xserver21.patch"]),
    ],
)
def test_xorg_hook_builds_xvnc_with_the_shared_recipe(
    hook: Path, version: str, upstream_libgl: str, expected_libgl: str, patches: list[str], tmp_path: Path
) -> None:
    if shutil.which("tar") is None or shutil.which("sha256sum") is None:
        pytest.skip("tar and sha256sum are needed to run the hook")
    tarball = fake_xorg_tarball(tmp_path, version, upstream_libgl)
    stub_build_tools(tmp_path / "bin", tarball)
    src = tmp_path / "src"
    (src / "unix" / "xserver" / "hw" / "vnc").mkdir(parents=True)
    for patch in ("xserver21.patch", "xserver120.patch", "CVE-2022-2320-v1.20.patch"):
        (src / "unix" / patch).write_text("")
    result = subprocess.run(
        ["bash", str(hook)],
        capture_output=True,
        text=True,
        env={
            "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
            "HOME": str(tmp_path),
            "TMPDIR": str(tmp_path),
            "HELIOS_LIB": str(LIB),
            "PATCH_LOG": str(tmp_path / "patch.log"),
            "SRC_DIR": str(src),
            "XORG_VERSION": version,
            "XORG_SHA256": sha256(tarball.read_bytes()),
        },
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    xserver = src / "unix" / "xserver"
    assert (xserver / "configure.libgl").read_text().strip() == expected_libgl
    args = (xserver / "configure.args").read_text().splitlines()
    for flag in ("--prefix=/opt/kasmweb", "--disable-libunwind", "--disable-xorg", "--enable-dri3"):
        assert flag in args
    applied = [Path(line.split()[-1]).name for line in (tmp_path / "patch.log").read_text().splitlines()]
    assert applied == patches


@pytest.mark.parametrize("hook", XORG_HOOKS, ids=rel)
def test_xorg_hooks_are_thin(hook: Path) -> None:
    """The recipe lives once, in lib.sh; a family's hook only says what differs and calls it."""
    code = [line.strip() for _, line in code_lines(hook)]
    assert code[-1].startswith("build_xorg_server")
    assert len(code) <= 5, f"{rel(hook)} carries build logic: move it into build_xorg_server"


# Mesa's DRI driver package of each family: it holds swrast_dri.so, which step 8 packs.
MESA_DRI_PACKAGE = {"debian": "libgl1-mesa-dri", "rhel": "mesa-dri-drivers", "alpine": "mesa-dri-gallium"}


@pytest.mark.parametrize("family", sorted(MESA_DRI_PACKAGE))
def test_step_2_installs_mesa_dri_drivers_for_step_8(family: str) -> None:
    """Named, not left to recommends or weak dependencies, which a base image may switch off."""
    hook = ROOT / "distros" / family / "build" / "kasm.sh"
    words = {word for _, line in code_lines(hook) for word in line.split()}
    assert MESA_DRI_PACKAGE[family] in words


def test_alpine_step_6_installs_the_headers_of_its_node() -> None:
    """kclient's native module builds against /usr/include/node, not headers from nodejs.org."""
    hook = ROOT / "distros" / "alpine" / "build" / "kclient.sh"
    words = {word for _, line in code_lines(hook) for word in line.split()}
    assert {"nodejs", "nodejs-dev"} <= words


@pytest.mark.parametrize("family", ["debian", "rhel"])
def test_glibc_step_6_installs_the_pinned_nodejs(family: str) -> None:
    hook = ROOT / "distros" / family / "build" / "kclient.sh"
    assert any(line.strip().startswith("install_nodejs ") for _, line in code_lines(hook))


@pytest.mark.parametrize(
    ("hook", "env", "missing"),
    [
        (
            "novnc.sh",
            {"KASMWEB_URL": "https://example.org/x.git", "KASMWEB_COMMIT": "a" * 40},
            "HELIOS_HOOKS",
        ),
        (
            "package.sh",
            {
                "KASMVNC_VERSION": "1",
                "KASMVNC_COMMIT": "a" * 40,
                "NODEJS_VERSION": "1",
                "HELIOS_ARCH": "amd64",
            },
            "HELIOS_WEB",
        ),
    ],
)
def test_a_hook_run_without_its_helios_paths_stops_naming_the_variable(
    hook: str, env: dict[str, str], missing: str
):
    """The pipeline's paths come only from HELIOS_*: without them a hook stops before touching anything."""
    result = run_bash(f'bash "{COMMON_BUILD / hook}"', env={"HELIOS_STEP": "0", **env})
    assert result.returncode == 1
    assert f"{missing} is not set" in result.stderr


def test_load_package_list_reads_helios_packages(tmp_path: Path) -> None:
    listing = tmp_path / "packages.list"
    listing.write_text("bash\n\nxterm\n")
    result = run_lib('load_package_list names; echo "${names[*]}"', env={"HELIOS_PACKAGES": str(listing)})
    assert (result.returncode, result.stdout) == (0, "bash xterm\n")
    unset = run_lib("load_package_list names")
    assert unset.returncode == 1 and "HELIOS_PACKAGES is not set" in unset.stderr
