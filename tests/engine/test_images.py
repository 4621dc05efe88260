"""Real images on a real engine: one distro per family builds with its key files, and boots.

These download KasmVNC, the X server and the distro packages, so each takes a while; the
GitHub workflow runs them on pull requests.
"""

from __future__ import annotations

import uuid

import dagger
import pytest

from pipeline import graph, smoke
from pipeline.platforms import host_default
from tests.engine.conftest import ALL_DISTROS, require_distro, setting, sources

pytestmark = pytest.mark.asyncio(loop_scope="session")

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
    """The plan and lazy image of ``distro`` for the engine's platform, in this run's setting."""
    require_distro(distro)
    run = setting()
    plan = run.planner().plan(distro, host_default())
    return plan, graph.image(sources(run.repo, include=["common/**", "distros/**"]), plan)


@pytest.mark.parametrize("distro", ALL_DISTROS)
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
