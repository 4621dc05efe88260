"""Boot an assembled image root as a container runtime would, without one.

``/init`` runs as PID 1 in new PID, mount, network (loopback only) and UTS namespaces, chrooted into
an overlay of the image (the image itself stays untouched; the overlay's upper directory is the
container's writable layer). The runtime's usual mounts are made: /proc, /sys (read-only), a
minimal /dev (null, zero, full, random, urandom, tty, pts, shm), tmpfs on /run and /tmp, and the
/etc/hosts, /etc/hostname and /etc/resolv.conf a runtime writes. Stopping sends SIGTERM to PID 1
(what ``docker stop`` does) and SIGKILL after a grace period. Every mount lives in the private
mount namespace, so it goes with the last process; ``leftovers`` proves nothing is left.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pipeline.imageconfig import ENTRYPOINT
from pipeline.plan import Planner
from pipeline.platforms import host_default
from pipeline.tree import LocalTree
from tests.rehearsal.chroot import CACHE
from tests.rehearsal.results import REPO

T = TypeVar("T")
STATE = CACHE / "boot"
"""Where each booted container keeps its writable layer."""
HOSTNAME = "helios"
NAMESPACES = ("pid", "mnt", "net", "uts")
CLONE_NEWNET = 0x40000000
STOP_GRACE = 10.0
"""Seconds between SIGTERM and SIGKILL, as ``docker stop``'s default."""
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

# Runs as PID 1 of the new namespaces (unshare --fork), then becomes the image's /init.
# $1 image (lower), $2 upper, $3 overlay work dir, $4 mount point; the rest is the entry point.
LAUNCHER = r"""
set -eu
lower=$1 upper=$2 work=$3 root=$4
shift 4
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t tmpfs -o nosuid,mode=0755,size=65536k tmpfs "$root/dev"
for dev in null zero full random urandom tty; do
    touch "$root/dev/$dev"
    mount --bind "/dev/$dev" "$root/dev/$dev"
done
mkdir -m 0755 "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,nosuid,noexec devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$root/dev/shm"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs "$root/run"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$root/tmp"
ip link set lo up
hostname "$HOSTNAME_OF_CONTAINER"
unset HOSTNAME_OF_CONTAINER
exec chroot "$root" "$@"
"""


class BootError(RuntimeError):
    """The container did not boot, or did not stop, as it should."""


