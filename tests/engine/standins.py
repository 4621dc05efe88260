"""Stand-ins for an engine that cannot reach upstream hosts: base images in a local registry, a mirror.

Run as ``python -m tests.engine.standins DEST --registry HOST:PORT`` (root, Debian, the shared input
mirror beside the checkout as for the rehearsal). It makes, for the Debian distro and the host's
platform, what an air-gapped engine needs and what this machine can make itself:

- ``DEST/tree``: a copy of this checkout whose pins name the stand-ins' checksums (the Node.js
  tarball, the Cascadia Code zip and s6-overlay's tarballs cannot be had with their pinned bytes
  here) and whose Debian distro builds without VirtualGL (its repository is unreachable);
- ``DEST/mirror``: an input mirror holding every pinned input of that build (docs/inputs.md);
- in the registry: ``library/debian:13.2`` and ``library/node:<tag>``, made from debootstrap root
  filesystems as the rehearsal makes them; an engine whose ``docker.io`` mirror is that registry
  pulls them by their usual names;
- ``DEST/image-rewrites``: the ``--image-rewrite`` rule for the Node image, which the build names by
  a digest no local image can have;
- ``DEST/report.md``: every substitution and why.

tests/engine/conftest.py reads DEST from HELIOS_ENGINE_STANDINS. Nothing here is needed where the
engine reaches Docker Hub and GitHub.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

from pipeline.imagerewrite import parse
from pipeline.mirror import s6_inputs
from pipeline.plan import Planner
from pipeline.tree import LocalTree
from pipeline.versions import VERSIONS_FILE, load_versions
from tests.ociimage import ImageConfig, PlatformImage, write_layout
from tests.rehearsal.assemble import (
    DISTRO,
    DISTRO_SUITE,
    WEB_PACKAGES,
    WEB_SUITE,
    debian_inputs,
    install_node,
)
from tests.rehearsal.chroot import (
    IMAGE_PATH,
    RootfsSpec,
    host_apt_sources,
    host_arch,
    make_rootfs,
    remove_tree,
)
from tests.rehearsal.inputs import sha256_of
from tests.rehearsal.results import Results
from tests.rehearsal.s6 import s6_overlay_tree

REPO = Path(__file__).resolve().parents[2]
REWRITES = "image-rewrites"


def prepare(dest: Path, registry: str, shared_inputs: Path) -> None:
    """Everything the module docstring lists, for the Debian distro on the host's platform."""
    arch = host_arch()
    platform = f"linux/{arch}"
    versions = load_versions()
    results = Results(dest / "results")
    results.logs.mkdir(parents=True, exist_ok=True)
    bare = Planner(LocalTree(REPO), versions).plan(DISTRO, platform)
    apt_sources = host_apt_sources()
    inputs = debian_inputs(bare, versions, shared_inputs, apt_sources, results)
    pins: dict[str, str] = {}  # pinned sha256 -> the stand-in's
    for overrides in inputs.env_overrides.values():
        for variable, actual in overrides.items():
            section = variable.removesuffix("_SHA256").lower()
            pinned = versions[section]["sha256"]
            pins[pinned[arch] if isinstance(pinned, dict) else pinned] = actual
    pins |= _s6_stand_ins(inputs.mirror, versions, arch, shared_inputs, dest / "s6", results)

    mirror = dest / "mirror"
    remove_tree(mirror)
    shutil.copytree(inputs.mirror, mirror, copy_function=_link_or_copy)
    _copy_tree(dest / "tree", pins)
    results.substitute(
        "VirtualGL (step 9)",
        "its apt repository is unreachable: virtualgl = false in the tree's debian distro.toml",
    )

    web_image = bare.web_image
    node = parse(web_image)
    node_repo = f"{registry}/{node.name.removeprefix('docker.io/')}"
    node_tag = node.tag
    trixie = RootfsSpec(DISTRO_SUITE, arch, apt_sources, keyring=str(inputs.keyring))
    bookworm = RootfsSpec(WEB_SUITE, arch, apt_sources, include=WEB_PACKAGES)
    work = dest / "rootfs"
    make_rootfs(trixie, work / "debian", results.logs / "rootfs-debian.log")
    _push(
        work / "debian",
        arch,
        ImageConfig(env={"PATH": IMAGE_PATH}, cmd=("bash",)),
        f"{registry}/library/debian:13.2",
    )
    make_rootfs(bookworm, work / "node", results.logs / "rootfs-node.log")
    node_env = install_node(work / "node", mirror, bare, inputs.env_overrides)
    node_config = ImageConfig(env={"PATH": IMAGE_PATH, **node_env}, cmd=("node",))
    _push(work / "node", arch, node_config, f"{node_repo}:{node_tag}")
    remove_tree(work)
    (dest / REWRITES).write_text(f"{web_image}={node_repo}:{node_tag}\n")
    results.substitute(
        f"base image {bare.base}",
        f"a debootstrap {DISTRO_SUITE} minbase rootfs as the rehearsal makes it, pushed as {registry}/library/debian:13.2",
    )
    results.substitute(
        f"Node image {web_image}",
        f"a debootstrap {WEB_SUITE} rootfs with {', '.join(WEB_PACKAGES)} and the Node.js stand-in in /usr/local, "
        f"pushed as {node_repo}:{node_tag} (rewritten to by {REWRITES})",
    )
    results.write()
    shutil.copy(results.dir / "report.md", dest / "report.md")


