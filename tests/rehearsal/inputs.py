"""The rehearsal's input mirror: every pinned input the Debian build reads, in the mirror layout.

- git sources: the bundles of the shared input mirror (``git/<owner>/<repo>/<commit>.bundle``);
- libjpeg-turbo, the X server and libwebp: Debian's ``.orig.tar.gz`` of the pinned upstream version,
  fetched with ``apt-get source --download-only``; they must have exactly the pinned sha256 (Debian
  packages the upstream release archive), else the rehearsal stops: no pin is weakened for them;
- libcpuid (read where a step-2 drop-in builds it: arm64): its pinned tag archive is ``git archive``
  of the tag's commit, gzipped with ``gzip -n``, so it is made from the input mirror's bundle
  ``git/anrieff/libcpuid/<commit>.bundle`` and must have the pinned sha256; a mirror without that
  bundle gets Debian's repacked ``.orig`` tarball instead, as a named substitute (LIBCPUID_VERSION and
  LIBCPUID_SHA256 then are the substitute's);
- substitutes for what only its project's host serves, each reported with why:
  the Node.js release tarball (the npm registry's ``node-linux-<arch>`` package of the pinned
  version, with the npm that release bundles, repacked in the official layout) and the Cascadia Code
  zip (Debian's ``fonts-cascadia-code`` of the pinned version, in the zip's layout).

Substitutes have other bytes than the pinned ones, so the steps that read them get the substitute's
sha256 instead of the pin (:attr:`Inputs.env_overrides`); nothing else is overridden.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.plan import Plan
from tests.rehearsal.chroot import CACHE, AptSources, ChrootError

MIRROR = CACHE / "inputs"
SUBSTITUTES = CACHE / "substitutes"
NODE_ARCH = {"amd64": "x64", "arm64": "arm64"}
# Upstream source tarballs that Debian's archive carries byte for byte: versions.toml section ->
# Debian source package, and the suites searched for the pinned upstream version.
DEBIAN_SOURCES = {"libjpeg_turbo": "libjpeg-turbo", "xorg": "xorg-server", "libwebp": "libwebp"}
LIBCPUID_BUNDLES = Path("git/anrieff/libcpuid")
"""Where the input mirror keeps the libcpuid source whose ``git archive`` is the pinned tarball."""
SOURCE_SUITES = ("{suite}", "unstable")
SUBSTITUTE_RECIPE = 1
"""Bump when a substitute's recipe changes, so cached substitutes are rebuilt."""

Reporter = Callable[[str, str], None]


@dataclass
class Inputs:
    """The mirror folder, and the environment the steps need because of substitutes."""

    mirror: Path
    keyring: Path
    """The target suite's own archive keyring (its Release may be signed by keys newer than the host's)."""
    env_overrides: dict[int, dict[str, str]] = field(default_factory=dict)
    """Step number -> variables replaced for that step (substitutes' checksums only)."""

    def replace_sum(
        self,
        section: str,
        actual: str,
        pinned: str,
        env_of: Callable[[str], list[int]],
        substitute: Reporter,
        name: str,
        why: str,
    ) -> None:
        """A substitute for ``section``'s file: every step reading it gets the substitute's sum."""
        variable = f"{section.upper()}_SHA256"
        for step in env_of(section):
            self.env_overrides.setdefault(step, {})[variable] = actual
        substitute(name, f"{why}; {variable} for it is {actual}, not the pinned {pinned}")


