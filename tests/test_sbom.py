"""The SBOM step, walked offline: it scans the pushed image's rootfs and re-runs no build step."""

from __future__ import annotations

import pytest

from pipeline import sbom, shipping
from pipeline.toolpins import tool_image
from pipeline.tree import LocalTree
from tests.dagwalk import Keyer, reachable, selections
from tests.helpers import METADATA, built_images

SCANNER = "docker.io/anchore/syft:v1.51.0@sha256:" + "ab" * 32


def built_image(root, platform="linux/arm64") -> shipping.Built:
    (built,) = built_images(root, [("base", platform)], METADATA)
    return built


def exec_keys(keyer: Keyer, root) -> list[str]:
    """The cache key of every exec reachable from ``root`` (the chain up to and including it)."""
    keys = []
    for obj in reachable(root):
        fields = selections(obj)
        keys += [keyer.key(fields[: i + 1]) for i, f in enumerate(fields) if f.name == "withExec"]
    return keys


def test_the_sbom_adds_only_the_scanner_exec_and_every_build_exec_keeps_its_key(make_tree):
    root = make_tree()
    built = built_image(root)
    keyer = Keyer(LocalTree(root))
    build_keys = exec_keys(keyer, built.image)
    sbom_keys = exec_keys(
        keyer, sbom.sbom(built.image, scanner=SCANNER, name="ghcr.io/org/helios", version="1")
    )
    assert build_keys, "the fixture build has execs"
    # Same recipe, same key: the engine answers every build exec from the cache of the build.
    assert set(build_keys) <= set(sbom_keys)
    new = [key for key in sbom_keys if key not in build_keys]
    assert len(new) == 1 and "/syft" in new[0]


def test_the_scanner_reads_the_very_image_that_is_pushed_read_only(make_tree):
    built = built_image(make_tree())
    document = sbom.sbom(built.image, scanner=SCANNER, name="ghcr.io/org/helios", version="1.2.0-base")
    fields = selections(document)
    assert [f.name for f in fields][:2] == ["container", "from"]
    assert fields[1].args["address"] == SCANNER
    mount = next(f for f in fields if f.name == "withMountedDirectory")
    assert mount.args["path"] == sbom.ROOTFS and mount.args["readOnly"] is True
    rootfs = selections(mount.args["source"])
    assert rootfs[-1].name == "rootfs"
    keyer = Keyer(LocalTree(make_tree(name="same")))
    assert keyer.key(rootfs[:-1]) == keyer.key(selections(built.image))
    assert fields[-1].name == "file" and fields[-1].args["path"] == sbom.OUTPUT


def test_the_scanner_runs_on_the_engine_platform_and_never_calls_home(make_tree):
    document = sbom.sbom(built_image(make_tree()).image, scanner=SCANNER, name="n", version="v")
    fields = selections(document)
    assert "platform" not in fields[0].args  # the engine's own: syft reads files, runs none
    env = {f.args["name"]: f.args["value"] for f in fields if f.name == "withEnvVariable"}
    assert env == {"SYFT_CHECK_FOR_APP_UPDATE": "false"}
    scan = next(f for f in fields if f.name == "withExec").args["args"]
    assert scan[:3] == ["/syft", "scan", f"dir:{sbom.ROOTFS}"]
    assert scan[scan.index("--base-path") + 1] == sbom.ROOTFS
    # An image's rootfs is an installed system: syft's image catalogers, not its source-tree ones.
    assert scan[scan.index("--override-default-catalogers") + 1] == "image"
    assert scan[scan.index("--output") + 1] == f"spdx-json={sbom.OUTPUT}"


def test_a_change_to_the_image_changes_the_sbom_key_but_a_new_name_does_not_touch_the_build(make_tree):
    root = make_tree()
    keyer = Keyer(LocalTree(root))
    built = built_image(root)
    first = sbom.sbom(built.image, scanner=SCANNER, name="a", version="1")
    renamed = sbom.sbom(built.image, scanner=SCANNER, name="b", version="1")
    changed = sbom.sbom(built.image.with_label("x", "y"), scanner=SCANNER, name="a", version="1")
    assert set(exec_keys(keyer, first)) - set(exec_keys(keyer, renamed)) != set()
    assert set(exec_keys(keyer, built.image)) <= set(exec_keys(keyer, renamed))
    assert keyer.key(selections(first)) != keyer.key(selections(changed))


@pytest.mark.real_versions
def test_the_scanner_is_the_pinned_syft():
    assert tool_image("syft").split("@")[0].endswith("/anchore/syft:v1.51.0")
