"""`helios publish` to a registry the engine can push to, then the image pulled back and compared.

Set HELIOS_ENGINE_REGISTRY to HOST:PORT of a registry the engine reaches (plain HTTP needs
`"http": true` for it in the engine's engine.json, docs/engine.md); skopeo on this machine reads
it back. The fixture distro is published, so the test is quick; what it checks is the push.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.release import helios_version
from tests.engine.conftest import FIXTURE, REPO, setting

REGISTRY = os.environ.get("HELIOS_ENGINE_REGISTRY", "")
pytestmark = pytest.mark.skipif(
    not REGISTRY or shutil.which("skopeo") is None,
    reason="set HELIOS_ENGINE_REGISTRY=HOST:PORT of a registry the engine can push to (and install skopeo)",
)


def inspect(reference: str) -> dict:
    proc = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{reference}"],
                          capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    found: dict = json.loads(proc.stdout)
    return found


def test_a_published_image_is_pulled_back_with_its_digest_and_labels(session_versions) -> None:
    address, tag = f"{REGISTRY}/helios-engine-test", f"t{uuid.uuid4().hex[:12]}"
    result = CliRunner().invoke(
        app,
        ["publish", "-d", "tiny", "--root", str(FIXTURE), "--address", address, "--tag", tag,
         "--platform", "linux/amd64", "--no-sbom", *setting().cli_args(offline=False)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    row = next(line.split() for line in result.stdout.splitlines() if f"{address}:{tag}" in line)
    pushed_digest = row[-1]
    pulled = inspect(f"{address}:{tag}")
    assert pulled["Digest"] == pushed_digest
    labels = pulled["Labels"]
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    assert labels["io.helios.distro"] == "tiny" and labels["io.helios.platform"] == "linux/amd64"
    assert labels["org.opencontainers.image.version"] == helios_version()
    assert labels["org.opencontainers.image.revision"] == head
    assert pulled["Architecture"] == "amd64"
