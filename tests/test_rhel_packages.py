"""The RHEL family's build hooks install only packages that EL9's enabled repositories carry.

dnf stops a whole step at the first name it cannot find ("Unable to find a match"), and nothing
here can reach Rocky's or Alma's mirrors, so the names are checked against a recorded list of the
EL9 repositories with its sources (tests/data/el9-repositories.toml).
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest

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
    """The repositories a script can install from: the base image's, plus what it switches on."""
    enabled = set(ALWAYS_ENABLED)
    for words in shell_commands(script):
        if words[:3] == ["dnf", "config-manager", "--set-enabled"]:
            enabled.update(words[3:])
    if "epel-release" in dnf_installs(script):
        enabled.add("epel")
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
    assert enabled_repositories(script) == {*ALWAYS_ENABLED, "crb", "epel"}


def test_the_recorded_repositories_do_not_contradict_themselves() -> None:
    shipped = [name for repo in (*ALWAYS_ENABLED, "crb", "epel") for name in REPOSITORIES[repo]["names"]]
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
