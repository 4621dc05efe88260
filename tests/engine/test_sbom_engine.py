"""SBOMs and the signing tools on a real engine: syft's SPDX document lists what the image holds,
and the pinned tool images run (cosign's static binary inside ORAS's Alpine image)."""

from __future__ import annotations

import base64
import json

import pytest
from dagger import dag

from pipeline import sbom, signing
from pipeline.graph import PACKAGES_TXT
from pipeline.toolpins import tool_image
from tests.engine.conftest import image_of, setting

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.real_versions]


@pytest.mark.parametrize("distro", ["debian", "rhel"])
async def test_the_sbom_lists_every_package_the_image_records(engine, distro):
    _, image = image_of(distro)
    document = json.loads(
        await sbom.sbom(
            image, scanner=tool_image("syft", rewrites=setting().rewrites), name="helios-test", version="1"
        ).contents()
    )
    assert document["spdxVersion"] == "SPDX-2.3"
    assert document["name"].startswith("helios-test")
    in_sbom = {package["name"] for package in document["packages"]}
    recorded = {line.split()[0] for line in (await image.file(PACKAGES_TXT).contents()).splitlines() if line}
    assert recorded and recorded <= in_sbom, sorted(recorded - in_sbom)[:20]
    # What the hooks installed outside the package manager is described too: kclient's npm modules.
    purls = [ref["referenceLocator"] for p in document["packages"] for ref in p.get("externalRefs", [])]
    assert any(purl.startswith("pkg:npm/") for purl in purls)


async def test_the_tools_run_and_the_login_reaches_their_docker_config(engine):
    password = dag.set_secret("helios-test-registry-password", "pa:ss word")
    login = signing.Login("registry.example:5000/helios", "me", password)
    rewrites = setting().rewrites  # where the engine keeps the tools' images
    ctr = signing.tools(tool_image("oras", rewrites=rewrites), tool_image("cosign", rewrites=rewrites), login)
    versions = await ctr.with_exec(["sh", "-c", "oras version && cosign version"]).stdout()
    assert "1.3.3" in versions and "v3.1.2" in versions
    config = await signing.push_exec(ctr, ["cat", f"{signing.AUTH_DIR}/config.json"]).stdout()
    auth = json.loads(config)["auths"]["registry.example:5000"]["auth"]
    assert base64.b64decode(auth).decode() == "me:pa:ss word"
