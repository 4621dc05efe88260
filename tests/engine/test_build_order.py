"""The fixture distro built on a real engine: step order, overlay precedence, a clean image."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagger
import pytest

from pipeline import graph
from pipeline.failure import describe_failure
from pipeline.layers import Layers
from pipeline.plan import Planner
from pipeline.platforms import host_default
from pipeline.tree import LocalTree
from tests.engine.conftest import FIXTURE, setting, sources

pytestmark = pytest.mark.asyncio(loop_scope="session")


def build(root: Path) -> tuple[object, dagger.Container]:
    plan = setting().planner(root).plan("tiny", host_default())
    return plan, graph.image(sources(root), plan, labels={"io.helios.test": "fixture"})


async def read(image: dagger.Container, path: str) -> str:
    return await image.with_exec(["cat", path]).stdout()


async def test_hooks_run_in_the_documented_order(engine):
    _, image = build(FIXTURE)
    steps = (await read(image, "/opt/helios/build-steps.log")).split("\n")
    assert [line.split(" ")[0] for line in steps if line] == ["2", "3", "4", "5", "6", "7", "8"]
    assert steps[0] == "2 distros/tiny/build/kasm.sh"
    assert steps[3] == "5 distros/tiny/build/xorg.sh"
    system = (await read(image, "/etc/helios-system.log")).split("\n")
    assert [line for line in system if line] == [
        "9 distros/tiny/build/system.sh",
        "10 common/build/system.sh",
    ]
    assert "webrtc=true" in await read(image, "/opt/helios/www/index.html")
    assert (await read(image, "/etc/helios-packages.list")) == "tzdata\n"


async def test_distro_overlay_wins_over_common(engine):
    _, image = build(FIXTURE)
    assert (await read(image, "/etc/helios/precedence")).strip() == "distro"
    assert (await read(image, "/etc/helios/common-only")).strip() == "common"


async def test_nothing_of_the_build_is_in_the_image(engine):
    _, image = build(FIXTURE)
    listing = await image.with_exec(["sh", "-c", "ls -d /helios /build /src 2>/dev/null || true"]).stdout()
    assert listing.strip() == ""
    env = await image.with_exec(["env"]).stdout()
    assert "HELIOS_STEP" not in env and "KASMVNC_VERSION" not in env
    assert "HELIOS_FIXTURE=yes" in env
    assert await image.with_exec(["test", "-x", "/init"]).exit_code() == 0
    assert await image.entrypoint() == ["/init"]
    assert await image.label("io.helios.test") == "fixture"


async def test_a_failing_hook_is_reported_with_step_path_code_and_output(engine, tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(FIXTURE, root)
    turbo = root / "common/build/turbo.sh"
    turbo.write_text("#!/bin/sh\necho compiling turbo\necho 'fatal: no compiler' >&2\nexit 3\n")
    plan, image = build(root)
    with pytest.raises(dagger.ExecError) as caught:
        await image.sync()
    error = caught.value
    report = describe_failure(plan, error.command, error.exit_code, error.stdout, error.stderr)
    assert report.startswith("step 3 (kasm · turbo) failed: common/build/turbo.sh exited with code 3")
    assert "fatal: no compiler" in report


async def test_a_users_hooks_tree_adds_drop_ins_and_wins_overlays(engine, tmp_path):
    site = tmp_path / "site"
    drop_in = site / "common/build/system.d/50-mark.sh"
    drop_in.parent.mkdir(parents=True)
    drop_in.write_text('#!/bin/sh\nset -eu\necho "$HELIOS_STEP user drop-in" >> /etc/helios-system.log\n')
    drop_in.chmod(0o755)
    (site / "common/root/etc/helios").mkdir(parents=True)
    (site / "common/root/etc/helios/precedence").write_text("user\n")
    layers = Layers(LocalTree(FIXTURE), LocalTree(site), user_label="site")
    run = setting()
    plan = Planner(layers, mirror=run.mirror(), rewrites=run.rewrites).plan("tiny", host_default())
    image = graph.image(sources(FIXTURE, site), plan)
    system = [line for line in (await read(image, "/etc/helios-system.log")).split("\n") if line]
    assert system == ["9 distros/tiny/build/system.sh", "10 common/build/system.sh", "10 user drop-in"]
    assert (await read(image, "/etc/helios/precedence")).strip() == "user"


async def test_every_copied_file_and_link_gets_the_epoch(engine):
    """Step 8's absolute links made Directory.with_timestamps fail (it follows links): times come
    from `touch -h` instead, links' own times included."""
    plan = setting().planner(FIXTURE).plan("tiny", host_default())
    image = graph.image(sources(FIXTURE), plan, epoch=981173106)
    paths = ["/opt/helios/kasmvnc.version", "/opt/helios/dangling", "/etc/helios/precedence", "/init"]
    times = await image.with_exec(["stat", "-c", "%Y %N", *paths]).stdout()
    assert [line.split(" ", 1)[0] for line in times.splitlines()] == ["981173106"] * 4, times
    assert "'/opt/helios/dangling' -> '/usr/local/etc/nowhere'" in times
