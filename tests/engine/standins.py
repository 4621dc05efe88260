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
- with ``--tool-binaries DIR`` (syft, oras and cosign built from the sources of their pinned
  versions), images of the publishing tools laid out as theirs are (tests/engine/test_sbom_engine.py),
  and their rewrite rules;
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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.imagerewrite import parse
from pipeline.mirror.inputs import S6_ASSETS, S6_SECTION, s6_inputs
from pipeline.plan import Planner
from pipeline.sbom import SYFT_BINARY
from pipeline.signing import COSIGN_BINARY
from pipeline.toolpins import TOOLS, tool_image
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


def prepare(dest: Path, registry: str, shared_inputs: Path, tool_binaries: Path | None = None) -> None:
    """Everything the module docstring lists, for the Debian distro on the host's platform."""
    arch = host_arch()
    platform = f"linux/{arch}"
    versions = load_versions()
    results = Results(dest / "results")
    results.logs.mkdir(parents=True, exist_ok=True)
    bare = Planner(LocalTree(REPO), versions).plan(DISTRO, platform)
    apt_sources = host_apt_sources()
    inputs = debian_inputs(bare, versions, shared_inputs, apt_sources, results, results.logs)
    pins: dict[tuple[str, str], str] = {}  # (section, key) of versions.toml -> the stand-in's value
    for overrides in inputs.env_overrides.values():
        for variable, actual in overrides.items():
            pins[_section_key(versions, variable)] = actual
    pins |= _s6_stand_ins(inputs.mirror, versions, arch, shared_inputs, dest / "s6", results)

    mirror = dest / "mirror"
    remove_tree(mirror)
    shutil.copytree(inputs.mirror, mirror, copy_function=_link_or_copy)
    _copy_tree(dest / "tree", pins, arch)
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
    rules = [f"{web_image}={node_repo}:{node_tag}"]
    if tool_binaries is not None:
        rules += _tool_stand_ins(tool_binaries, work / "debian", arch, registry, versions, results)
    remove_tree(work)
    (dest / REWRITES).write_text("".join(f"{rule}\n" for rule in rules))
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


# Where each publishing tool's image keeps its binary, and whether the tool needs a shell beside it.
TOOL_LAYOUT = {
    "syft": (SYFT_BINARY.lstrip("/"), False),  # FROM scratch, /syft, a writable /tmp
    "oras": ("usr/bin/oras", True),  # Alpine based, /bin/oras; signing.py runs sh in it
    "cosign": (COSIGN_BINARY.lstrip("/"), False),  # built with ko: /ko-app/cosign
}


def _tool_stand_ins(
    binaries: Path, debian: Path, arch: str, registry: str, versions: Mapping[str, Any], results: Results
) -> list[str]:
    """Images of syft, oras and cosign with ``binaries`` where the pinned images keep theirs (oras
    on the Debian stand-in, which has the shell signing.py runs); their rewrite rules."""
    rules = []
    for tool in TOOLS:
        path, with_shell = TOOL_LAYOUT[tool]
        root = debian if with_shell else debian.with_name(f"{tool}-image")
        if not with_shell:
            remove_tree(root)
            (root / "tmp").mkdir(parents=True)
            (root / "tmp").chmod(0o1777)
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(binaries / tool, root / path)
        (root / path).chmod(0o755)
        pinned = tool_image(tool, versions)
        reference = parse(pinned)
        standin = f"{registry}/{reference.name.split('/', 1)[1]}:{reference.tag}"
        _push(root, arch, ImageConfig(env={"PATH": IMAGE_PATH}, entrypoint=("/" + path,)), standin)
        rules.append(f"{pinned}={standin}")
        results.substitute(
            f"{tool} image {pinned}",
            f"{binaries / tool} (built from its pinned version's source) at /{path}"
            + (" on the Debian stand-in" if with_shell else " alone")
            + f", pushed as {standin} (rewritten to by {REWRITES})",
        )
    return rules


def missing_tools(binaries: Path) -> list[str]:
    """The publishing tools whose binary ``binaries`` lacks."""
    return [tool for tool in TOOLS if not (binaries / tool).is_file()]


