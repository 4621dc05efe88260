"""Root filesystems made with debootstrap, and commands run inside them like a container exec.

A rootfs comes from a cached pristine tarball (keyed by suite, architecture, variant, extra
packages and archive), so only the first run pays for debootstrap. A rootfs of another
architecture than the host's (arm64 on an amd64 machine) is made in debootstrap's two stages: the
packages are unpacked from the host, then the second stage runs inside the rootfs under QEMU's user
emulation, which the kernel starts for every foreign binary through binfmt_misc
(:func:`emulation_problem` says why it cannot, when it cannot). Every command runs in its own
mount and PID namespaces (``unshare``): /proc, /dev, /sys and the step's bind mounts exist only
there, and the kernel removes them, and kills every process the command left behind, the moment it
ends, whether it succeeded, failed or was killed. The host's mount table never changes.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CACHE = Path(os.environ.get("HELIOS_REHEARSAL_CACHE", "/var/cache/helios-rehearsal"))
ROOTFS_CACHE = CACHE / "rootfs"
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""PATH of Debian's official images (and of the Node image built on them)."""
HOST_EXTRA_CAS = Path("/usr/local/share/ca-certificates")
"""Certificate authorities the host adds to its trust store (a TLS-inspecting egress proxy, say)."""
ROOTFS_RECIPE = 1
_TARBALL_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()
"""Bump when :func:`make_rootfs` changes what it leaves, so cached tarballs are rebuilt."""


class ChrootError(RuntimeError):
    """A command in a chroot failed; the message holds what and why."""


@dataclass(frozen=True)
class AptSources:
    """Where the Debian archive is, as the host's own apt configuration says."""

    archive: str
    security: str | None
    signed_by: str

    def deb822(self, suite: str) -> str:
        """An /etc/apt/sources.list.d/debian.sources as Debian's images write it, for ``suite``."""
        text = (
            f"Types: deb\nURIs: {self.archive}\nSuites: {suite} {suite}-updates\n"
            f"Components: main\nSigned-By: {self.signed_by}\n"
        )
        if self.security:
            text += (
                f"\nTypes: deb\nURIs: {self.security}\nSuites: {suite}-security\n"
                f"Components: main\nSigned-By: {self.signed_by}\n"
            )
        return text


def host_apt_sources(etc: Path = Path("/etc/apt")) -> AptSources:
    """The Debian archive and security archive of the host's apt sources (deb822 or one-line)."""
    entries: list[tuple[list[str], list[str], str]] = []  # (uris, suites, signed-by)
    for path in sorted((etc / "sources.list.d").glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.strip().startswith("#") or ":" not in line:
                    continue
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.strip()
            if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
                entries.append(
                    (
                        fields.get("uris", "").split(),
                        fields.get("suites", "").split(),
                        fields.get("signed-by", ""),
                    )
                )
    lists = [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]
    for path in lists:
        for line in path.read_text().splitlines() if path.is_file() else []:
            words = line.split("#", 1)[0].split()
            if len(words) >= 3 and words[0] == "deb":
                words = [w for w in words[1:] if not w.startswith("[")]
                entries.append(([words[0]], [words[1]], ""))
    codename = _host_codename()
    archive = next((u[0] for u, s, _ in entries if codename in s and u), None)
    security = next((u[0] for u, s, _ in entries if f"{codename}-security" in s and u), None)
    if archive is None:
        raise ChrootError(
            f"the host's apt sources (/etc/apt) name no archive for {codename}: the rehearsal takes the "
            "Debian archive's location from there; add the usual entry for this release"
        )
    signed_by = next((k for u, s, k in entries if codename in s and k), "") or DEBIAN_KEYRING
    return AptSources(archive, security, signed_by)


def _host_codename() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip('"')
    raise ChrootError("/etc/os-release names no VERSION_CODENAME: the rehearsal needs a Debian host")


def host_arch() -> str:
    """The host's Debian architecture (amd64, arm64)."""
    return subprocess.run(
        ["dpkg", "--print-architecture"], check=True, capture_output=True, text=True
    ).stdout.strip()


QEMU_MACHINE = {"amd64": "x86_64", "arm64": "aarch64"}
"""Debian architecture -> QEMU's name for it, which names its binfmt_misc entry (qemu-<name>)."""
BINFMT = Path("/proc/sys/fs/binfmt_misc")


def emulation_problem(arch: str, binfmt: Path = BINFMT) -> str | None:
    """Why binaries of ``arch`` cannot run chrooted on this host, or None when they can.

    The host's own architecture always runs. Another one needs QEMU's binfmt_misc entry enabled with
    the F flag: the kernel then opens the interpreter when the entry is registered, so it runs
    inside a chroot that holds no copy of it (Debian's qemu-user-static registers it so).
    """
    if arch == host_arch():
        return None
    machine = QEMU_MACHINE.get(arch)
    if machine is None:
        return f"no QEMU emulation is known for the architecture {arch!r}"
    entry = binfmt / f"qemu-{machine}"
    fix = f"install qemu-user-static and binfmt-support, then run update-binfmts --enable qemu-{machine}"
    if not entry.is_file():
        return f"{arch} binaries cannot run here: binfmt_misc has no {entry} ({fix})"
    lines = entry.read_text().splitlines()
    if "enabled" not in lines:
        return f"{arch} binaries cannot run here: {entry} is disabled ({fix})"
    flags = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("flags:")), "")
    if "F" not in flags:
        return (
            f"{entry} lacks the F (fix-binary) flag, so its interpreter cannot be found inside a "
            f"chroot: register it as Debian's qemu-user-static does ({fix})"
        )
    return None


