"""The RHEL family's build hooks install only packages that EL9's enabled repositories carry.

dnf stops a whole step at the first name it cannot find ("Unable to find a match"), and nothing
here can reach Rocky's or Alma's mirrors, so the names are checked against a recorded list of the
EL9 repositories with its sources (tests/data/el9-repositories.toml).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pipeline.packages import package_list

ROOT = Path(__file__).resolve().parents[1]
RHEL_BUILD = ROOT / "distros" / "rhel" / "build"
REPOSITORIES = tomllib.loads((Path(__file__).parent / "data" / "el9-repositories.toml").read_text())
ALWAYS_ENABLED = ("baseos", "appstream", "extras")
BUILD_HOOKS = sorted(
    path for path in RHEL_BUILD.glob("*.sh") if path.name != "system.sh" and "dnf install" in path.read_text()
)


def shell_commands(script: str) -> list[list[str]]:
    """The simple commands of a script: continuation lines joined, comments and heredocs dropped."""
    text = re.sub(r"\\\n", " ", script)
    commands = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for part in re.split(r"&&|\|\||;|\bthen\b|\bif\b", line):
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                continue
            if words:
                commands.append(words)
    return commands


def dnf_installs(script: str) -> list[str]:
    """Every package name a script passes to `dnf install` (options and variables left out)."""
    names = []
    for words in shell_commands(script):
        if words[:2] == ["dnf", "install"]:
            names += [word for word in words[2:] if not word.startswith(("-", "$"))]
    return names


def enabled_repositories(script: str) -> set[str]:
    """The repositories a script can install from: the base image's, plus what it switches on.

    ``enable_epel_crb`` (the hook library's) switches on EPEL and CRB; with CRB on, the names
    recorded as "AppStream or CRB" are there whichever of the two holds them.
    """
    enabled = set(ALWAYS_ENABLED)
    for words in shell_commands(script):
        if words[:3] == ["dnf", "config-manager", "--set-enabled"]:
            enabled.update(words[3:])
        if words[:1] == ["enable_epel_crb"]:
            enabled.update(("epel", "crb"))
    if "epel-release" in dnf_installs(script):
        enabled.add("epel")
    if "crb" in enabled:
        enabled.add("appstream_or_crb")
    return enabled


def test_the_parser_reads_dnf_lines_as_dnf_does() -> None:
    script = (
        "dnf install -y dnf-plugins-core epel-release\n"
        "dnf config-manager --set-enabled crb\n"
        "dnf install -y --setopt=install_weak_deps=False \\\n  gcc \\\n  make  # the toolchain\n"
        "if dnf -q list --available x-devel >/dev/null 2>&1; then\n  dnf install -y x-devel\nfi\n"
        'dnf install -y "${packages[@]}"\n'
    )
    assert dnf_installs(script) == ["dnf-plugins-core", "epel-release", "gcc", "make", "x-devel"]
    assert enabled_repositories(script) == {*ALWAYS_ENABLED, "crb", "epel", "appstream_or_crb"}
    assert enabled_repositories("enable_epel_crb\n") == {*ALWAYS_ENABLED, "crb", "epel", "appstream_or_crb"}
    assert enabled_repositories("dnf install -y gcc\n") == set(ALWAYS_ENABLED)


def test_the_recorded_repositories_do_not_contradict_themselves() -> None:
    shipped = [
        name
        for repo in (*ALWAYS_ENABLED, "crb", "appstream_or_crb", "epel")
        for name in REPOSITORIES[repo]["names"]
    ]
    assert len(shipped) == len(set(shipped)), "a name is recorded in two repositories"
    assert not set(shipped) & set(REPOSITORIES["unshipped"]["names"])


@pytest.mark.parametrize("hook", BUILD_HOOKS, ids=lambda path: path.name)
def test_rhel_build_hooks_install_only_packages_of_the_enabled_repositories(hook: Path) -> None:
    script = hook.read_text()
    enabled = enabled_repositories(script)
    available = {name for repo in enabled for name in REPOSITORIES[repo]["names"]}
    unshipped = set(REPOSITORIES["unshipped"]["names"])
    names = dnf_installs(script)
    assert names, f"{hook.name} installs nothing with dnf: the parser no longer reads it"
    assert not [name for name in names if name in unshipped], (
        f"{hook.name} installs packages that no EL9 repository ships (dnf: 'Unable to find a match')"
    )
    missing = sorted(set(names) - available)
    assert not missing, (
        f"{hook.name} installs {missing}, which are not recorded in the repositories it enables "
        f"({', '.join(sorted(enabled))}); check them in the sources of tests/data/el9-repositories.toml"
    )


# --- KasmVNC 1.5's requirements ------------------------------------------------------------------

LIB = ROOT / "common" / "build" / "lib.sh"
DROP_INS = sorted((RHEL_BUILD / "kasm.d").glob("*.sh"))

# What KasmVNC v1.5.0 requires at build time (CMakeLists.txt: pkg_check_modules FFMPEG, CPUID,
# FMT, VIDEO_ACCELERATION, TBB; find_library(yuv); unix/xserver/hw/vnc/Makefile.am: -lwebp
# -lsharpyuv), and the EL9 package that provides each (its -devel owns the .pc or the .so link),
# or None where EL9 has no usable one and step 2 builds it.
KASMVNC_15_NEEDS = {
    "libavcodec": "ffmpeg-free-devel",
    "libavformat": "ffmpeg-free-devel",
    "libavutil": "ffmpeg-free-devel",
    "libswscale": "ffmpeg-free-devel",
    "libva": "libva-devel",
    "libva-drm": "libva-devel",
    "libdrm": "libdrm-devel",
    "fmt": "fmt-devel",
    "tbb": "tbb-devel",
    "yuv": "libyuv-devel",
    "libcpuid": None,  # in no EL9 repository
    "libwebp": None,  # EL9's is 1.2.0, without libsharpyuv
    "libsharpyuv": None,
}


def function_body(script: str, name: str) -> str:
    match = re.search(rf"^{name}\(\) \{{\n(.*?)^\}}", script, flags=re.MULTILINE | re.DOTALL)
    assert match, f"the library part defines no {name}()"
    return match.group(1)


def static_recipes() -> dict[str, set[str]]:
    """The library's build_static_* recipes: function name -> the modules its build_static_library builds."""
    part = (LIB.parent / "lib" / "static.sh").read_text()
    recipes: dict[str, set[str]] = {}
    for name in re.findall(r"^(build_static_lib\w+)\(\) \{", part, flags=re.MULTILINE):
        body = re.sub(r"\\\n", " ", function_body(part, name))
        recipes[name] = {
            m
            for words in shell_commands(body)
            if words[:1] == ["build_static_library"]
            for m in words[2].split()
        }
    return recipes


def static_builds() -> set[str]:
    """The pkg-config modules the RHEL step-2 drop-ins build with build_static_library or a recipe of it."""
    recipes = static_recipes()
    modules: set[str] = set()
    for drop_in in DROP_INS:
        for words in shell_commands(drop_in.read_text()):
            if words[:1] == ["build_static_library"]:
                modules.update(words[2].split())
            elif words[:1] and words[0] in recipes:
                modules.update(recipes[words[0]])
    return modules


def test_the_librarys_recipes_build_libcpuid_and_libwebp_with_sharpyuv() -> None:
    recipes = static_recipes()
    assert recipes["build_static_libcpuid"] == {"libcpuid"}
    assert recipes["build_static_libwebp"] == {"libwebp", "libsharpyuv"}


def test_rhel_step_2_names_the_x_macros_autoreconf_needs() -> None:
    """The X server's configure.ac calls XORG_MACROS_VERSION: autoreconf (step 5) needs util-macros'
    xorg-macros.m4, which must not depend on another package happening to pull it in."""
    assert "xorg-x11-util-macros" in dnf_installs((RHEL_BUILD / "kasm.sh").read_text())


def test_enable_epel_crb_installs_only_base_and_extras_packages() -> None:
    body = function_body((LIB.parent / "lib" / "el9.sh").read_text(), "enable_epel_crb")
    available = {name for repo in ALWAYS_ENABLED for name in REPOSITORIES[repo]["names"]}
    assert set(dnf_installs(body)) == {"dnf-plugins-core", "epel-release"} <= available
    assert ["dnf", "config-manager", "--set-enabled", "crb"] in shell_commands(body)


def test_rhel_step_2_provides_everything_kasmvnc_1_5_builds_against() -> None:
    installed = set(dnf_installs((RHEL_BUILD / "kasm.sh").read_text()))
    built = static_builds()
    for need, package in KASMVNC_15_NEEDS.items():
        if package is None:
            assert need in built, f"{need}: EL9 has no usable package, and no RHEL step-2 drop-in builds it"
        else:
            assert package in installed, f"{need}: RHEL step 2 does not install {package}"


def test_rhel_step_2_keeps_el9s_libwebp_headers_out() -> None:
    """EL9's libwebp-devel (1.2.0) would put webp/*.h and libwebp.pc before the static 1.5 build."""
    assert "libwebp-devel" not in dnf_installs((RHEL_BUILD / "kasm.sh").read_text())


# --- the hook, run against a dnf that behaves like EL9's -----------------------------------------

# A stand-in for dnf 4 on Rocky/Alma 9, answering from the recorded repositories: `install`
# resolves every name or installs nothing ("No match for argument: X", "Error: Unable to find a
# match: X", exit 1); epel-release adds the EPEL repository and its key file; config-manager
# exists only once dnf-plugins-core is installed; `list --available` exits 1 for an unknown name.
DNF_STUB = r"""#!{python}
import os, pathlib, shutil, sys, tomllib
state = pathlib.Path(os.environ["DNF_STUB_STATE"])
repos = tomllib.loads(pathlib.Path(os.environ["DNF_STUB_REPOS"]).read_text())
enabled = set((state / "enabled").read_text().split()) if (state / "enabled").exists() else {{"baseos", "appstream", "extras"}}
installed = (state / "installed").read_text().split() if (state / "installed").exists() else []
args = [a for a in sys.argv[1:] if not a.startswith("-") or a.startswith("--set-")]
def available():
    names = set()
    for repo in enabled | ({{"appstream_or_crb"}} if "crb" in enabled else set()):
        names.update(repos.get(repo, {{}}).get("names", []))
    return names
def save():
    (state / "enabled").write_text(" ".join(sorted(enabled)))
    (state / "installed").write_text(" ".join(installed))
if args[:1] == ["install"]:
    missing = [n for n in args[1:] if n not in available()]
    if missing:
        for n in missing:
            print(f"No match for argument: {{n}}")
        print(f"Error: Unable to find a match: {{' '.join(missing)}}", file=sys.stderr)
        sys.exit(1)
    installed += args[1:]
    if "epel-release" in args[1:]:
        enabled.add("epel")
        key = pathlib.Path(os.environ["EPEL_KEY"])
        key.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.environ["DNF_STUB_EPEL_KEY"], key)
    save()
elif args[:1] == ["config-manager"]:
    if "dnf-plugins-core" not in installed:
        print("No such command: config-manager. Please use /usr/bin/dnf --help", file=sys.stderr)
        sys.exit(1)
    if args[1:2] == ["--set-enabled"]:
        enabled.update(args[2:])
    save()
elif args[:1] == ["list"]:
    if not set(args[1:]) <= available():
        print("Error: No matching Packages to list", file=sys.stderr)
        sys.exit(1)
    print("Available Packages")
else:
    print(f"dnf stub: unexpected arguments {{sys.argv[1:]}}", file=sys.stderr)
    sys.exit(2)
"""


def run_rhel_hook(tmp_path: Path, hook: Path, *, repos: Path, key: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    dnf = bin_dir / "dnf"
    dnf.write_text(DNF_STUB.format(python=sys.executable))
    dnf.chmod(0o755)
    rpm = bin_dir / "rpm"  # rpm --import: record the key rpm is told to trust
    rpm.write_text('#!/bin/sh\n[ "$1" = --import ] && cp "$2" "$DNF_STUB_STATE/rpm-imported"\n')
    rpm.chmod(0o755)
    state = tmp_path / "state"
    state.mkdir()
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HELIOS_LIB": str(LIB), "HELIOS_STEP": "2", "DNF_STUB_STATE": str(state),
        "DNF_STUB_REPOS": str(repos), "DNF_STUB_EPEL_KEY": str(key),
        "EPEL_KEY": str(tmp_path / "etc" / "pki" / "rpm-gpg" / "RPM-GPG-KEY-EPEL-9"),
    }  # fmt: skip
    return subprocess.run(["bash", str(hook)], env=env, capture_output=True, text=True)


@pytest.fixture
def gpg() -> None:
    if shutil.which("gpg") is None:
        pytest.skip("gpg is not installed: enable_epel_crb reads the key's fingerprint with it")


KEYS = Path(__file__).parent / "data"  # EPEL's public keys, from Debian's distribution-gpg-keys


@pytest.mark.usefixtures("gpg")
def test_rhel_step_2_installs_against_el9_repositories(tmp_path: Path) -> None:
    repositories = Path(__file__).parent / "data" / "el9-repositories.toml"
    result = run_rhel_hook(
        tmp_path, RHEL_BUILD / "kasm.sh", repos=repositories, key=KEYS / "RPM-GPG-KEY-EPEL-9"
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    installed = (tmp_path / "state" / "installed").read_text().split()
    assert {"ffmpeg-free-devel", "fmt-devel", "libyuv-devel", "tbb-devel", "libva-devel"} <= set(installed)
    assert (tmp_path / "state" / "rpm-imported").read_bytes() == (KEYS / "RPM-GPG-KEY-EPEL-9").read_bytes()


@pytest.mark.usefixtures("gpg")
def test_rhel_step_2_stops_where_epel_is_missing(tmp_path: Path) -> None:
    """Without EPEL's packages (a mirror that lacks them), dnf's own error ends the step."""
    repos = tomllib.loads((Path(__file__).parent / "data" / "el9-repositories.toml").read_text())
    repos["epel"]["names"] = []
    trimmed = tmp_path / "repos.toml"
    trimmed.write_text("".join(f"[{repo}]\nnames = {data['names']!r}\n" for repo, data in repos.items()))
    result = run_rhel_hook(tmp_path, RHEL_BUILD / "kasm.sh", repos=trimmed, key=KEYS / "RPM-GPG-KEY-EPEL-9")
    assert result.returncode == 1
    assert "No match for argument: ffmpeg-free-devel" in result.stdout
    assert "Error: Unable to find a match: ffmpeg-free-devel fmt-devel libyuv-devel" in result.stderr


@pytest.mark.parametrize("hook", ["kasm.sh", "system.sh"])
def test_rhel_hooks_enable_epel_only_through_the_pinned_key(hook: str) -> None:
    commands = shell_commands((RHEL_BUILD / hook).read_text())
    assert ["enable_epel_crb"] in commands
    assert "epel-release" not in dnf_installs((RHEL_BUILD / hook).read_text())


@pytest.mark.usefixtures("gpg")
def test_rhel_step_2_refuses_an_epel_key_with_another_fingerprint(tmp_path: Path) -> None:
    repositories = Path(__file__).parent / "data" / "el9-repositories.toml"
    result = run_rhel_hook(
        tmp_path, RHEL_BUILD / "kasm.sh", repos=repositories, key=KEYS / "RPM-GPG-KEY-EPEL-8"
    )
    assert result.returncode == 1
    assert "error: the EPEL key" in result.stderr
    assert "not EPEL 9's FF8AD1344597106ECE813B918A3872BF3228467C" in result.stderr
    assert not (tmp_path / "state" / "rpm-imported").exists(), "rpm was told to trust the wrong key"


# The EL9 packages whose libraries Xvnc links dynamically, by the -devel step 2 installs.
RHEL_DYNAMIC = {"fmt-devel": "fmt", "libva-devel": "libva", "libyuv-devel": "libyuv", "tbb-devel": "tbb"}


def test_rhel_image_carries_what_xvnc_links_from_step_2() -> None:
    installed = set(dnf_installs((RHEL_BUILD / "kasm.sh").read_text()))
    packages = set(package_list((ROOT / "common" / "packages.toml").read_text(), "rhel"))
    shipped = {name for repo in REPOSITORIES.values() for name in repo["names"]}
    for devel, runtime in RHEL_DYNAMIC.items():
        assert devel in installed, f"step 2 no longer installs {devel}: update this table"
        assert runtime in packages, f"Xvnc links {runtime} (from {devel}), which the rhel list lacks"
        assert runtime in shipped, f"{runtime} is not recorded in tests/data/el9-repositories.toml"
    assert "ffmpeg-free" in packages, "KasmVNC dlopens libavcodec & co., which EPEL's ffmpeg-free brings"
