"""Container images written from root filesystems on disk, without a builder or a daemon.

An image here is one layer (the whole tree) and a configuration. :func:`write_layout` writes an OCI
image layout folder holding one image per platform under one index, which ``skopeo copy --all``
pushes to a registry as a multi-platform image; :func:`write_archive` tars a one-platform layout
with a ``manifest.json`` beside ``index.json``, the two-headed archive a Dagger export also is, so
``docker load`` and ``skopeo``'s ``oci-archive:`` transport both read it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.rehearsal.inputs import sha256_of

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True)
class ImageConfig:
    """The runtime configuration of an image, as `docker inspect` shows it under Config."""

    env: Mapping[str, str] = field(default_factory=dict)
    entrypoint: Sequence[str] = ()
    cmd: Sequence[str] = ()
    exposed_ports: Sequence[str] = ()
    """Like "3000/tcp"."""
    healthcheck: Sequence[str] = ()
    """The probe command, run as CMD (no shell)."""
    health_timing_ns: Mapping[str, int] = field(default_factory=dict)
    """Interval, Timeout, StartPeriod (nanoseconds) and Retries of the health check."""
    labels: Mapping[str, str] = field(default_factory=dict)

    def as_oci(self) -> dict[str, Any]:
        config: dict[str, Any] = {"Env": [f"{name}={value}" for name, value in self.env.items()]}
        if self.entrypoint:
            config["Entrypoint"] = list(self.entrypoint)
        if self.cmd:
            config["Cmd"] = list(self.cmd)
        if self.exposed_ports:
            config["ExposedPorts"] = {port: {} for port in self.exposed_ports}
        if self.healthcheck:
            config["Healthcheck"] = {"Test": ["CMD", *self.healthcheck], **self.health_timing_ns}
        if self.labels:
            config["Labels"] = dict(self.labels)
        return config


@dataclass(frozen=True)
class PlatformImage:
    """One platform's image: its root filesystem and configuration."""

    rootfs: Path
    architecture: str
    """In OCI's spelling: amd64, arm64."""
    config: ImageConfig


def write_layout(layout: Path, images: Sequence[PlatformImage], *, ref_name: str = "latest") -> str:
    """An OCI image layout at ``layout`` with one manifest per image under one index; the index digest."""
    if layout.exists():
        shutil.rmtree(layout)
    (layout / "blobs/sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    manifests = [_write_image(layout, image) for image in images]
    for descriptor, image in zip(manifests, images, strict=True):
        descriptor["platform"] = {"architecture": image.architecture, "os": "linux"}
    descriptor = (
        manifests[0]
        if len(manifests) == 1
        else _write_blob(
            layout, OCI_INDEX, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        )
    )
    descriptor["annotations"] = {"org.opencontainers.image.ref.name": ref_name}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [descriptor]}
    (layout / "index.json").write_text(json.dumps(index))
    return str(descriptor["digest"])


def write_archive(archive: Path, image: PlatformImage, *, repo_tag: str) -> str:
    """A one-image archive that both ``docker load`` and OCI tools read; the manifest digest."""
    layout = archive.with_name(archive.name + ".layout")
    digest = write_layout(layout, [image], ref_name=repo_tag)
    manifest = json.loads(_blob(layout, digest).read_text())
    docker = [
        {
            "Config": f"blobs/sha256/{manifest['config']['digest'].split(':')[1]}",
            "RepoTags": [repo_tag],
            "Layers": [f"blobs/sha256/{layer['digest'].split(':')[1]}" for layer in manifest["layers"]],
        }
    ]
    (layout / "manifest.json").write_text(json.dumps(docker))
    partial = archive.with_suffix(".partial")
    with tarfile.open(partial, "w") as tar:
        for entry in sorted(layout.rglob("*")):
            tar.add(entry, arcname=str(entry.relative_to(layout)), recursive=False)
    partial.rename(archive)
    shutil.rmtree(layout)
    return digest


def _write_image(layout: Path, image: PlatformImage) -> dict[str, Any]:
    layer, diff_id = _write_layer(layout, image.rootfs)
    config = {
        "architecture": image.architecture,
        "os": "linux",
        "config": image.config.as_oci(),
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _write_blob(layout, OCI_CONFIG, config),
        "layers": [layer],
    }
    return _write_blob(layout, OCI_MANIFEST, manifest)


def _write_layer(layout: Path, rootfs: Path) -> tuple[dict[str, Any], str]:
    """The tree as one gzip layer blob; its descriptor and the uncompressed tar's digest (diff id)."""
    staging = layout / "blobs/layer.partial"
    # The tree's entries, not "." (a runtime makes / itself), and no access or change times: with
    # them (the pax format --xattrs needs records both) no two layers of one tree are the same.
    entries = sorted(entry.name for entry in rootfs.iterdir())
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "--sort=name", "--xattrs", "--format=posix",
         "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
         "-C", str(rootfs), "-cf", "-", "--", *entries],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    assert tar.stdout is not None
    uncompressed = hashlib.sha256()
    with staging.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as out:
        for block in iter(lambda: tar.stdout.read(1 << 20), b""):  # type: ignore[union-attr]
            uncompressed.update(block)
            out.write(block)
    if tar.wait() != 0:
        staging.unlink()
        raise RuntimeError(f"tar of {rootfs} failed with code {tar.returncode}")
    digest = sha256_of(staging)
    staging.rename(layout / "blobs/sha256" / digest)
    descriptor = {
        "mediaType": OCI_LAYER,
        "digest": f"sha256:{digest}",
        "size": (layout / "blobs/sha256" / digest).stat().st_size,
    }
    return descriptor, f"sha256:{uncompressed.hexdigest()}"


def _write_blob(layout: Path, media_type: str, document: Mapping[str, Any]) -> dict[str, Any]:
    data = json.dumps(document, sort_keys=True).encode()
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs/sha256" / digest).write_bytes(data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def _blob(layout: Path, digest: str) -> Path:
    return layout / "blobs/sha256" / digest.split(":", 1)[1]
