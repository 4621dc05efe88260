"""Real images on a real engine: one distro per family builds with its key files, and boots.

These download KasmVNC, the X server and the distro packages, so each takes a while; the
GitHub workflow runs them on pull requests.
"""

from __future__ import annotations

import uuid

import dagger
import pytest
from dagger import dag

from pipeline import graph, smoke
from pipeline.graph import Sources
from pipeline.plan import Planner
from pipeline.platforms import host_default
from pipeline.tree import LocalTree
from tests.engine.conftest import FIXTURE

pytestmark = pytest.mark.asyncio(loop_scope="session")

REPO = FIXTURE.parents[2]
KEY_FILES = [
    "/usr/local/bin/Xvnc",
    "/usr/local/share/kasmvnc/www/index.html",
    "/usr/local/share/kasmvnc/www/view-only/index.html",
    "/opt/helios/kclient/index.js",
    "/opt/helios/node/bin/node",
    "/opt/helios/kasmvnc.version",
    "/opt/helios/kasmweb.version",
    "/opt/helios/kclient.version",
    "/opt/helios/node.version",
    "/init",
]


def image_of(distro: str):
    plan = Planner(LocalTree(REPO)).plan(distro, host_default())
    source = dag.host().directory(str(REPO), include=["common/**", "distros/**"])
    return plan, graph.image(Sources(source), plan)


@pytest.mark.parametrize("distro", ["debian", "rhel", "alpine"])
async def test_each_family_builds_an_image_with_the_key_files(engine, distro):
    _, image = image_of(distro)
    missing = await image.with_exec(
        ["sh", "-c", 'for f in "$@"; do [ -e "$f" ] || echo "$f"; done', "sh", *KEY_FILES]
    ).stdout()
    assert missing.strip() == "", f"missing in the {distro} image: {missing.split()}"
    version = await image.with_exec(
        ["/usr/local/bin/Xvnc", "-version"], expect=dagger.ReturnType.ANY
    ).stderr()
    assert "KasmVNC" in version or "Xvnc" in version


@pytest.mark.parametrize("distro", ["debian", "rhel"])
async def test_the_image_boots_and_serves_the_desktop(engine, distro):
    plan, image = image_of(distro)
    output = await smoke.probe(image, plan.web_image, timeout=240, nonce=uuid.uuid4().hex).stdout()
    assert "reports ready" in output and "serves the web client" in output
