"""The rehearsal's image run the way users run it: loaded into Docker, `docker run -p`, `docker stop`.

The image is the assembled root with the configuration the graph gives the image (environment,
entrypoint, exposed port, health check: pipeline/imageconfig.py and the plan), written as one
archive that ``docker load`` reads. :class:`DockerContainer` wraps one container by its id; its
``enter`` and ``network`` let the browser and root-window helpers of the boot checks reach it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.imageconfig import (
    ENTRYPOINT,
    HEALTH_INTERVAL_S,
    HEALTH_RETRIES,
    HEALTH_START_PERIOD_S,
    HEALTH_TIMEOUT_S,
    HEALTHCHECK,
    HTTP_PORT,
)
from pipeline.plan import Plan
from pipeline.smoke import DEFAULT_TIMEOUT
from tests.ociimage import ImageConfig, PlatformImage, write_archive

SECOND_NS = 1_000_000_000
HEALTHY_WITHIN = DEFAULT_TIMEOUT + 2 * HEALTH_INTERVAL_S
"""How long a fresh container may take to report healthy: the smoke time-out and two checks."""


class DockerError(RuntimeError):
    """A docker command failed; the message holds the command and its error output."""


def docker(*args: str, timeout: float = 600) -> str:
    """Run ``docker ARGS``; its stdout, or a DockerError with its stderr."""
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise DockerError(
            f"docker {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
        )
    return proc.stdout.strip()


def daemon_problem() -> str | None:
    """Why no Docker daemon can be used here, or None."""
    if shutil.which("docker") is None:
        return "no docker client on PATH (apt-get install docker.io)"
    proc = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                          timeout=30, check=False)  # fmt: skip
    if proc.returncode != 0:
        return f"no Docker daemon answers ({proc.stderr.strip()[-300:]}); .ci/run starts one with dockerd"
    return None


def image_config(plan: Plan) -> ImageConfig:
    """The runtime configuration the graph gives the plan's image (pipeline/graph.py ``image``)."""
    return ImageConfig(
        env=dict(plan.image_env),
        entrypoint=ENTRYPOINT,
        exposed_ports=(f"{HTTP_PORT}/tcp",),
        healthcheck=HEALTHCHECK,
        health_timing_ns={
            "Interval": HEALTH_INTERVAL_S * SECOND_NS,
            "Timeout": HEALTH_TIMEOUT_S * SECOND_NS,
            "StartPeriod": HEALTH_START_PERIOD_S * SECOND_NS,
            "Retries": HEALTH_RETRIES,
        },
    )


def load_archive(archive: Path) -> str:
    """`docker load` of an image archive; the image it loaded (its tag, else its id)."""
    said = docker("load", "-i", str(archive)).splitlines()[-1]
    for prefix in ("Loaded image ID: ", "Loaded image: "):
        if said.startswith(prefix):
            return said.removeprefix(prefix).strip()
    raise DockerError(f"docker load said {said!r}, which names no image")


def load_image(root: Path, plan: Plan, archive: Path, tag: str) -> str:
    """Load the image at ``root`` into Docker as ``tag``, with the plan's configuration; its image id."""
    write_archive(archive, PlatformImage(root, plan.arch, image_config(plan)), repo_tag=tag)
    try:
        load_archive(archive)
    finally:
        archive.unlink(missing_ok=True)
    return docker("image", "inspect", "--format", "{{.Id}}", tag)


@dataclass
class DockerContainer:
    """A running container, known by its id."""

    id: str

    def inspect(self) -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(docker("inspect", self.id))
        return found[0]

    @property
    def pid(self) -> int:
        return int(self.inspect()["State"]["Pid"])

    def health(self) -> str:
        state = self.inspect()["State"]
        return str(state.get("Health", {}).get("Status", "none")) if state["Running"] else "exited"

    def published_port(self) -> int:
        """The host port that ``HTTP_PORT`` is published on (on 127.0.0.1)."""
        return int(docker("port", self.id, f"{HTTP_PORT}/tcp").splitlines()[0].rsplit(":", 1)[1])

    def log_tail(self, lines: int = 40) -> str:
        proc = subprocess.run(["docker", "logs", "--tail", str(lines), self.id], capture_output=True, text=True,
                              timeout=30, check=False)  # fmt: skip
        return (proc.stdout + proc.stderr).strip()

    def exec(self, *argv: str, user: str | None = None) -> str:
        return docker("exec", *(["--user", user] if user else []), self.id, *argv)

    def enter(self, *, mount: bool = False) -> list[str]:
        """An nsenter prefix into the container's network and host name, as for booted images."""
        argv = ["nsenter", f"--target={self.pid}", "--net", "--uts"]
        if mount:
            argv += ["--mount", "--pid", "--root", "--wd"]
        return [*argv, "--"]


class HostSide:
    """Where a user's browser runs: this machine's own network, reaching the published port."""

    def enter(self, *, mount: bool = False) -> list[str]:
        return []

    @contextlib.contextmanager
    def network(self) -> Iterator[None]:
        yield


def wait_for_health(container: DockerContainer, timeout: float) -> float:
    """Poll Docker's own health status until "healthy"; the seconds it took. Fails with the log tail."""
    started = time.monotonic()
    status = "none"
    while time.monotonic() - started < timeout:
        status = container.health()
        if status == "healthy":
            return time.monotonic() - started
        if status in ("unhealthy", "exited"):
            break
        time.sleep(2)
    raise DockerError(f"the container is {status}, not healthy, after {time.monotonic() - started:.0f}s; "
                      f"its log:\n{container.log_tail()}")  # fmt: skip


def run_container(image: str, publish: str, volumes: Sequence[str] = ()) -> DockerContainer:
    """``docker run -d`` of ``image`` with a published port and volumes, nothing else."""
    args = ["run", "-d", "-p", publish]
    for volume in volumes:
        args += ["-v", volume]
    return DockerContainer(docker(*args, image))


def check_desktop_through_published_port(container: DockerContainer, picture: Path) -> None:
    """A browser on this machine opens the published port and sees the desktop the X server draws.

    The screenshot is saved to ``picture``; the assertions say what was seen when it is not so.
    """
    from tests.rehearsal import probes
    from tests.rehearsal.boot import wait_until
    from tests.rehearsal.browser import CLIENT_STATE, SCREEN_MATCH, browser, desktop_view
    from tests.rehearsal.pixels import Verdict, classify, differing_share

    with browser(HostSide()) as page:
        page.navigate(probes.BASE_URL)
        connected = wait_until(lambda: page.evaluate(CLIENT_STATE) == "connected", 60)
        assert connected, f"the client never connected; container log:\n{container.log_tail()}"
        shot, grab = desktop_view(page, container, ":1")
    shot.save(picture)
    assert differing_share(shot, grab) <= SCREEN_MATCH, "the browser does not show what the X server draws"
    verdict = classify(shot)
    assert verdict is Verdict.DESKTOP, f"no desktop through 127.0.0.1:{HTTP_PORT} ({verdict.value})"