def _s6_stand_ins(
    mirror: Path, versions: dict, arch: str, shared: Path, workdir: Path, results: Results
) -> dict[str, str]:
    """s6-overlay built from source as one tarball for the noarch asset, empty ones for the rest."""
    tree = s6_overlay_tree(workdir, shared)
    pins: dict[str, str] = {}
    empty = workdir / "empty"
    empty.mkdir(parents=True, exist_ok=True)
    for asset in s6_inputs(versions, arch):
        source = tree if asset.name == "s6-overlay-noarch.tar.xz" else empty
        tarball = workdir / asset.name
        subprocess.run(
            [
                "tar",
                "--sort=name",
                "--mtime=@0",
                "--numeric-owner",
                "-C",
                str(source),
                "-cJf",
                str(tarball),
                ".",
            ],
            check=True,
        )
        actual = sha256_of(tarball)
        shutil.move(tarball, mirror / "sha256" / actual)
        pins[asset.pin] = actual
    results.substitute(
        "s6-overlay release tarballs (step 11)",
        "built from the pinned skarnet and s6-overlay sources (tests/rehearsal/s6.py): the whole tree as the "
        "noarch tarball, the other three empty",
    )
    return pins


def _copy_tree(dest: Path, pins: dict[str, str]) -> None:
    """The checkout's tracked and new files, with ``pins`` swapped in versions.toml and no VirtualGL."""
    remove_tree(dest)
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, check=True, capture_output=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file() or source.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name, follow_symlinks=False)
    versions = dest / VERSIONS_FILE.relative_to(REPO)
    text = versions.read_text()
    for pinned, actual in pins.items():
        if pinned not in text:
            raise SystemExit(f"standins: {VERSIONS_FILE.name} has no pin {pinned}")
        text = text.replace(pinned, actual)
    versions.write_text(text)
    distro = dest / "distros/debian/distro.toml"
    body = distro.read_text()
    body = re.sub(r"(?m)^virtualgl\s*=.*\n", "", body)
    distro.write_text(body + "virtualgl = false\n")


def _push(rootfs: Path, arch: str, config: ImageConfig, reference: str) -> None:
    layout = rootfs.with_name(rootfs.name + ".oci")
    write_layout(layout, [PlatformImage(rootfs, arch, config)])
    subprocess.run(
        ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}", f"docker://{reference}"],
        check=True,
    )
    shutil.rmtree(layout)
    print(f"standins: pushed {reference}", flush=True)


def _link_or_copy(source: str, dest: str) -> None:
    try:
        Path(dest).hardlink_to(source)
    except OSError:
        shutil.copy2(source, dest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--registry", required=True, help="HOST:PORT of a plain-HTTP registry")
    parser.add_argument("--inputs", type=Path, default=REPO.parent / "shared" / "inputs")
    args = parser.parse_args()
    if not (args.inputs / "git").is_dir():
        sys.exit(f"standins: no input mirror at {args.inputs}: pass --inputs")
    prepare(args.dest.resolve(), args.registry, args.inputs.resolve())


if __name__ == "__main__":
    main()
