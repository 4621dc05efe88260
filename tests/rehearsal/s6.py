"""s6-overlay built from source: the stand-in for its four release tarballs.

The image stage unpacks s6-overlay's noarch, <arch>, symlinks-noarch and symlinks-arch tarballs over
the image root. Their host cannot be reached here, so this module rebuilds the same tree from the
pinned sources in the input mirror (``git/<owner>/<repo>/<commit>.bundle``): s6-overlay's own
``layout/rootfs-overlay`` (the noarch part, placeholders filled as its Makefile does), the skarnet
packages at the versions its ``conf/versions`` names plus s6-overlay-helpers (the arch part, built
and installed slashpackage-style as its ``mk/skaware.mk`` does) and the ``/usr/bin`` links.

Differences from the release, on purpose: the binaries are built with the host's gcc against its
glibc (dynamically; the release links musl statically), so the tree runs on an image whose glibc is
at least the host's; for another architecture (arm64 on an amd64 host) with Debian's cross compiler
for it (``gcc-aarch64-linux-gnu``), through skarnet's ``--target``; s6-dns, s6-networking and BearSSL are left out (nothing in the image uses them,
and their sources are not mirrored).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.versions import load_versions
from tests.rehearsal.chroot import QEMU_MACHINE, host_arch

CACHE = Path(os.environ.get("HELIOS_REHEARSAL_CACHE", "/var/cache/helios-rehearsal"))
SHEBANGDIR = "/command"
RECIPE = 1
"""Bump when the build below changes, so cached trees are rebuilt."""


@dataclass(frozen=True)
class Package:
    """One skaware package as s6-overlay's mk/skaware.mk builds it."""

    owner: str
    name: str
    version_key: str
    """Its variable in s6-overlay's conf/versions."""
    category: str
    options: tuple[str, ...] = ()


# Dependency order, categories and options as in s6-overlay's mk/skaware.mk (static libc dropped).
PACKAGES = (
    Package(
        "skarnet",
        "skalibs",
        "SKALIBS_VERSION",
        "prog",
        (
            "--with-default-path=/command:/usr/bin:/bin",
            "--with-sysdep-devurandom=yes",
            "--with-sysdep-grndinsecure=no",
            "--with-sysdep-posixspawnearlyreturn=no",
            "--with-sysdep-procselfexe=/proc/self/exe",
        ),
    ),
    Package(
        "skarnet", "execline", "EXECLINE_VERSION", "admin", ("--disable-pedantic-posix", "--enable-multicall")
    ),
    Package("skarnet", "s6", "S6_VERSION", "admin"),
    Package("skarnet", "s6-rc", "S6_RC_VERSION", "admin"),
    Package("skarnet", "s6-linux-init", "S6_LINUX_INIT_VERSION", "admin"),
    Package("skarnet", "s6-portable-utils", "S6_PORTABLE_UTILS_VERSION", "admin", ("--enable-multicall",)),
    Package("skarnet", "s6-linux-utils", "S6_LINUX_UTILS_VERSION", "admin", ("--enable-multicall",)),
    Package("just-containers", "s6-overlay-helpers", "S6_OVERLAY_HELPERS_VERSION", "admin"),
)


HOST_TOOLS = tuple(
    p for p in PACKAGES if p.name in {"skalibs", "execline", "s6", "s6-rc", "s6-portable-utils"}
)
"""What the readiness tests run on the host (tests/test_runtime_readiness.py), s6-clock included."""


class S6BuildError(RuntimeError):
    """The s6-overlay stand-in could not be built from the mirrored sources."""


def cross_target(arch: str | None) -> str | None:
    """The GNU triplet to cross-compile for ``arch``, or None to build for the host."""
    if arch is None or arch == host_arch():
        return None
    return f"{QEMU_MACHINE[arch]}-linux-gnu"


