"""The rehearsal's image as users run it: `docker load`, `docker run -p 127.0.0.1:3000:3000`, stop.

The image gets the configuration the graph gives it, so Docker's own health check, entrypoint and
stop signal are what a user gets. A browser on this machine opens the published port; a named
volume holds the user's home across `docker restart`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.imageconfig import HEALTH_INTERVAL_S, HTTP_PORT
from pipeline.plan import Planner
from pipeline.smoke import DEFAULT_TIMEOUT
from pipeline.tree import LocalTree
from tests.rehearsal.browser import chromium_binary
from tests.rehearsal.chroot import CACHE
from tests.rehearsal.docker import (
    DockerContainer,
    check_desktop_through_published_port,
    daemon_problem,
    docker,
    load_image,
    run_container,
    wait_for_health,
)
from tests.rehearsal.results import REPO, Results

pytestmark = pytest.mark.real_versions
STOP_GRACE = 10
"""Seconds `docker stop` waits before it kills (Docker's default); s6 must be done well before."""
HEALTHY_WITHIN = DEFAULT_TIMEOUT + 2 * HEALTH_INTERVAL_S
"""Docker runs the first probe one interval after the start, so it can say healthy only after that."""
HOME = "/home/helios"


@pytest.fixture(scope="module")
def docker_image(image_root: Path, results: Results, rehearsal_arch: str) -> Iterator[str]:
    """The assembled image loaded into Docker under a tag of its own; removed at the end."""
    problem = daemon_problem()
    if problem:
        pytest.skip(problem)
    plan = Planner(LocalTree(REPO)).plan("debian", f"linux/{rehearsal_arch}")
    tag = f"helios-rehearsal:{uuid.uuid4().hex[:12]}"
    started = time.monotonic()
    load_image(image_root, plan, CACHE / "docker-image.tar", tag)
    results.timing("docker: write and load the image", time.monotonic() - started)
    yield tag
    docker("image", "rm", "-f", tag)


@pytest.fixture(scope="module")
def container(docker_image: str) -> Iterator[DockerContainer]:
    """One container for the module, with a named volume for the home; removed with it at the end."""
    volume = f"helios-rehearsal-home-{uuid.uuid4().hex[:12]}"
    ctr = run_container(docker_image, f"127.0.0.1:{HTTP_PORT}:{HTTP_PORT}", [f"{volume}:{HOME}"])
    try:
        yield ctr
    finally:
        docker("rm", "-f", ctr.id)
        docker("volume", "rm", "-f", volume)


def test_docker_reports_the_container_healthy(container: DockerContainer, results: Results) -> None:
    config = container.inspect()["Config"]
    assert config["Entrypoint"] == ["/init"] and f"{HTTP_PORT}/tcp" in config["ExposedPorts"]
    seconds = wait_for_health(container, HEALTHY_WITHIN)
    results.timing("docker: run to health status healthy", seconds)
    assert container.published_port() == HTTP_PORT


@pytest.mark.skipif(chromium_binary() is None, reason="no Chromium here (apt-get install chromium)")
def test_a_browser_on_the_host_sees_the_desktop_through_the_published_port(
    container: DockerContainer, results: Results
) -> None:
    check_desktop_through_published_port(container, results.dir / "docker-desktop.png")


def test_the_home_volume_keeps_a_file_across_docker_restart(container: DockerContainer) -> None:
    container.exec("sh", "-c", f"echo kept > {HOME}/rehearsal-file", user="helios")
    docker("restart", "--time", str(STOP_GRACE), container.id)
    wait_for_health(container, HEALTHY_WITHIN)
    assert container.exec("cat", f"{HOME}/rehearsal-file") == "kept"
    assert container.exec("stat", "-c", "%U", f"{HOME}/rehearsal-file") == "helios"


def test_docker_stop_ends_with_exit_0_within_the_grace_time(
    container: DockerContainer, results: Results
) -> None:
    started = time.monotonic()
    docker("stop", "--time", str(STOP_GRACE), container.id)
    seconds = time.monotonic() - started
    results.timing("docker: stop to exit", seconds)
    state = container.inspect()["State"]
    assert state["ExitCode"] == 0, f"exit code {state['ExitCode']}; log:\n{container.log_tail()}"
    assert not state["OOMKilled"]
    assert seconds < STOP_GRACE, f"stop took {seconds:.1f}s: Docker had to kill the container"
