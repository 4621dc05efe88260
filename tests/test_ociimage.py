"""Images written from a root folder: the archive both `docker load` and OCI tools read, as the
rehearsal's Docker run and the engine stand-ins use them."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

from tests.ociimage import ImageConfig, PlatformImage, write_archive, write_layout


def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text("ID=test\n")
    (root / "init").write_text("#!/bin/sh\n")
    (root / "init").chmod(0o755)
    return root


def blob(archive: tarfile.TarFile, digest: str) -> bytes:
    member = archive.extractfile(f"blobs/sha256/{digest.split(':')[1]}")
    assert member is not None
    return member.read()


def test_the_archive_has_both_heads_and_verifiable_blobs(tmp_path: Path) -> None:
    config = ImageConfig(env={"PATH": "/bin", "A": "b"}, entrypoint=("/init",), exposed_ports=("3000/tcp",),
                         healthcheck=("/check", "x"), health_timing_ns={"Interval": 30, "Retries": 3})  # fmt: skip
    archive = tmp_path / "image.tar"
    digest = write_archive(archive, PlatformImage(rootfs(tmp_path), "arm64", config), repo_tag="helios:test")
    with tarfile.open(archive) as tar:
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        (only,) = index["manifests"]
        assert (
            only["digest"] == digest
            and only["annotations"]["org.opencontainers.image.ref.name"] == "helios:test"
        )
        manifest_bytes = blob(tar, digest)
        assert hashlib.sha256(manifest_bytes).hexdigest() == digest.split(":")[1]
        manifest = json.loads(manifest_bytes)
        image = json.loads(blob(tar, manifest["config"]["digest"]))
        assert image["architecture"] == "arm64" and image["os"] == "linux"
        assert image["config"]["Env"] == ["PATH=/bin", "A=b"]
        assert image["config"]["Entrypoint"] == ["/init"] and image["config"]["ExposedPorts"] == {
            "3000/tcp": {}
        }
        assert image["config"]["Healthcheck"] == {
            "Test": ["CMD", "/check", "x"],
            "Interval": 30,
            "Retries": 3,
        }
        layer_bytes = blob(tar, manifest["layers"][0]["digest"])
        assert hashlib.sha256(layer_bytes).hexdigest() == manifest["layers"][0]["digest"].split(":")[1]
        uncompressed = gzip.decompress(layer_bytes)
        assert image["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(uncompressed).hexdigest()}"]
        with tarfile.open(fileobj=io.BytesIO(uncompressed)) as layer:
            assert layer.getmember("init").mode & 0o777 == 0o755
            assert layer.extractfile("etc/os-release").read() == b"ID=test\n"  # type: ignore[union-attr]
        docker = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        assert docker == [{"Config": f"blobs/sha256/{manifest['config']['digest'].split(':')[1]}",
                           "RepoTags": ["helios:test"],
                           "Layers": [f"blobs/sha256/{manifest['layers'][0]['digest'].split(':')[1]}"]}]  # fmt: skip
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob("*.layout"))


def test_a_layout_of_two_platforms_is_one_index(tmp_path: Path) -> None:
    root = rootfs(tmp_path)
    images = [PlatformImage(root, arch, ImageConfig()) for arch in ("amd64", "arm64")]
    digest = write_layout(tmp_path / "layout", images, ref_name="13.2")
    index = json.loads((tmp_path / "layout/index.json").read_text())
    assert index["manifests"][0]["digest"] == digest
    inner = json.loads((tmp_path / "layout/blobs/sha256" / digest.split(":")[1]).read_text())
    assert [m["platform"]["architecture"] for m in inner["manifests"]] == ["amd64", "arm64"]


def test_the_same_tree_gives_the_same_image_whatever_the_root_folders_time(tmp_path: Path) -> None:
    import os

    root = rootfs(tmp_path)
    first = write_layout(tmp_path / "one", [PlatformImage(root, "amd64", ImageConfig())])
    os.utime(root, (1, 1))  # e.g. the same tarball unpacked again into a new folder
    assert write_layout(tmp_path / "two", [PlatformImage(root, "amd64", ImageConfig())]) == first
