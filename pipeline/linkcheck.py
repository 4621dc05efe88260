"""Step 11's check that the joined image can load what step 8 packed.

The programs come from the kasm stage and their shared libraries from the system stage's package
list, two containers that never meet until the join. A library missing from the list would only
show at run time, as an Xvnc that cannot start; this check turns it into a build error that names
the program and the library.
"""

from __future__ import annotations

LINKED_PROGRAMS = ("/usr/local/bin/Xvnc", "/opt/helios/node/bin/node")
"""The packed programs, plus every native Node module under :data:`NATIVE_MODULES`."""
NATIVE_MODULES = "/opt/helios/kclient"


def link_check_script(programs: tuple[str, ...] = LINKED_PROGRAMS, modules: str = NATIVE_MODULES) -> str:
    """A POSIX sh script that fails, naming program and library, when a program cannot load."""
    return f"""\
set -u
if ! command -v ldd >/dev/null 2>&1; then
  echo "[helios step 11] ldd is not installed: shared libraries not checked" >&2
  exit 0
fi
missing=$(
  {{ printf '%s\\n' {" ".join(programs)}; find {modules} -name '*.node' -type f 2>/dev/null; }} |
  while read -r program; do
    [ -e "$program" ] || continue
    ldd "$program" 2>&1 | awk -v program="$program" '/not found/ {{print "  " program ": " $1}}'
  done
)
if [ -n "$missing" ]; then
  echo "[helios step 11] error: the image lacks shared libraries that packed programs link:" >&2
  echo "$missing" >&2
  echo "[helios step 11] hint: add the packages that provide them to this distro's list in" \\
    "common/packages.toml, or install them in the distro's step-9 hook" >&2
  exit 1
fi
echo "[helios step 11] every packed program finds its shared libraries"
"""


LINK_CHECK = link_check_script()
"""Run in the joined image before the overlays, so editing an overlay re-runs nothing."""