def _s6_stand_ins(
    mirror: Path, versions: Mapping[str, Any], arch: str, shared: Path, workdir: Path, results: Results
) -> dict[tuple[str, str], str]:
    """s6-overlay built from source as one tarball for the noarch asset, empty ones for the rest."""
    tree = s6_overlay_tree(workdir, shared)
    pins: dict[tuple[str, str], str] = {}
    empty = workdir / "empty"
    empty.mkdir(parents=True, exist_ok=True)
    for key, asset in zip(S6_ASSETS.values(), s6_inputs(versions, arch), strict=True):
        source = tree if key == "sha256_noarch" else empty
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
        pins[(S6_SECTION, key)] = actual
    results.substitute(
        "s6-overlay release tarballs (step 11)",
        "built from the pinned skarnet and s6-overlay sources (tests/rehearsal/s6.py): the whole tree as the "
        "noarch tarball, the other three empty",
    )
    return pins


def _section_key(versions: Mapping[str, Any], variable: str) -> tuple[str, str]:
    """The versions.toml section and key a hook variable comes from: LIBJPEG_TURBO_SHA256 ->
    (libjpeg_turbo, sha256); sections may hold underscores, so the longest that fits wins."""
    name = variable.lower()
    section = max((s for s in versions if name.startswith(f"{s}_")), key=len, default=None)
    if section is None:
        raise SystemExit(f"standins: {variable} names no section of {VERSIONS_FILE.name}")
    return section, name[len(section) + 1 :]


def _pinned_text(text: str, section: str, key: str, arch: str, actual: str) -> str:
    """``text`` (versions.toml) with ``[section] key`` (for ``arch`` in a per-arch table) set to ``actual``."""
    header = re.search(rf"(?m)^\[{re.escape(section)}\]\n", text)
    if header is None:
        raise SystemExit(f"standins: {VERSIONS_FILE.name} has no [{section}]")
    end = re.search(r"(?m)^\[", text[header.end() :])
    body = text[header.end() : header.end() + end.start()] if end else text[header.end() :]
    line = re.search(rf"(?m)^{re.escape(key)}\s*=\s*(.*)$", body)
    if line is None:
        raise SystemExit(f"standins: [{section}] has no {key}")
    value = line.group(1)
    if value.startswith("{"):
        new = re.sub(rf'({arch}\s*=\s*)"[^"]*"', rf'\g<1>"{actual}"', value)
    else:
        new = f'"{actual}"'
    body = body[: line.start(1)] + new + body[line.end(1) :]
    return text[: header.end()] + body + (text[header.end() + end.start() :] if end else "")


def _copy_tree(dest: Path, pins: dict[tuple[str, str], str], arch: str) -> None:
    """The checkout's tracked and new files, with ``pins`` set in versions.toml and no VirtualGL."""
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
    for (section, key), actual in pins.items():
        text = _pinned_text(text, section, key, arch, actual)
    versions.write_text(text)
    distro = dest / "distros/debian/distro.toml"
    body = distro.read_text()
    body = re.sub(r"(?m)^virtualgl\s*=.*\n", "", body)
    table = re.search(r"(?m)^\[", body)  # a top-level key goes before the first table
    at = table.start() if table else len(body)
    distro.write_text(body[:at] + "virtualgl = false\n" + body[at:])


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
    parser.add_argument(
        "--tool-binaries",
        type=Path,
        help="a folder with syft, oras and cosign built from their pinned versions' sources: "
        "images of the publishing tools are made from them",
    )
    args = parser.parse_args()
    if not (args.inputs / "git").is_dir():
        sys.exit(f"standins: no input mirror at {args.inputs}: pass --inputs")
    tools = args.tool_binaries.resolve() if args.tool_binaries else None
    if tools is not None and (missing := missing_tools(tools)):
        sys.exit(
            f"standins: --tool-binaries {tools} lacks {', '.join(missing)}: build each from the source "
            "of the version pipeline/versions.toml pins"
        )
    prepare(args.dest.resolve(), args.registry, args.inputs.resolve(), tools)


if __name__ == "__main__":
    main()
