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

import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest
from dagger import dag

from pipeline import graph
from pipeline.graph import Sources
from pipeline.plan import Planner
from pipeline.platforms import host_default
from pipeline.tree import LocalTree
from tests.engine.conftest import FIXTURE

pytestmark = pytest.mark.asyncio(loop_scope="session")

EPOCH = 1_767_225_600


def oci_config(tarball: Path) -> dict[str, Any]:
    """The image configuration of the single-platform OCI tarball at ``tarball``."""
    with tarfile.open(tarball) as archive:

        def blob(digest: str) -> dict[str, Any]:
            member = archive.extractfile(f"blobs/{digest.replace(':', '/')}")
            assert member is not None, digest
            return json.load(member)

        index = archive.extractfile("index.json")
        assert index is not None
        manifest = blob(json.load(index)["manifests"][0]["digest"])
        while "manifests" in manifest:  # an index of one platform
            manifest = blob(manifest["manifests"][0]["digest"])
        return blob(manifest["config"]["digest"])


async def exported(root: Path, dest: Path) -> dict[str, Any]:
    plan = Planner(LocalTree(root)).plan("tiny", host_default())
    labels = graph.oci_labels(plan, version="1.0.0", revision="0" * 40, source_url="", epoch=EPOCH)
    image = graph.image(Sources(dag.host().directory(str(root))), plan, labels=labels, epoch=EPOCH)
    await image.as_tarball().export(str(dest))
    return oci_config(dest)


async def test_two_builds_that_really_run_export_the_same_layers_and_configuration(engine, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(FIXTURE, first)
    shutil.copytree(FIXTURE, second)
    for hook in second.rglob("build/*.sh"):  # every step's key changes; what it does does not
        hook.write_text(hook.read_text() + "# built again\n")

    a = await exported(first, tmp_path / "first.tar")
    b = await exported(second, tmp_path / "second.tar")

    made = [entry.get("created") for entry in a["history"] if not entry.get("empty_layer")]
    again = [entry.get("created") for entry in b["history"] if not entry.get("empty_layer")]
    assert made != again, "the second build hit the cache: it must run its steps again"
    assert a["rootfs"]["diff_ids"] == b["rootfs"]["diff_ids"], "a layer differs between the two builds"
    without_times = [
        {k: v for k, v in config.items() if k not in ("history", "created")} for config in (a, b)
    ]
    assert without_times[0] == without_times[1]
