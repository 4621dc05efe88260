"""The runtime settings of docs/runtime.md, used for real in the booted image.

The image boots once with sudo, a German locale and a German keyboard asked for, and the tests
look at what the desktop user gets: sudo without a password, the locale built by localedef and in
the session's environment, and the layout on the X server. A GPU cannot be tried here.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.smoke import DEFAULT_TIMEOUT
from tests.rehearsal import probes
from tests.rehearsal.boot import Container, booted, wait_until
from tests.rehearsal.browser import XAUTHORITY
from tests.rehearsal.results import Results
from tests.rehearsal.test_boot import fresh_state, image_env

pytestmark = pytest.mark.real_versions  # the image was built from the real pins: plan with them

SETTINGS = {"SUDO": "true", "LANG": "de_DE.UTF-8", "KEYBOARD_LAYOUT": "de", "KEYBOARD_VARIANT": "nodeadkeys"}
USER = "helios"


@pytest.fixture(scope="module")
def configured(image_root: Path, results: Results) -> Iterator[Container]:
    """The image booted with SETTINGS over the documented environment, until the desktop is ready."""
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        pytest.skip("booting needs util-linux's unshare and nsenter")
    state = fresh_state("settings", {})
    with booted(image_root, state, {**image_env(), **SETTINGS}) as container:
        seconds = probes.wait_healthy(container, DEFAULT_TIMEOUT)
        results.timing("boot with SUDO, LANG and KEYBOARD_LAYOUT: /init to /healthz 200", seconds)
        yield container
    shutil.copy(state / "container.log", results.dir / "settings-container.log")


def as_user(container: Container, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside the container as the desktop user, with the session's display."""
    display = image_env()["DISPLAY"]
    return subprocess.run(
        [*container.enter(mount=True), "/command/s6-setuidgid", USER,
         "env", f"HOME=/home/{USER}", f"DISPLAY={display}", f"XAUTHORITY={XAUTHORITY}", *argv],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def session_environment(container: Container) -> dict[str, str]:
    """The environment of the running XFCE session (empty while it has not started)."""
    for pid in container.processes():
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "xfce4-session":
                raw = Path(f"/proc/{pid}/environ").read_bytes()
                return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
        except OSError:
            continue  # the process ended while we looked
    return {}


def test_sudo_true_gives_the_desktop_user_root_without_a_password(configured: Container) -> None:
    done = as_user(configured, "sudo", "-n", "id", "-u")
    assert (done.returncode, done.stdout.strip()) == (0, "0"), f"{done.stderr}\n{configured.log_tail()}"


def test_the_session_runs_in_the_locale_asked_for(configured: Container) -> None:
    built = as_user(configured, "locale", "-a")
    assert "de_DE.utf8" in built.stdout.split(), f"locale -a: {built.stdout!r}\n{configured.log_tail()}"
    session = wait_until(lambda: session_environment(configured), 30)
    assert session, f"no xfce4-session process:\n{configured.log_tail()}"
    assert session.get("LANG") == "de_DE.UTF-8", session.get("LANG")
    assert session.get("XKB_DEFAULT_LAYOUT") == "de", session.get("XKB_DEFAULT_LAYOUT")


def keyboard(container: Container) -> dict[str, str]:
    """What `setxkbmap -query` reports of the X server's keyboard (empty if it cannot tell)."""
    query = as_user(container, "setxkbmap", "-query")
    lines = query.stdout.splitlines() if query.returncode == 0 else []
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in lines)}


def test_the_x_server_has_the_keyboard_layout_asked_for(configured: Container) -> None:
    # The X server answers (and /healthz may say ready) a moment before the session's start script
    # has set the layout: poll for it.
    fields = wait_until(lambda: (found := keyboard(configured)).get("layout") == "de" and found, 30)
    fields = fields or keyboard(configured)
    assert fields.get("layout") == "de", f"{fields}\n{configured.log_tail()}"
    assert fields.get("variant") == "nodeadkeys", fields
