"""Bit for bit on a real engine: two builds of the same inputs export the same layers.

The second build must really run every step again, not hit the engine's cache: its hook files end
in one more comment line, which changes every exec's cache key and nothing a hook does. Both images
are exported as OCI tarballs and their configurations compared.

What is compared, and why not the whole digest: Dagger 0.21.8 writes, for every layer it makes, the
moment it made it into the image configuration's history (engine/engineutil/imageexport/writer.go,
normalizeLayersAndHistory; its exporter takes no SOURCE_DATE_EPOCH), so two builds that really run
have configurations, and so digests, that differ in those times alone. Everything else must be
equal: every layer (rootfs.diff_ids, the digest of each uncompressed layer) and the configuration
without its history and creation time. docs/reproducible.md says how to compare images the same way.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import warnings
from pathlib import Path
from typing import Any

import pytest
from dagger import Container

from pipeline import graph
from pipeline.platforms import host_default
from tests.engine.conftest import FIXTURE, setting, sources
from tests.rehearsal.chroot import CA_CHURNED, DEBIAN_LIKE
from tests.rehearsal.treediff import Entry, compare

pytestmark = pytest.mark.asyncio(loop_scope="session")

EPOCH = 1_767_225_600


# An engine given certificate authorities (for a TLS-inspecting proxy, say) writes them into the
# store before every exec and removes them after it, which the settled steps cannot clamp
# (CA_CHURNED). It also makes the store's folders an image lacks and removes them again, so the
# folders above the store and the bundle can keep that time too: docs/reproducible.md.
CA_TOUCHED = CA_CHURNED | {str(folder) for path in DEBIAN_LIKE[:2] for folder in Path(path).parents} - {"."}

# How a layer's tar entries map onto the kinds of a scanned tree (a hard link is a file).
TAR_KINDS = {
    tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.LNKTYPE: "file", tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink", tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo",
}  # fmt: skip
XATTR = "SCHILY.xattr."


def manifest_of(archive: tarfile.TarFile) -> dict[str, Any]:
    """The image manifest of a single-platform OCI tarball."""
    index = archive.extractfile("index.json")
    assert index is not None
    manifest = blob_json(archive, json.load(index)["manifests"][0]["digest"])
    while "manifests" in manifest:  # an index of one platform
        manifest = blob_json(archive, manifest["manifests"][0]["digest"])
    return manifest


def blob_json(archive: tarfile.TarFile, digest: str) -> dict[str, Any]:
    member = archive.extractfile(f"blobs/{digest.replace(':', '/')}")
    assert member is not None, digest
    found: dict[str, Any] = json.load(member)
    return found


def oci_config(tarball: Path) -> dict[str, Any]:
    """The image configuration of the single-platform OCI tarball at ``tarball``."""
    with tarfile.open(tarball) as archive:
        return blob_json(archive, manifest_of(archive)["config"]["digest"])


def layer_trees(tarball: Path) -> list[dict[str, Entry]]:
    """Each layer of the OCI tarball at ``tarball`` as the tree comparison sees a scanned tree: its
    entries by path, with what the layer records of each."""
    layers = []
    with tarfile.open(tarball) as archive:
        for layer in manifest_of(archive)["layers"]:
            blob = archive.extractfile(f"blobs/{layer['digest'].replace(':', '/')}")
            assert blob is not None, layer["digest"]
            with tarfile.open(fileobj=io.BytesIO(blob.read()), mode="r:*") as diff:
                layers.append({member.name.rstrip("/"): layer_entry(diff, member) for member in diff})
    return layers


def layer_entry(diff: tarfile.TarFile, member: tarfile.TarInfo) -> Entry:
    content = diff.extractfile(member) if member.isreg() else None
    if content is not None:
        digest = hashlib.sha256(content.read()).hexdigest()
    else:
        digest = f"{member.devmajor}:{member.devminor}" if member.isdev() and not member.isfifo() else ""
    return Entry(
        kind=TAR_KINDS.get(member.type, "unknown"),
        content=digest,
        mode=member.mode,
        owner=(member.uid, member.gid),
        time=int(member.mtime) * 10**9,
        link=member.linkname,
        xattrs=tuple(sorted(
            (name.removeprefix(XATTR), value.encode("utf-8", "surrogateescape"))
            for name, value in member.pax_headers.items() if name.startswith(XATTR)
        )),
    )  # fmt: skip


async def exported(root: Path, dest: Path) -> tuple[Container, dict[str, Any]]:
    # The run's setting: where the engine cannot reach GitHub, s6-overlay comes from its mirror.
    plan = setting().planner(root).plan("tiny", host_default())
    labels = graph.oci_labels(plan, version="1.0.0", revision="0" * 40, source_url="", epoch=EPOCH)
    image = graph.image(sources(root), plan, labels=labels, epoch=EPOCH)
    await image.as_tarball().export(str(dest))
    return image, oci_config(dest)


async def engine_installs_certificates(image: Container) -> bool:
    """Whether the engine puts certificate authorities into every exec: the store, seen from an exec,
    holds files that the image's own root filesystem does not."""
    store = DEBIAN_LIKE[0]
    listed = await image.with_exec(["sh", "-c", f"ls -A /{store} 2>/dev/null || true"]).stdout()
    own = {Path(path).name for path in await image.rootfs().glob(f"{store}/*")}
    return bool(set(listed.split()) - own)


async def test_two_builds_that_really_run_export_the_same_layers_and_configuration(
    engine: None, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(FIXTURE, first)
    shutil.copytree(FIXTURE, second)
    for hook in second.rglob("build/*.sh"):  # every step's key changes; what it does does not
        hook.write_text(hook.read_text() + "# built again\n")

    image, a = await exported(first, tmp_path / "first.tar")
    _, b = await exported(second, tmp_path / "second.tar")

    made = [entry.get("created") for entry in a["history"] if not entry.get("empty_layer")]
    again = [entry.get("created") for entry in b["history"] if not entry.get("empty_layer")]
    assert made != again, "the second build hit the cache: it must run its steps again"
    if a["rootfs"]["diff_ids"] != b["rootfs"]["diff_ids"]:
        first_layers, second_layers = (
            layer_trees(tmp_path / "first.tar"),
            layer_trees(tmp_path / "second.tar"),
        )
        assert len(first_layers) == len(second_layers), "the two builds have different numbers of layers"
        excused: list[str] = []
        for number, (first_layer, second_layer) in enumerate(zip(first_layers, second_layers, strict=True)):
            diff, times = compare(first_layer, second_layer).excusing_times_of(CA_TOUCHED)
            assert diff.empty, f"layer {number} differs:\n" + diff.report(first_layer, second_layer)
            excused += [f"{path} (layer {number})" for path in times]
        assert await engine_installs_certificates(image), (
            f"only the times of {', '.join(excused)} differ, yet the engine installs no certificate authorities"
        )
        warnings.warn(
            f"times left by the engine's certificate authorities: {', '.join(excused)}", stacklevel=1
        )
    # The layers are compared above; the rest of the configuration must be equal but for the times.
    rest_of = [
        {k: v for k, v in config.items() if k not in ("history", "created", "rootfs")} for config in (a, b)
    ]
    assert rest_of[0] == rest_of[1]
