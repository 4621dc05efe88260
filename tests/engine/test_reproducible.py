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
import itertools
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

pytestmark = pytest.mark.asyncio(loop_scope="session")

EPOCH = 1_767_225_600


# An engine given certificate authorities (for a TLS-inspecting proxy, say) writes them into the
# store before every exec and removes them after it (engine/engineutil/cacerts), making the folders
# it lacks and removing them again. That runs after the settled steps have clamped their times, so
# the store, the bundle, the folders above them and /tmp (update-ca-certificates' work files) can
# keep the time of an exec: docs/reproducible.md, "Not reproducible yet".
CA_STORE = "usr/local/share/ca-certificates"
CA_BUNDLE = "etc/ssl/certs/ca-certificates.crt"
CA_TOUCHED = frozenset(
    {"tmp"} | {str(folder) for path in (CA_STORE, CA_BUNDLE) for folder in (Path(path), *Path(path).parents)}
) - {"."}


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


def layer_entries(tarball: Path) -> list[dict[str, dict[str, object]]]:
    """Each layer of the OCI tarball at ``tarball``: its entries by path, each with what a layer
    records of it (type, mode, owner, time, link target, and a digest of the content)."""
    layers = []
    with tarfile.open(tarball) as archive:
        for layer in manifest_of(archive)["layers"]:
            blob = archive.extractfile(f"blobs/{layer['digest'].replace(':', '/')}")
            assert blob is not None, layer["digest"]
            entries = {}
            with tarfile.open(fileobj=io.BytesIO(blob.read()), mode="r:*") as diff:
                for member in diff:
                    content = diff.extractfile(member) if member.isfile() else None
                    entries[member.name.rstrip("/")] = {
                        "type": member.type, "mode": member.mode, "owner": (member.uid, member.gid),
                        "mtime": member.mtime, "link": member.linkname,
                        "content": hashlib.sha256(content.read()).hexdigest() if content else "",
                    }  # fmt: skip
            layers.append(entries)
    return layers


def differing_entries(first: Path, second: Path) -> dict[str, set[str]]:
    """The paths whose entries differ between the same layers of two OCI tarballs, with what
    differs ("missing" when one layer lacks it); a layer only one tarball has counts whole."""
    differing: dict[str, set[str]] = {}
    empty: dict[str, dict[str, object]] = {}
    for ours, theirs in itertools.zip_longest(layer_entries(first), layer_entries(second), fillvalue=empty):
        for path in ours.keys() | theirs.keys():
            if path not in ours or path not in theirs:
                differing.setdefault(path, set()).add("missing")
                continue
            aspects = {name for name, value in ours[path].items() if theirs[path][name] != value}
            if aspects:
                differing.setdefault(path, set()).update(aspects)
    return differing


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
    listed = await image.with_exec(["sh", "-c", f"ls -A /{CA_STORE} 2>/dev/null || true"]).stdout()
    own = {Path(path).name for path in await image.rootfs().glob(f"{CA_STORE}/*")}
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
        differing = differing_entries(tmp_path / "first.tar", tmp_path / "second.tar")
        excused = sorted(
            path for path, aspects in differing.items() if aspects == {"mtime"} and path in CA_TOUCHED
        )
        rest = {path: sorted(aspects) for path, aspects in differing.items() if path not in excused}
        assert not rest, f"the two builds' layers differ: {rest}"
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
