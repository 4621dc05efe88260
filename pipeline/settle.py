"""What a system-stage exec does after its script, so that its layer is the same in every build.

The system stage's container becomes the image, one layer per exec, so every exec must leave the
same bytes on its own: nothing later can make an earlier layer reproducible. So each of its execs
runs its command inside :func:`settled`, which, in the same exec, after the command succeeded:

- removes the package manager's records of this build (its family's ``build_records``: logs that
  carry the time of each install, ldconfig's aux-cache of inode numbers and change times), and a
  machine id that a package made: every container makes its own when it starts
  (common/root's ``helios-machine-id``);
- gives every file, directory and link the exec wrote the time SOURCE_DATE_EPOCH. "Wrote" is "newer
  than a mark made a second before the command started", so what keeps a time of its own (what a
  package unpacks) keeps it, and nothing of the base image is touched. Mount points are left
  alone (package caches, the hooks, /proc, the engine's /etc/resolv.conf): none of them is in the
  image.

The script is POSIX sh for GNU and BusyBox alike; the mark lives on /dev/shm, outside the image.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.families import FAMILIES

MACHINE_IDS = ("/etc/machine-id", "/var/lib/dbus/machine-id")
"""Where a package leaves the machine's identity (machine-id(5)); an empty /etc/machine-id stays."""
NAME = "helios-settle"
"""The wrapper's $0, the name its own messages carry."""


def settle_script(records: Sequence[str], epoch: int) -> str:
    """The sh script that runs "$@" and then settles what it wrote (see the module's docstring)."""
    return f"""\
mark=/dev/shm/{NAME}.$$
: >"$mark" || {{ echo "{NAME}: cannot write $mark: the exec needs a writable /dev/shm" >&2; exit 1; }}
sleep 1
"$@" || {{ status=$?; rm -f "$mark"; exit "$status"; }}
rm -rf -- {" ".join(records)}
for id in {" ".join(MACHINE_IDS)}; do
  if [ -L "$id" ] || [ -s "$id" ]; then rm -f "$id"; fi
done
set --
while read -r _ _ _ _ point _; do
  [ "$point" = / ] || set -- "$@" -o -path "$point"
done </proc/self/mountinfo
find / -xdev \\( -path /proc "$@" \\) -prune -o -newer "$mark" -exec touch -h -d @{epoch} {{}} +
status=$?
rm -f "$mark"
exit "$status"
"""


def settled(command: Sequence[str], family: str, epoch: int) -> list[str]:
    """The exec arguments that run ``command`` and settle it, for a distro of ``family``."""
    return ["sh", "-c", settle_script(FAMILIES[family].build_records, epoch), NAME, *command]