@dataclass(frozen=True)
class RootfsSpec:
    """What a pristine root filesystem is made of; its digest keys the cached tarball."""

    suite: str
    arch: str
    sources: AptSources
    include: tuple[str, ...] = ()
    variant: str = "minbase"
    keyring: str = DEBIAN_KEYRING
    """The archive keyring debootstrap checks the suite's Release file with."""

    @property
    def key(self) -> str:
        parts = [
            ROOTFS_RECIPE,
            self.suite,
            self.arch,
            self.variant,
            sorted(self.include),
            self.sources.archive,
        ]
        digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]
        return f"{self.suite}-{self.arch}-{digest}"


def make_rootfs(spec: RootfsSpec, dest: Path, log: Path) -> float:
    """``dest`` becomes a fresh copy of the pristine rootfs of ``spec``; returns the seconds it took.

    The pristine tree is what Debian's images hold: debootstrap's system with the deb822 sources of
    the suite and its updates and security archives, and empty package caches and lists.
    """
    started = time.monotonic()
    tarball = ROOTFS_CACHE / f"{spec.key}.tar.zst"
    with _LOCKS_LOCK:
        lock = _TARBALL_LOCKS.setdefault(spec.key, threading.Lock())
    with lock:  # stages running in parallel share one debootstrap per spec
        if not tarball.is_file():
            _build_tarball(spec, tarball, log)
    remove_tree(dest)
    dest.mkdir(parents=True)
    _run(["tar", "--zstd", "-xpf", str(tarball), "-C", str(dest)], log)
    return time.monotonic() - started


def _build_tarball(spec: RootfsSpec, tarball: Path, log: Path) -> None:
    tarball.parent.mkdir(parents=True, exist_ok=True)
    staging = tarball.parent / f"{spec.key}.staging"
    remove_tree(staging)
    argv = ["debootstrap", f"--variant={spec.variant}", f"--arch={spec.arch}", f"--keyring={spec.keyring}"]
    if spec.include:
        argv.append("--include=" + ",".join(spec.include))
    foreign = spec.arch != host_arch()
    if foreign:
        problem = emulation_problem(spec.arch)
        if problem:
            raise ChrootError(f"cannot make a {spec.suite} rootfs for {spec.arch}: {problem}")
        argv.append("--foreign")
    _run([*argv, spec.suite, str(staging), spec.sources.archive], log)
    if foreign:
        # The packages are unpacked; configuring them runs their own (emulated) programs.
        second = Exec(["/debootstrap/debootstrap", "--second-stage"], {"PATH": IMAGE_PATH})
        code = run_in(staging, second, log)
        if code != 0:
            raise ChrootError(
                f"debootstrap's second stage in {staging} failed with exit code {code} (log: {log})"
            )
    (staging / "etc/apt/sources.list").unlink(missing_ok=True)
    (staging / "etc/apt/sources.list.d").mkdir(parents=True, exist_ok=True)
    (staging / "etc/apt/sources.list.d/debian.sources").write_text(spec.sources.deb822(spec.suite))
    for folder in ("var/cache/apt", "var/lib/apt/lists"):
        remove_tree(staging / folder)
        (staging / folder / ("partial" if "lists" in folder else "archives/partial")).mkdir(parents=True)
    partial = tarball.with_suffix(".partial")
    _run(["tar", "--zstd", "--numeric-owner", "-cpf", str(partial), "-C", str(staging), "."], log)
    partial.rename(tarball)
    remove_tree(staging)