def s6_overlay_tree(
    workdir: Path, inputs: Path, *, version: str | None = None, arch: str | None = None
) -> Path:
    """The root tree the four s6-overlay tarballs would unpack, built from the mirror ``inputs``.

    ``version`` defaults to the pin in pipeline/versions.toml; ``arch`` to the host's (another one
    is cross-compiled with ``<triplet>-gcc``). The tree is cached under ``CACHE/s6-overlay/<key>``
    (key: every source commit, the compiler, the target, this recipe); ``workdir`` holds the scratch
    build. Returns the tree's root directory (holding ``init``, ``command``, ...).
    """
    version = version or str(load_versions()["s6_overlay"]["version"])
    target = cross_target(arch)
    if target and shutil.which(f"{target}-gcc") is None:
        raise S6BuildError(f"no {target}-gcc to build s6 for {arch}: apt-get install gcc-{target}")
    overlay_bundle = _single_bundle(inputs, "just-containers", "s6-overlay")
    sources = {pkg.name: _single_bundle(inputs, pkg.owner, pkg.name) for pkg in PACKAGES}
    key = _cache_key(version, overlay_bundle, sources, target)
    tree = CACHE / "s6-overlay" / key / "rootfs"
    if (tree / "init").is_file():
        return tree

    workdir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="s6-overlay-", dir=workdir))
    try:
        overlay_src = _clone(overlay_bundle, scratch / "src" / "s6-overlay")
        pinned = _read_make_vars(overlay_src / "conf" / "versions")
        built_version = _read_make_vars(overlay_src / "conf" / "defaults.mk").get("VERSION")
        if built_version != version:
            raise S6BuildError(
                f"{overlay_bundle}: s6-overlay source is version {built_version}, the pin says {version}"
            )
        staging = scratch / "staging"
        for pkg in PACKAGES:
            src = _clone(sources[pkg.name], scratch / "src" / pkg.name)
            _check_version(src, pkg, pinned[pkg.version_key], sources[pkg.name])
            _build(src, pkg, staging, target)
        result = scratch / "rootfs"
        _arch_part(staging, result)
        _noarch_part(overlay_src / "layout" / "rootfs-overlay", result, version)
        _usr_bin_links(result)
        tree.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tree, ignore_errors=True)
        shutil.move(result, tree)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return tree


def _single_bundle(inputs: Path, owner: str, repo: str) -> Path:
    folder = inputs / "git" / owner / repo
    bundles = sorted(folder.glob("*.bundle"))
    if len(bundles) != 1:
        raise S6BuildError(f"{folder}: expected exactly one <commit>.bundle, found {len(bundles)}")
    return bundles[0]