def steps_reading(plan: Plan) -> Callable[[str], list[int]]:
    """section -> the steps of ``plan`` that read it: those its row declares, and those the
    distro's ``inputs`` give it (step 2's [libcpuid] on the Debian family), as the env shows."""
    return lambda section: [
        p.step.number for p in plan.steps if any(name.startswith(f"{section.upper()}_") for name in p.env)
    ]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare_inputs(
    versions: Mapping[str, Any],
    *,
    shared: Path,
    sources: AptSources,
    suite: str,
    arch: str,
    xorg_version: str,
    env_of: Callable[[str], list[int]],
    substitute: Reporter,
    log: Path,
) -> Inputs:
    """Fill the rehearsal mirror for one build; ``env_of(section)`` names the steps reading a section."""
    (MIRROR / "sha256").mkdir(parents=True, exist_ok=True)
    shutil.copytree(shared / "git", MIRROR / "git", dirs_exist_ok=True)
    apt = PrivateApt(CACHE / "apt-sources", sources, suite, arch, log)
    pins = {
        "libjpeg_turbo": (versions["libjpeg_turbo"]["version"], versions["libjpeg_turbo"]["sha256"]),
        "xorg": (xorg_version, versions["xorg"]["sha256"][xorg_version]),
        "libwebp": (versions["libwebp"]["version"], versions["libwebp"]["sha256"]),
    }
    for section, (version, sha256) in pins.items():
        if (section in ("libjpeg_turbo", "xorg") or env_of(section)) and not _has(sha256):
            apt.orig_tarball(DEBIAN_SOURCES[section], version, sha256, MIRROR / "sha256" / sha256)
    inputs = Inputs(MIRROR, apt.keyring(CACHE / "keyrings" / suite))
    if env_of("libcpuid"):
        libcpuid_tarball(inputs, versions["libcpuid"], shared, apt, env_of, substitute)

    node = versions["nodejs"]
    published = published_node(node["version"], arch, log)
    why = ""
    if published != node["version"]:
        # The registry's node-linux-<arch> packages skip some releases (arm64 lacks 22.22.2).
        for step in env_of("nodejs"):
            inputs.env_overrides.setdefault(step, {})["NODEJS_VERSION"] = published
        why = f"; the registry has no {node['version']} for {arch}, so NODEJS_VERSION is {published}"
    inputs.replace_sum(
        "nodejs", node_tarball(published, arch, log), node["sha256"][arch], env_of, substitute,
        f"Node.js {node['version']} release tarball (node-v{node['version']}-linux-{NODE_ARCH[arch]}.tar.xz)",
        f"its host is not reachable here: repacked from the npm registry's node-linux-{NODE_ARCH[arch]}"
        f"@{published} (bin/node, include/node) and the npm it bundles, in the release layout{why}",
    )  # fmt: skip
    font = versions["cascadia_code"]
    inputs.replace_sum(
        "cascadia_code", cascadia_zip(apt, font["version"], log), font["sha256"], env_of, substitute,
        f"Cascadia Code {font['version']} release zip",
        f"its host is not reachable here: Debian's fonts-cascadia-code {font['version']} (the variable "
        "TrueType faces) placed at the zip's otf/static/*.otf layout",
    )  # fmt: skip
    return inputs


def libcpuid_tarball(
    inputs: Inputs,
    pin: Mapping[str, str],
    shared: Path,
    apt: PrivateApt,
    env_of: Callable[[str], list[int]],
    substitute: Reporter,
) -> None:
    """libcpuid's pinned tag archive in the mirror, made from the shared mirror's bundle; else a substitute."""
    if _has(pin["sha256"]):
        return
    bundles = sorted((shared / LIBCPUID_BUNDLES).glob("*.bundle"))
    if bundles:
        tag_archive(
            bundles[0], f"libcpuid-{pin['version']}", pin["sha256"], MIRROR / "sha256" / pin["sha256"]
        )
        return
    orig, version = apt.newest_orig("libcpuid", MIRROR / "sha256")
    for step in env_of("libcpuid"):
        inputs.env_overrides.setdefault(step, {})["LIBCPUID_VERSION"] = version
    inputs.replace_sum(
        "libcpuid", sha256_of(orig), pin["sha256"], env_of, substitute,
        f"libcpuid {pin['version']} tag archive",
        f"the input mirror has no {LIBCPUID_BUNDLES}/<commit>.bundle to make it from: Debian's repacked "
        f".orig tarball of libcpuid {version}, so LIBCPUID_VERSION is {version}",
    )  # fmt: skip


def tag_archive(bundle: Path, prefix: str, sha256: str, dest: Path) -> None:
    """``git archive`` of the bundle's HEAD under ``prefix/``, gzipped as a forge gzips a tag archive.

    The result must have the pinned ``sha256``, or nothing is written.
    """
    with tempfile.TemporaryDirectory() as work:
        clone = Path(work) / "src"
        subprocess.run(["git", "clone", "-q", "--no-checkout", str(bundle), str(clone)], check=True)
        partial = dest.with_suffix(".partial")
        with partial.open("wb") as out:
            tar = subprocess.Popen(
                ["git", "-C", str(clone), "archive", "--format=tar", f"--prefix={prefix}/", "HEAD"],
                stdout=subprocess.PIPE,
            )
            subprocess.run(["gzip", "-n"], stdin=tar.stdout, stdout=out, check=True)
            if tar.wait() != 0:
                raise ChrootError(f"git archive of {bundle} failed")
    actual = sha256_of(partial)
    if actual != sha256:
        partial.unlink()
        raise ChrootError(
            f"git archive of {bundle} has sha256 {actual}, but pipeline/versions.toml pins {sha256}: "
            "the bundle is not the pinned tag's commit"
        )
    partial.rename(dest)