def remove_tree(path: Path) -> None:
    """Remove ``path`` (a tree the rehearsal made); refuses while anything is mounted below it."""
    if not path.exists() and not path.is_symlink():
        return
    below = mounts_below(path)
    if below:
        raise ChrootError(f"refusing to remove {path}: still mounted there: {', '.join(below)}")
    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def mounts_below(path: Path) -> list[str]:
    """The mount points of this mount namespace at or below ``path`` (from /proc/self/mounts)."""
    root = str(path.resolve()) if path.exists() else str(path)
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        point = line.split()[1].encode().decode("unicode_escape")
        if point == root or point.startswith(root.rstrip("/") + "/"):
            found.append(point)
    return found


def host_certificates() -> list[bytes]:
    """The certificate authorities the host adds to its trust store (``HOST_EXTRA_CAS``), PEM each."""
    certs = sorted(HOST_EXTRA_CAS.rglob("*.crt")) if HOST_EXTRA_CAS.is_dir() else []
    return [cert.read_bytes().rstrip() + b"\n" for cert in certs]


# The stores of the families Dagger knows (engine/engineutil/cacerts/distros.go): where custom
# certificates go, the bundle, and the command that rebuilds the bundle from them.
DEBIAN_LIKE = (
    "usr/local/share/ca-certificates",
    "etc/ssl/certs/ca-certificates.crt",
    "update-ca-certificates",
)


CA_CHURNED = frozenset({
    "etc/ssl/certs",
    "etc/ssl/certs/ca-certificates.crt",
    "usr/local/share/ca-certificates",
    "tmp",
})  # fmt: skip
"""What installing and removing certificate authorities around an exec leaves with the time of that
exec, as a Dagger engine with custom authorities does (engine/engineutil/cacerts: the files are
written and removed, update-ca-certificates runs twice, and the bundle's old time comes back only
when the exec left the bundle alone, which the settled system stage does not)."""


@dataclass
class HostTrust:
    """The host's extra certificate authorities put into an exec's root as a Dagger engine does.

    Before every exec the engine writes its custom certificates into the system's store of the
    container (``/usr/local/share/ca-certificates`` and ``update-ca-certificates`` when the image
    has it, else appended to the bundle) and takes them out again after it, so curl, git and apt
    trust them and nothing of them stays in the image. Node does not read that store by itself
    (common/build/lib/node.sh). Debian-like roots only: the rehearsal builds Debian.
    """

    root: Path
    certs: list[bytes]
    log: Path
    _written: list[Path] = field(default_factory=list)
    _bundle: bytes | None = None
    _updated: bool = False

    def install(self) -> None:
        if not self.certs:
            return
        folder, bundle, update = self.root / DEBIAN_LIKE[0], self.root / DEBIAN_LIKE[1], DEBIAN_LIKE[2]
        folder.mkdir(parents=True, exist_ok=True)
        for index, pem in enumerate(self.certs):
            path = folder / f"helios-host-{index}.crt"
            if not path.exists():
                path.write_bytes(pem)
                self._written.append(path)
        self._updated = self._has(update)
        if self._updated:
            self._update()
        else:
            self._bundle = bundle.read_bytes() if bundle.is_file() else None
            bundle.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open("ab") as out:
                out.write(b"".join(self.certs))

    def uninstall(self) -> None:
        if not self.certs:
            return
        for path in self._written:
            path.unlink(missing_ok=True)
        bundle = self.root / DEBIAN_LIKE[1]
        if self._updated or self._has(DEBIAN_LIKE[2]):  # the exec may have installed ca-certificates
            self._update()
        elif self._bundle is not None:
            bundle.write_bytes(self._bundle)
        else:
            bundle.unlink(missing_ok=True)

    def _has(self, command: str) -> bool:
        return any((self.root / d / command).is_file() for d in ("usr/sbin", "usr/bin", "sbin", "bin"))

    def _update(self) -> None:
        code = run_in(self.root, Exec([DEBIAN_LIKE[2]], {"PATH": IMAGE_PATH}), self.log)
        if code != 0:
            raise ChrootError(
                f"{DEBIAN_LIKE[2]} in {self.root} failed with exit code {code} (log: {self.log})"
            )