def _cache_key(version: str, overlay: Path, sources: dict[str, Path], target: str | None = None) -> str:
    gcc = f"{target}-gcc" if target else "gcc"
    compiler = subprocess.run([gcc, "-dumpfullversion", "-dumpmachine"], capture_output=True, text=True)
    parts: dict[str, object] = {
        "recipe": RECIPE,
        "version": version,
        "s6-overlay": overlay.stem,
        "sources": {name: path.stem for name, path in sources.items()},
        "gcc": compiler.stdout.split(),
        "machine": platform.machine(),
    }
    if target:  # a host build keeps the key it always had
        parts["target"] = target
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(
        argv, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise S6BuildError(f"{' '.join(argv)} in {cwd} exited {proc.returncode}:\n{tail}")


def _clone(bundle: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    _run(["git", "clone", "--quiet", str(bundle), str(dest)], cwd=dest.parent)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=dest, capture_output=True, text=True).stdout
    if head.strip() != bundle.stem:
        raise S6BuildError(f"{bundle}: HEAD is {head.strip()}, not the commit the file name says")
    return dest


def _read_make_vars(path: Path) -> dict[str, str]:
    """``NAME=value`` / ``NAME := value`` lines of a file that make and sh both read."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Z0-9_]+)\s*:?=\s*(\S+)\s*$", line)
        if match:
            found[match[1]] = match[2]
    return found


def _check_version(src: Path, pkg: Package, pinned: str, bundle: Path) -> None:
    """The mirrored commit must carry the version s6-overlay's conf/versions names (a tag ``vX``)."""
    info = _read_package_info(src / "package" / "info")
    if f"v{info.get('version')}" != pinned:
        raise S6BuildError(
            f"{bundle}: {pkg.name} {info.get('version')} is not the {pinned} that s6-overlay's "
            f"conf/versions names ({pkg.version_key}); mirror the commit of tag {pinned}"
        )


def _read_package_info(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {name.strip(): value.strip() for name, value in pairs}


def _build(src: Path, pkg: Package, staging: Path, target: str | None = None) -> None:
    """configure, make, strip, install into ``staging`` as mk/skaware.mk does (slashpackage).

    With ``target``, cross-compiled: skarnet's configure then uses ``<target>-gcc`` and its tools,
    and the sysdeps it cannot probe are those s6-overlay passes (skalibs' options above).
    """
    env = {"DESTDIR": str(staging)}
    cross = [f"--target={target}"] if target else []
    _run(["./configure", "--enable-slashpackage", "--disable-shared", *cross, *pkg.options], cwd=src, env=env)
    jobs = str(os.cpu_count() or 1)
    _run(["make", f"-j{jobs}"], cwd=src)
    _run(["make", "strip"], cwd=src)
    _run(["make", "-j1", "-L", "install", "update", "global-links", f"DESTDIR={staging}"], cwd=src)


def _arch_part(staging: Path, root: Path) -> None:
    """The <arch> tarball: /package and /command of the staging tree, without headers and libraries."""
    root.mkdir(parents=True)
    for part in ("package", "command"):
        shutil.copytree(staging / part, root / part, symlinks=True)
    for dev in [*root.glob("package/*/*/include"), *root.glob("package/*/*/library")]:
        if dev.is_dir() and not dev.is_symlink():
            shutil.rmtree(dev)


def _noarch_part(layout: Path, root: Path, version: str) -> None:
    """The noarch tarball: layout/rootfs-overlay with @VERSION@ and @SHEBANGDIR@ filled in."""
    staged = root.parent / "noarch"
    shutil.copytree(layout, staged, symlinks=True)
    for path in sorted(staged.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.name == ".empty" and path.is_file():
            path.unlink()
        elif "@VERSION@" in path.name:
            path.rename(path.with_name(path.name.replace("@VERSION@", version)))
    for path in staged.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_size > 0:
            text = path.read_bytes()
            filled = text.replace(b"@SHEBANGDIR@", SHEBANGDIR.encode()).replace(
                b"@VERSION@", version.encode()
            )
            if filled != text:
                path.write_bytes(filled)
    (staged / "package" / "admin" / "s6-overlay").symlink_to(f"s6-overlay-{version}")
    # Unpacked after the arch tarball in the same root: merge directory by directory.
    shutil.copytree(staged, root, symlinks=True, dirs_exist_ok=True)
    shutil.rmtree(staged)


def _usr_bin_links(root: Path) -> None:
    """The two symlinks tarballs: /usr/bin/<name> -> ../../command/<name> for every command."""
    usr_bin = root / "usr" / "bin"
    usr_bin.mkdir(parents=True)
    for command in sorted((root / "command").iterdir()):
        (usr_bin / command.name).symlink_to(f"../../command/{command.name}")


def s6_host_tools(workdir: Path, inputs: Path) -> Path:
    """s6 and s6-rc for this host, built from the mirror ``inputs`` into a prefix; its ``bin``.

    The s6-overlay tree above is slashpackage (its programs find each other under /package), so it
    runs only as an image's root. The readiness tests run s6-svscan and s6-rc on the host itself
    (HELIOS_S6_BIN), which needs a plain prefix build, cached like the tree.
    """
    sources = {pkg.name: _single_bundle(inputs, pkg.owner, pkg.name) for pkg in HOST_TOOLS}
    overlay_bundle = _single_bundle(inputs, "just-containers", "s6-overlay")
    prefix = CACHE / "s6-host-tools" / _cache_key("host-tools", overlay_bundle, sources)
    if (prefix / "bin" / "s6-clock").is_file():
        return prefix / "bin"
    workdir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="s6-host-tools-", dir=workdir))
    # Installed straight into the cache: s6 compiles its libexec path in (s6-ftrigrd), so the
    # prefix cannot be moved afterwards. A failed build leaves no half-made prefix behind.
    shutil.rmtree(prefix, ignore_errors=True)
    try:
        for pkg in HOST_TOOLS:
            src = _clone(sources[pkg.name], scratch / "src" / pkg.name)
            _run(["./configure", f"--prefix={prefix}", "--disable-shared", *_host_paths(prefix)], cwd=src)
            _run(["make", f"-j{os.cpu_count() or 1}"], cwd=src)
            _run(["make", "install"], cwd=src)
    except BaseException:
        shutil.rmtree(prefix, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return prefix / "bin"


def _host_paths(prefix: Path) -> list[str]:
    """Where each package finds the headers and static libraries of those built before it."""
    libs = [
        f"--with-lib={prefix}/lib",
        *(f"--with-lib={prefix}/lib/{name}" for name in ("skalibs", "execline", "s6")),
    ]
    return [f"--with-sysdeps={prefix}/lib/skalibs/sysdeps", f"--with-include={prefix}/include", *libs]


if __name__ == "__main__":
    import sys

    # python -m tests.rehearsal.s6 INPUTS: print the bin directory of the host tools (for CI).
    print(s6_host_tools(CACHE / "work" / "s6-host-tools", Path(sys.argv[1])))