def _has(sha256: str) -> bool:
    entry = MIRROR / "sha256" / sha256
    if entry.is_file() and sha256_of(entry) == sha256:
        return True
    entry.unlink(missing_ok=True)
    return False


class PrivateApt:
    """apt-get with its own sources and state (the host's archive, other suites), leaving /etc alone."""

    def __init__(self, root: Path, sources: AptSources, suite: str, arch: str, log: Path) -> None:
        self.root, self.log, self.arch = root, log, arch
        suites = [s.format(suite=suite) for s in SOURCE_SUITES]
        (root / "lists/partial").mkdir(parents=True, exist_ok=True)
        (root / "cache/archives/partial").mkdir(parents=True, exist_ok=True)
        signed = f"Signed-By: {sources.signed_by}\n"
        (root / "sources.d").mkdir(exist_ok=True)
        (root / "sources.d/debian.sources").write_text(
            f"Types: deb deb-src\nURIs: {sources.archive}\nSuites: {suite}\nComponents: main\n{signed}\n"
            f"Types: deb-src\nURIs: {sources.archive}\nSuites: {' '.join(suites[1:])}\nComponents: main\n{signed}"
        )
        self.options = [
            "-o", "Dir::Etc::SourceList=/dev/null", "-o", f"Dir::Etc::SourceParts={root}/sources.d",
            "-o", f"Dir::State::Lists={root}/lists", "-o", f"Dir::Cache={root}/cache",
            "-o", "Dir::State::status=/dev/null", "-o", f"APT::Architecture={arch}",
            "-o", "APT::Sandbox::User=root",
        ]  # fmt: skip
        self._updated = False

    def run(self, *args: str, cwd: Path | None = None, tool: str = "apt-get") -> str:
        if not self._updated:
            self._updated = True
            self.run("update")
        result = subprocess.run(
            [tool, *self.options, *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        with self.log.open("a") as out:
            out.write(f"$ {tool} {' '.join(args)}\n{result.stdout}{result.stderr}")
        if result.returncode != 0:
            raise ChrootError(f"{tool} {' '.join(args)} failed: {result.stderr.strip()[-800:]}")
        return result.stdout

    def orig_tarball(self, package: str, version: str, sha256: str, dest: Path) -> None:
        """Debian's <package>_<version>.orig.tar.gz, verified against the pin, copied to ``dest``."""
        name = f"{package}_{version}.orig.tar.gz"
        listing = self.run("showsrc", package, tool="apt-cache")
        candidates = [
            m.group(1)
            for stanza in listing.split("\n\n")
            if f" {name}" in stanza and (m := re.search(r"^Version: (\S+)", stanza, re.MULTILINE))
        ]
        if not candidates:
            raise ChrootError(
                f"no Debian source of {package} in the searched suites ships {name}: the pinned "
                f"{package} {version} cannot be had from Debian's archive"
            )
        workdir = self.root / "source" / package
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        failures = []
        for candidate in candidates:  # any Debian revision of the upstream version has the tarball
            try:
                self.run("source", "--download-only", f"{package}={candidate}", cwd=workdir)
                break
            except ChrootError as error:
                failures.append(str(error))
        else:
            raise ChrootError(f"no Debian source of {package} could be downloaded: {'; '.join(failures)}")
        actual = sha256_of(workdir / name)
        if actual != sha256:
            raise ChrootError(
                f"Debian's {name} has sha256 {actual}, but pipeline/versions.toml pins {sha256}"
            )
        shutil.copyfile(workdir / name, dest)
        shutil.rmtree(workdir)

    def newest_orig(self, package: str, dest: Path) -> tuple[Path, str]:
        """The .orig tarball of ``package``'s newest source that downloads, checked against the
        archive's signed Sources, in ``dest`` under its sha256; with its upstream version."""
        listing = self.run("showsrc", package, tool="apt-cache")
        stanzas = [stanza for stanza in listing.split("\n\n") if re.search(r"^Version: ", stanza, re.M)]
        versions = sorted(
            {re.search(r"^Version: (\S+)", stanza, re.M).group(1) for stanza in stanzas},  # type: ignore[union-attr]
            key=functools.cmp_to_key(_debian_version_compare),
            reverse=True,
        )
        failures = []
        for version in versions:
            uris = self.run("source", "--print-uris", f"{package}={version}", cwd=dest)
            for line in uris.splitlines():
                match = re.match(r"^'(\S+)' (\S+\.orig\.tar\.\w+) \d+ SHA256:([0-9a-f]{64})$", line)
                if match is None:
                    continue
                url, name, sha256 = match.groups()
                target = dest / sha256
                if not (target.is_file() and sha256_of(target) == sha256):
                    fetched = subprocess.run(
                        ["curl", "-fsSL", "-o", str(target), url], capture_output=True, text=True
                    )
                    if fetched.returncode != 0 or sha256_of(target) != sha256:
                        target.unlink(missing_ok=True)
                        failures.append(f"{name}: {fetched.stderr.strip() or 'sha256 mismatch'}")
                        continue
                upstream = version.split(":")[-1].rsplit("-", 1)[0].split("+")[0]
                return target, upstream
        raise ChrootError(
            f"no .orig tarball of {package} could be downloaded: {'; '.join(failures) or 'none listed'}"
        )

    def keyring(self, dest: Path) -> Path:
        """The suite's debian-archive-keyring, taken from its package (which apt authenticated)."""
        keyring = dest / "debian-archive-keyring.gpg"
        if keyring.is_file():
            return keyring
        work = dest / "work"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        self.run("download", "debian-archive-keyring", cwd=work)
        deb = next(work.glob("debian-archive-keyring_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "root")], check=True)
        found = [
            path
            for path in sorted((work / "root/usr/share/keyrings").glob("debian-archive-keyring.*"))
            if path.is_file() and not path.is_symlink()
        ]
        if not found:
            raise ChrootError(f"{deb.name} holds no /usr/share/keyrings/debian-archive-keyring.*")
        shutil.copyfile(found[0], keyring)
        shutil.rmtree(work)
        return keyring

    def download(self, package: str, version: str, dest: Path) -> Path:
        """The binary package ``package`` at upstream ``version`` (any Debian revision) into ``dest``."""
        policy = self.run("madison", package, tool="apt-cache")
        versions = [line.split("|")[1].strip() for line in policy.splitlines() if "|" in line]
        chosen = next((v for v in versions if v.split(":")[-1].split("-")[0] == version), None)
        if chosen is None:
            raise ChrootError(f"Debian's archive has no {package} {version} (it has: {', '.join(versions)})")
        dest.mkdir(parents=True, exist_ok=True)
        self.run("download", f"{package}={chosen}", cwd=dest)
        return next(dest.glob(f"{package}_*.deb"))


def _debian_version_compare(a: str, b: str) -> int:
    """dpkg's order of two version strings (-1, 0, 1)."""
    if subprocess.run(["dpkg", "--compare-versions", a, "eq", b]).returncode == 0:
        return 0
    return -1 if subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0 else 1


def _cached(key: Mapping[str, Any], build: Callable[[Path], None]) -> str:
    """Build a substitute once per ``key`` into the mirror; its sha256."""
    digest = hashlib.sha256(
        json.dumps({**key, "recipe": SUBSTITUTE_RECIPE}, sort_keys=True).encode()
    ).hexdigest()
    record = SUBSTITUTES / f"{digest[:16]}.sha256"
    if record.is_file() and _has(record.read_text().strip()):
        return record.read_text().strip()
    workdir = SUBSTITUTES / digest[:16]
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    artifact = workdir / "artifact"
    build(artifact)
    sha256 = sha256_of(artifact)
    shutil.move(artifact, MIRROR / "sha256" / sha256)
    shutil.rmtree(workdir)
    record.write_text(sha256 + "\n")
    return sha256


def published_node(version: str, arch: str, log: Path) -> str:
    """``version`` if the npm registry has node-linux-<arch> at it, else the nearest one of its major
    (the newest below it, or failing that the oldest above)."""
    name = f"node-linux-{NODE_ARCH[arch]}"
    result = subprocess.run(
        ["npm", "view", name, "versions", "--json"], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    with log.open("a") as out:
        out.write(f"$ npm view {name} versions --json\n{result.stderr}")
    if result.returncode != 0:
        raise ChrootError(f"npm view {name} failed: {result.stderr.strip()[-800:]}")
    available = json.loads(result.stdout)
    if version in available:
        return version

    def key(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in text.split("."))

    major = [
        v for v in available if re.fullmatch(r"\d+\.\d+\.\d+", v) and v.split(".")[0] == version.split(".")[0]
    ]
    below = sorted((v for v in major if key(v) < key(version)), key=key)
    above = sorted((v for v in major if key(v) > key(version)), key=key)
    if not below and not above:
        raise ChrootError(f"the npm registry has no {name} of Node.js {version.split('.')[0]}")
    return below[-1] if below else above[0]


def node_tarball(version: str, arch: str, log: Path) -> str:
    """node-v<version>-linux-<arch>.tar.xz rebuilt from the npm registry; its sha256."""
    node_arch = NODE_ARCH[arch]

    def build(artifact: Path) -> None:
        work = artifact.parent
        _npm_pack(f"node-linux-{node_arch}@{version}", work, log)
        top = work / f"node-v{version}-linux-{node_arch}"
        _untar(next(work.glob(f"node-linux-{node_arch}-*.tgz")), top)
        changelog = (top / "CHANGELOG.md").read_text()
        bundled = re.search(r"upgrade npm to (\d+\.\d+\.\d+)", changelog)
        if bundled is None:
            raise ChrootError(f"the CHANGELOG of node-linux-{node_arch}@{version} names no bundled npm")
        _npm_pack(f"npm@{bundled.group(1)}", work, log)
        _untar(next(work.glob("npm-*.tgz")), top / "lib/node_modules/npm")
        (top / "package.json").unlink()
        for tool in ("npm", "npx"):
            (top / "bin" / tool).symlink_to(f"../lib/node_modules/npm/bin/{tool}-cli.js")
        _reproducible_tar(top, artifact)

    return _cached({"what": "node", "version": version, "arch": arch}, build)


def _npm_pack(spec: str, dest: Path, log: Path) -> None:
    result = subprocess.run(
        ["npm", "pack", spec, "--pack-destination", str(dest), "--silent"],
        cwd=dest, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    with log.open("a") as out:
        out.write(f"$ npm pack {spec}\n{result.stdout}{result.stderr}")
    if result.returncode != 0:
        raise ChrootError(f"npm pack {spec} failed: {result.stderr.strip()[-800:]}")


def _untar(tgz: Path, dest: Path) -> None:
    """An npm package tarball's package/ folder as ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tgz) as archive:
        archive.extractall(dest.parent / ".unpack", filter="tar")
    for entry in (dest.parent / ".unpack/package").iterdir():
        shutil.move(entry, dest / entry.name)
    shutil.rmtree(dest.parent / ".unpack")
    tgz.unlink()


def _reproducible_tar(top: Path, artifact: Path) -> None:
    tar = ["tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner",
           "-C", str(top.parent), "-cf", "-", top.name]  # fmt: skip
    with artifact.open("wb") as out:
        packer = subprocess.Popen(tar, stdout=subprocess.PIPE)
        subprocess.run(["xz", "-1", "-T1"], stdin=packer.stdout, stdout=out, check=True)
        if packer.wait() != 0:
            raise ChrootError(f"tar of {top} failed")


def cascadia_zip(apt: PrivateApt, version: str, log: Path) -> str:
    """A Cascadia Code release zip rebuilt from Debian's fonts-cascadia-code; its sha256."""

    def build(artifact: Path) -> None:
        work = artifact.parent
        deb = apt.download("fonts-cascadia-code", version, work / "deb")
        subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "root")], check=True)
        faces = sorted((work / "root/usr/share/fonts").rglob("*.[ot]tf"))
        if not faces:
            raise ChrootError(f"{deb.name} holds no font files")
        with zipfile.ZipFile(artifact, "w", zipfile.ZIP_DEFLATED) as archive:
            for face in faces:
                info = zipfile.ZipInfo(f"otf/static/{face.stem}.otf", date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                archive.writestr(info, face.read_bytes(), zipfile.ZIP_DEFLATED)

    return _cached({"what": "cascadia", "version": version}, build)