@dataclass(frozen=True)
class Bind:
    """A bind mount into the chroot: ``source`` on the host at ``target`` inside."""

    source: Path
    target: str
    read_only: bool = True


@dataclass
class Exec:
    """One command to run in a root filesystem, as a container exec would."""

    argv: Sequence[str]
    env: Mapping[str, str]
    binds: Sequence[Bind] = ()
    timeout: float = 3600.0
    created: list[Path] = field(default_factory=list)


def run_in(root: Path, command: Exec, log: Path) -> int:
    """Run ``command`` chrooted in ``root`` with its binds, output appended to ``log``; its exit code.

    Mount points that did not exist are created for the run and removed after it, so the rootfs
    keeps only what the command itself wrote, as with a container's mounts.
    """
    targets = [*(root / b.target.lstrip("/") for b in command.binds), root / "etc/resolv.conf"]
    created, made_in = _make_mount_points(root, command.binds)
    # The folders mount points were made in, as they are with them; see _restore_times.
    with_stubs = {folder: folder.stat() for folder in made_in}
    script = _namespace_script(root, command)
    try:
        with log.open("ab") as out:
            process = subprocess.Popen(
                ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private",
                 "bash", "-c", script],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
            )  # fmt: skip
            try:
                return process.wait(timeout=command.timeout)
            except subprocess.TimeoutExpired:
                _kill(process)
                out.write(f"\n[rehearsal] killed after {command.timeout:.0f} s\n".encode())
                return 124
            except BaseException:
                _kill(process)
                raise
    finally:
        after = {folder: folder.stat() for folder in made_in if folder.is_dir()}
        for path in reversed(created):
            _remove_mount_point(path)
        _restore_times(made_in, with_stubs, after)
        leftover = [m for t in targets for m in mounts_below(t)] + mounts_below(root / "proc")
        if leftover:
            raise ChrootError(f"mounts outlived their namespace: {', '.join(leftover)}")


def _kill(process: subprocess.Popen[bytes]) -> None:
    # unshare --kill-child takes the namespace's init, and with it every process, down with it.
    process.kill()
    process.wait()