@dataclass
class Container:
    """A booted image: PID 1's host pid, its namespaces, its log and its writable layer."""

    process: subprocess.Popen[bytes]
    pid: int
    log: Path
    upper: Path
    namespaces: Mapping[str, str] = field(default_factory=dict)
    exit_code: int | None = None

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the container log (PID 1's stdout and stderr)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def running(self) -> bool:
        return self.process.poll() is None

    def enter(self, *, mount: bool = False) -> list[str]:
        """An nsenter prefix: the container's network and host name (and its root with ``mount``)."""
        argv = ["nsenter", f"--target={self.pid}", "--net", "--uts"]
        if mount:
            argv += ["--mount", "--pid", "--root", "--wd"]
        return [*argv, "--"]

    @contextlib.contextmanager
    def network(self) -> Iterator[None]:
        """Sockets opened in this block belong to the container's network namespace (and stay so)."""
        libc = ctypes.CDLL(None, use_errno=True)
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/proc/{self.pid}/ns/net", os.O_RDONLY)
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                raise BootError(f"setns into the container's network: {os.strerror(ctypes.get_errno())}")
            yield
        finally:
            libc.setns(own, CLONE_NEWNET)
            os.close(own)
            os.close(target)

    def processes(self) -> list[int]:
        """Host pids of every process in the container's PID namespace."""
        return [pid for pid, ns in _namespaces_of_all().items() if ns.get("pid") == self.namespaces["pid"]]

    def memory(self) -> dict[str, int]:
        """Resident and proportional set size, in KiB, summed over the container's processes."""
        total = {"rss_kib": 0, "pss_kib": 0, "processes": 0}
        for pid in self.processes():
            with contextlib.suppress(OSError):
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
                for line in rollup.splitlines():
                    name, _, value = line.partition(":")
                    if name in ("Rss", "Pss"):
                        total[f"{name.lower()}_kib"] += int(value.split()[0])
                total["processes"] += 1
        return total

    def stop(self, grace: float = STOP_GRACE) -> int:
        """Stop as a runtime does: SIGTERM to PID 1, SIGKILL after ``grace`` s. Returns the exit code."""
        if self.running():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill()
                raise BootError(
                    f"PID 1 did not stop within {grace:g}s of SIGTERM:\n{self.log_tail()}"
                ) from None
        self.exit_code = self.process.wait()
        return self.exit_code

    def kill(self) -> None:
        """SIGKILL PID 1: the kernel then kills every process of its PID namespace."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        # unshare reaps PID 1, which the kernel lets go only once its whole namespace is gone.
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def leftovers(self) -> list[str]:
        """Processes still in any of the container's namespaces (empty once it is fully gone)."""
        found = []
        for pid, spaces in _namespaces_of_all().items():
            shared = [ns for ns in NAMESPACES if spaces.get(ns) == self.namespaces.get(ns)]
            if shared:
                found.append(f"pid {pid} ({_comm(pid)}) still in {', '.join(shared)}")
        return found


def boot(image: Path, state: Path, env: Mapping[str, str]) -> Container:
    """Start ``image`` (a root directory) with ``env`` as the container environment.

    ``state`` receives the overlay's ``upper`` (the writable layer: files put there before the boot
    are part of the container), its ``work`` dir, the mount point and ``container.log``.
    """
    for part in ("upper", "work", "root"):
        (state / part).mkdir(parents=True, exist_ok=True)
    _runtime_files(state / "upper")
    log = state / "container.log"
    argv = [
        "unshare", "--pid", "--mount", "--net", "--uts", "--fork", "--kill-child", "--propagation", "private",
        "sh", "-c", LAUNCHER, "launcher",
        str(image), str(state / "upper"), str(state / "work"), str(state / "root"), *ENTRYPOINT,
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**env, "HOSTNAME_OF_CONTAINER": HOSTNAME},
        )
    pid = _child_of(process)
    namespaces = {ns: str(Path(f"/proc/{pid}/ns/{ns}").readlink()) for ns in NAMESPACES}
    return Container(process, pid, log, state / "upper", namespaces)


@contextlib.contextmanager
def booted(image: Path, state: Path, env: Mapping[str, str]) -> Iterator[Container]:
    """``boot``, and whatever happens in the block, leave no process, mount or namespace behind."""
    container = boot(image, state, env)
    try:
        yield container
    except BaseException:
        container.kill()  # a failed check: no grace period needed
        raise
    finally:
        if container.running():
            with contextlib.suppress(BootError):
                container.stop()
        if container.running():
            container.kill()


def wait_until(check: Callable[[], T], timeout: float, interval: float = 0.5) -> T:
    """Poll ``check()`` until it returns something truthy, or ``timeout`` s; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def _runtime_files(upper: Path) -> None:
    """What a runtime writes into every container: its host name and name resolution."""
    etc = upper / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "hostname").write_text(f"{HOSTNAME}\n")
    (etc / "hosts").write_text(f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n127.0.1.1\t{HOSTNAME}\n")
    (etc / "resolv.conf").write_text("# loopback only: no name server\n")


def _child_of(process: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    """The host pid of unshare's forked child, PID 1 of the new namespaces."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            pids = children.read_text().split()
            if pids:
                return int(pids[0])
        if process.poll() is not None:
            raise BootError(f"unshare exited with {process.returncode} before starting PID 1")
        time.sleep(0.02)
    process.kill()
    raise BootError(f"unshare did not start PID 1 within {timeout:g}s")


def _namespaces_of_all() -> dict[int, dict[str, str]]:
    found: dict[int, dict[str, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        spaces = {}
        for ns in NAMESPACES:
            with contextlib.suppress(OSError):
                spaces[ns] = str((entry / "ns" / ns).readlink())
        if spaces:
            found[int(entry.name)] = spaces
    return found


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def image_env() -> dict[str, str]:
    """The container environment: the image configuration the plan gives the Debian image."""
    return dict(Planner(LocalTree(REPO)).plan("debian", host_default()).image_env)


def fresh_state(name: str, files: dict[str, str]) -> Path:
    """A new writable layer holding ``files`` (path in the container -> text, made executable)."""
    state = STATE / name
    shutil.rmtree(state, ignore_errors=True)
    for path, text in files.items():
        target = state / "upper" / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(0o755)
    return state
