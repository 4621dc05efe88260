"""The real image as README tells users to run it: `helios build --export`, `docker load`, `docker run`.

The tarball the engine exports is loaded into the local Docker and started with
`docker run -p 127.0.0.1:3000:3000`; Docker's own health check must say healthy, and a browser on
this machine must see the desktop through the published port (the rehearsal's browser check).
Needs a Docker daemon and Chromium besides the engine; without them it skips and says why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.imageconfig import HTTP_PORT
from tests.engine.conftest import require_distro, setting
from tests.rehearsal.browser import chromium_binary
from tests.rehearsal.docker import (
    DockerContainer,
    check_desktop_through_published_port,
    daemon_problem,
    docker,
    load_archive,
    run_container,
    wait_for_health,
)
from tests.rehearsal.test_docker import HEALTHY_WITHIN

DISTRO = "debian"


@pytest.fixture(scope="module")
def exported(session_versions: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Debian image exported by `helios build --export` and loaded into Docker; its image id."""
    require_distro(DISTRO)
    problem = daemon_problem()
    if problem:
        pytest.skip(problem)
    tarball = tmp_path_factory.mktemp("export") / "helios-debian.tar"
    run = setting()
    previous = Path.cwd()
    os.chdir(run.repo)  # the CLI reads the tree (and, with stand-ins, their pins) from the checkout
    try:
        result = CliRunner().invoke(app, ["build", "-d", DISTRO, "--export", str(tarball), *run.cli_args()])
    finally:
        os.chdir(previous)
    assert result.exit_code == 0, result.output
    image = load_archive(tarball)
    tarball.unlink()
    yield image
    docker("image", "rm", "-f", image)


@pytest.fixture(scope="module")
def container(exported: str) -> Iterator[DockerContainer]:
    ctr = run_container(exported, f"127.0.0.1:{HTTP_PORT}:{HTTP_PORT}")
    try:
        yield ctr
    finally:
        docker("rm", "-f", ctr.id)


def test_the_exported_image_runs_healthy_under_docker(container: DockerContainer) -> None:
    config = container.inspect()["Config"]
    assert config["Entrypoint"] == ["/init"] and config["Healthcheck"]["Test"][0] == "CMD"
    assert config["Labels"]["io.helios.distro"] == DISTRO
    wait_for_health(container, HEALTHY_WITHIN)


@pytest.mark.skipif(chromium_binary() is None, reason="no Chromium here (apt-get install chromium)")
def test_a_browser_sees_the_desktop_through_the_published_port(
    container: DockerContainer, tmp_path: Path
) -> None:
    wait_for_health(container, HEALTHY_WITHIN)
    check_desktop_through_published_port(
        container, Path(os.environ.get("HELIOS_ENGINE_RESULTS", tmp_path)) / "engine-desktop.png"
    )