def _die_with_parent() -> None:
    """In the child before exec: end when the rehearsal ends, however it ends (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


def _make_mount_points(root: Path, binds: Sequence[Bind]) -> tuple[list[Path], dict[Path, os.stat_result]]:
    """The mount points made for ``binds``, and each folder they were made in, as it was before."""
    created: list[Path] = []
    made_in: dict[Path, os.stat_result] = {}
    for bind in binds:
        target = root / bind.target.lstrip("/")
        missing = []
        parent = target
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        if missing and parent not in made_in and parent not in created:
            made_in[parent] = parent.stat()
        for path in reversed(missing[1:]):
            path.mkdir()
            created.append(path)
        if missing:
            if bind.source.is_dir():
                target.mkdir()
            else:
                target.touch()
            created.append(target)
    return created, made_in


def _restore_times(
    before: dict[Path, os.stat_result],
    with_stubs: dict[Path, os.stat_result],
    after: dict[Path, os.stat_result],
) -> None:
    """Give each folder a mount point was made in the time the engine leaves it: its own time from
    ``before`` the stubs were made when the exec did not change it, else the time the exec gave it.
    Removing the stubs changes a folder's time; the engine puts it back (and so must this, or the
    folder would carry the time of each run)."""
    for folder, now in after.items():
        kept = before[folder] if now.st_mtime_ns == with_stubs[folder].st_mtime_ns else now
        os.utime(folder, ns=(kept.st_atime_ns, kept.st_mtime_ns))


def _remove_mount_point(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        if not any(path.iterdir()):
            path.rmdir()
    elif path.is_file() and path.stat().st_size == 0:
        path.unlink()


def _namespace_script(root: Path, command: Exec) -> str:
    """The shell that sets up the namespace's mounts and runs the command chrooted (bash -c)."""
    r = shlex.quote(str(root))
    lines = [
        "set -euo pipefail",
        f"mount -t proc proc {r}/proc",
        f"mount -t sysfs -o ro,nosuid,nodev,noexec sysfs {r}/sys",
        f"mount -t tmpfs -o nosuid,mode=0755 tmpfs {r}/dev",
        f"mkdir -p {r}/dev/pts {r}/dev/shm",
        f"for node in null zero full random urandom tty; do touch {r}/dev/$node; "
        f"mount --bind /dev/$node {r}/dev/$node; done",
        f"mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts {r}/dev/pts",
        f"ln -s pts/ptmx {r}/dev/ptmx",
        f"mount -t tmpfs -o nosuid,nodev tmpfs {r}/dev/shm",
        f"ln -s /proc/self/fd {r}/dev/fd",
        f"ln -s /proc/self/fd/0 {r}/dev/stdin; ln -s /proc/self/fd/1 {r}/dev/stdout; "
        f"ln -s /proc/self/fd/2 {r}/dev/stderr",
        # The engine gives every exec the host's resolver configuration the same way: over the
        # image's own file, which stays as it is (a link or nothing is replaced by an empty file).
        f"if [ -L {r}/etc/resolv.conf ] || [ ! -f {r}/etc/resolv.conf ]; then "
        f"rm -f {r}/etc/resolv.conf && touch {r}/etc/resolv.conf; fi",
        f"mount --bind /etc/resolv.conf {r}/etc/resolv.conf",
    ]
    for bind in command.binds:
        target = shlex.quote(f"{root}/{bind.target.lstrip('/')}")
        lines.append(f"mount --bind {shlex.quote(str(bind.source))} {target}")
        if bind.read_only:
            lines.append(f"mount -o remount,bind,ro {target}")
    env = [f"{name}={value}" for name, value in command.env.items()]
    lines.append(
        "exec chroot " + r + " /usr/bin/env -i " + " ".join(shlex.quote(e) for e in env) + " "
        + " ".join(shlex.quote(a) for a in command.argv)
    )  # fmt: skip
    return "\n".join(lines)


def _run(argv: Sequence[str], log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"$ {shlex.join(argv)}\n".encode())
        out.flush()
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise ChrootError(f"{shlex.join(argv)} failed with exit code {result.returncode} (log: {log})")


TINY_TOOLS = (
    "bash",
    "sh",
    "env",
    "cat",
    "ls",
    "mkdir",
    "basename",
    "sort",
    "stat",
    "sleep",
    "rm",
    "find",
    "touch",
)


def tiny_rootfs(root: Path, tools: tuple[str, ...] = TINY_TOOLS) -> Path:
    """A root filesystem holding only the host's copies of ``tools`` and their libraries."""
    for folder in ("proc", "sys", "dev", "etc", "tmp", "usr/bin", "var/cache/apt", "var/lib/apt/lists"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for link in ("bin", "lib", "lib64", "sbin"):
        (root / "usr" / link).mkdir(exist_ok=True)
        if link != "bin":
            (root / link).symlink_to(f"usr/{link}")
    (root / "bin").symlink_to("usr/bin")
    for tool in tools:
        binary = Path(shutil.which(tool) or f"/bin/{tool}").resolve()
        shutil.copy2(binary, root / "usr/bin" / tool)
        libraries = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
        for word in libraries.split():
            if word.startswith("/") and Path(word).is_file():
                target = root / word.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists():
                    shutil.copy2(Path(word).resolve(), target)
    return root
