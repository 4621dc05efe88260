"""The resolve script of one distro's package lists, to run inside its base image (CI job package-lists).

Only Debian's archive is reachable where the offline tests run (tests/test_debian_packages.py
resolves Debian 13 for amd64 and arm64 there). The GitHub workflow's package-lists job runs
``python -m tests.package_lists DISTRO`` and executes the script it prints in the distro's own base
image, for linux/amd64 and linux/arm64 (QEMU), with the repository mounted at /helios-src. The
script asks the distro's package manager to resolve, without installing, every list of the steps
that install packages, read from the hooks the plan runs:

- apt (Debian family): step 2's ``apt-get build-dep`` and install list, libcpuid-dev where the
  archive has it (its drop-in builds it otherwise), step 6's list, step 9's list, and step 9's
  drop-in itself, with ``APT::Get::Simulate``;
- dnf (RHEL family): EPEL and CRB switched on as the hooks do, then step 2's and step 6's lists and
  step 9's list in a transaction that is resolved and then declined (``--assumeno``);
- apk (Alpine): step 2's, step 6's and step 9's lists with ``apk add --simulate``.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from pipeline.plan import Planner
from pipeline.stepmounts import package_listing
from pipeline.tree import LocalTree
from tests.test_alpine_hooks import apk_adds
from tests.test_debian_packages import step2_packages
from tests.test_rhel_packages import dnf_installs

REPO = Path(__file__).resolve().parent.parent
SRC = "/helios-src"
"""Where the job mounts the repository in the base image."""


def _words(names: list[str]) -> str:
    return " ".join(shlex.quote(name) for name in names)


def _hook(path: str) -> str:
    return (REPO / path).read_text()


def apt_script(runs: dict[int, list[str]], packages: list[str]) -> str:
    build_dep, step2 = step2_packages(_hook(runs[2][0]))
    step6 = step2_packages(_hook(runs[6][0]))[1]
    drop_in = next(path for path in runs[9] if "system.d/" in path)
    return f"""#!/bin/bash
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive HELIOS_STEP=resolve HELIOS_LIB={SRC}/common/build/lib.sh
source "$HELIOS_LIB"
enable_deb_src
apt-get update -q
simulate() {{ apt-get -s -y --no-install-recommends "$@" | grep -v '^Conf ' ; }}
echo "== step 2: build-dep"; simulate build-dep {_words(build_dep)}
echo "== step 2: install"; simulate install {_words(step2)}
if apt_has_candidate libcpuid-dev; then echo "== step 2: libcpuid-dev"; simulate install libcpuid-dev
else echo "== step 2: no libcpuid-dev here: the drop-in builds the pin"; fi
echo "== step 6"; simulate install {_words(step6)}
echo "== step 9"; simulate install {_words(packages)}
echo "== step 9: {drop_in}"
printf 'APT::Get::Simulate "true";\\n' >/tmp/simulate.conf
APT_CONFIG=/tmp/simulate.conf bash {SRC}/{drop_in}
"""


def dnf_script(runs: dict[int, list[str]], packages: list[str]) -> str:
    build = [name for path in (*runs[2], *runs[6]) for name in dnf_installs(_hook(path))]
    return f"""#!/bin/bash
set -euo pipefail
# EPEL and CRB as enable_epel_crb switches them on (installing epel-release is real: the image is thrown away).
dnf install -y -q dnf-plugins-core epel-release
dnf config-manager --set-enabled crb
resolve() {{
  local out rc=0
  out=$(dnf install --assumeno --setopt=install_weak_deps=False "$@" 2>&1) || rc=$?
  echo "$out" | tail -n 5
  # --assumeno declines a transaction it resolved ("Operation aborted.", exit 1); anything else failed.
  [[ $rc == 0 ]] || grep -q '^Operation aborted' <<<"$out" || {{ echo "$out" >&2; exit 1; }}
}}
echo "== steps 2 and 6"; resolve {_words(build)}
echo "== step 9"; resolve --allowerasing {_words(packages)}
"""


def apk_script(runs: dict[int, list[str]], packages: list[str]) -> str:
    build = [name for path in (*runs[2], *runs[6]) for name in apk_adds(_hook(path))]
    return f"""#!/bin/sh
set -eu
apk update -q
echo "== steps 2 and 6"; apk add --simulate {_words(build)}
echo "== step 9"; apk add --simulate {_words(packages)}
"""


SCRIPTS = {"debian": apt_script, "rhel": dnf_script, "alpine": apk_script}


def resolve_script(distro: str, platform: str = "linux/amd64") -> tuple[str, str]:
    """(the distro's base image, the script that resolves its lists in it)."""
    plan = Planner(LocalTree(REPO)).plan(distro, platform)
    runs = {number: [run.script.path for run in plan.step(number).runs] for number in (2, 6, 9)}
    packages = package_listing(plan).split()
    return plan.base, SCRIPTS[plan.distro.family](runs, packages)


if __name__ == "__main__":
    base, script = resolve_script(*sys.argv[1:3])
    Path(sys.argv[3] if len(sys.argv) > 3 else "resolve.sh").write_text(script)
    print(base)
