"""The SBOM of an image: syft, run as its own pinned container, reads the built image's root filesystem.

SPDX JSON, because it is what registries and verifiers already speak for images: BuildKit's SBOM
attestations, `cosign attest --type spdxjson` and GitHub's dependency graph all take SPDX 2.3.

The scanner only *reads* ``image.rootfs()``: the same lazy container that is pushed, so the engine
serves it from the build's cache and no build step runs again. syft runs on the engine's own
platform (it reads files, it executes none), so an arm64 image needs no emulation to be scanned.
"""

from __future__ import annotations

import dagger
from dagger import dag

FORMAT = "spdx-json"
MEDIA_TYPE = "application/spdx+json"
FILE_NAME = "sbom.spdx.json"
ROOTFS = "/rootfs"
# The syft image is FROM scratch with /syft and a writable /tmp.
SYFT_BINARY = "/syft"
OUTPUT = f"/tmp/{FILE_NAME}"


def scan_args(name: str, version: str) -> list[str]:
    """syft's arguments: scan the mounted rootfs as if it were /, never following links out of it.

    A ``dir:`` source defaults to syft's catalogers for source trees (lock files, manifests: what a
    project declares); a rootfs is an installed system, so the image catalogers are asked for
    (package databases, installed node_modules, binaries: what the image holds).
    """
    return [
        SYFT_BINARY,
        "scan",
        f"dir:{ROOTFS}",
        "--override-default-catalogers",
        "image",
        "--base-path",
        ROOTFS,
        "--source-name",
        name,
        "--source-version",
        version,
        "--output",
        f"{FORMAT}={OUTPUT}",
    ]


def sbom(image: dagger.Container, *, scanner: str, name: str, version: str) -> dagger.File:
    """The SPDX JSON SBOM of ``image`` (lazy), named ``name`` ``version`` inside the document."""
    return (
        dag.container()
        .from_(scanner)
        # No call home: the scan's result must depend on the image and the pinned scanner only.
        .with_env_variable("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .with_mounted_directory(ROOTFS, image.rootfs(), read_only=True)
        .with_exec(scan_args(name, version))
        .file(OUTPUT)
    )
