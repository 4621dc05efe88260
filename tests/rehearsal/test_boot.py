"""Boot the assembled image as a runtime would and use it as a user would, with a real browser.

One container boots for the whole module with a marker hook in /etc/helios/shutdown.d; the tests
run in file order against it and the last one stops it. A second container, with the desktop
session disabled, shows that the checks fail when the desktop is not there.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.plan import Planner
from pipeline.platforms import host_default
from pipeline.smoke import DEFAULT_TIMEOUT
from pipeline.tree import LocalTree
from tests.rehearsal import probes
from tests.rehearsal.boot import BootError, Container, booted, wait_until
from tests.rehearsal.browser import (
    CLIENT_STATE,
    SCREEN_MATCH,
    DevTools,
    browser,
    chromium_binary,
    desktop_view,
)
from tests.rehearsal.chroot import CACHE
from tests.rehearsal.pixels import Verdict, classify, differing_share
from tests.rehearsal.results import REPO, Results

pytestmark = pytest.mark.real_versions  # the image was built from the real pins: plan with them
STATE = CACHE / "boot"
MARKER = "/var/lib/helios/rehearsal-shutdown-marker"
MARKER_HOOK = f"""#!/bin/bash
# Written by the rehearsal: proves shutdown.d runs at container stop, as root, with the user known.
echo "$HELIOS_HOOK_NAME ran as $(id -un) for $HELIOS_USER" > {MARKER}
"""


def image_env() -> dict[str, str]:
    """The container environment: the image configuration the plan gives the Debian image."""
    return dict(Planner(LocalTree(REPO)).plan("debian", host_default()).image_env)


def fresh_state(name: str, files: dict[str, str]) -> Path:
    """A new writable layer holding ``files`` (path in the container -> text, made executable)."""
    state = STATE / name
    shutil.rmtree(state, ignore_errors=True)
    for path, text in files.items():
        target = state / "upper" / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(0o755)
    return state


@pytest.fixture(scope="module")
def desktop(image_root: Path, results: Results) -> Iterator[Container]:
    """The image booted with the documented environment; stopped at the latest when the module ends."""
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        pytest.skip("booting needs util-linux's unshare and nsenter")
    state = fresh_state("desktop", {"/etc/helios/shutdown.d/50-rehearsal-marker": MARKER_HOOK})
    with booted(image_root, state, image_env()) as container:
        yield container
    shutil.copy(state / "container.log", results.dir / "container.log")


def test_healthz_turns_200_within_the_smoke_timeout(desktop: Container, results: Results) -> None:
    before = probes.get(desktop, "healthz")
    seconds = probes.wait_healthy(desktop, DEFAULT_TIMEOUT)
    results.timing("boot: /init to /healthz 200", seconds)
    assert before.status in (0, 200, 503)


def test_root_serves_the_web_client(desktop: Container) -> None:
    page = probes.get(desktop)
    assert page.status == 200
    assert b"<iframe" in page.body and b"vnc/index.html" in page.body, page.body[:400]
    client = probes.get(desktop, "vnc/index.html")
    assert client.status == 200 and b"<html" in client.body.lower()


def test_websocket_upgrades_and_speaks_rfb(desktop: Container) -> None:
    assert probes.rfb_greeting(desktop) == probes.RFB_VERSION


NO_BROWSER = pytest.mark.skipif(
    chromium_binary() is None, reason="no Chromium here (apt-get install chromium)"
)


def connected(page: DevTools, timeout: float = 60) -> str:
    """Load the client and poll until it reports connected; its last state."""
    page.navigate(probes.BASE_URL)
    wait_until(lambda: page.evaluate(CLIENT_STATE) == "connected", timeout)
    return str(page.evaluate(CLIENT_STATE))


@NO_BROWSER
def test_browser_shows_the_desktop_the_x_server_draws(desktop: Container, results: Results) -> None:
    """The browser's screenshot is the X server's root window, up to encoding loss, and a desktop."""
    display = image_env()["DISPLAY"]
    with browser(desktop) as page:
        started = time.monotonic()
        assert connected(page) == "connected", f"the client never connected:\n{desktop.log_tail()}"
        results.timing("browser: page load to client connected", time.monotonic() - started)

        shot, grab = desktop_view(page, desktop, display)
    shot.save(results.dir / "desktop.png")
    grab.save(results.dir / "x-root-window.png")
    difference = differing_share(shot, grab)
    results.record("screenshot vs X root window (pixels differing)", f"{difference:.2%}")
    assert difference <= SCREEN_MATCH, (
        f"the browser does not show what the X server draws: {difference:.1%} of pixels differ "
        f"(sizes {shot.size} and {grab.size}); see {results.dir}"
    )
    assert classify(shot) is Verdict.DESKTOP, f"no XFCE desktop in the screenshot ({classify(shot).value})"


def test_idle_memory(desktop: Container, results: Results) -> None:
    time.sleep(5)  # let the session settle after the browser left
    memory = desktop.memory()
    results.record(
        "idle memory of the booted desktop (PSS, all processes)", f"{memory['pss_kib'] / 1024:.0f} MiB"
    )
    results.record("idle memory of the booted desktop (RSS sum)", f"{memory['rss_kib'] / 1024:.0f} MiB")
    assert memory["processes"] > 5 and memory["pss_kib"] > 0


def test_stop_runs_shutdown_hooks_and_leaves_nothing(desktop: Container, results: Results) -> None:
    started = time.monotonic()
    code = desktop.stop()
    results.timing("stop: SIGTERM to exit", time.monotonic() - started)
    marker = desktop.upper / MARKER.lstrip("/")
    assert marker.is_file(), f"the shutdown.d hook did not run:\n{desktop.log_tail()}"
    assert marker.read_text().strip() == "50-rehearsal-marker ran as root for helios"
    assert code == 0, f"/init exited {code}:\n{desktop.log_tail()}"
    assert desktop.leftovers() == []


# ── When there is no desktop, the checks say so ─────────────────────────────────────────────


NO_SESSION = """#!/bin/bash
# Written by the rehearsal: a session that never starts, to see the checks fail.
echo "rehearsal: desktop session disabled" >&2
exit 1
"""


@pytest.fixture(scope="module")
def no_desktop(image_root: Path, desktop: Container) -> Iterator[Container]:
    """The image booted with a desktop session that always fails (after the real one stopped)."""
    assert not desktop.running(), "the desktop container must be stopped first (test order)"
    state = fresh_state("no-desktop", {"/opt/helios/startwm.sh": NO_SESSION})
    with booted(image_root, state, image_env()) as container:
        yield container
    assert container.leftovers() == []


def test_healthz_failure_gives_the_log_tail(no_desktop: Container) -> None:
    with pytest.raises(BootError) as failure:
        probes.wait_healthy(no_desktop, 20)
    assert "/healthz did not turn 200 within 20s (last: 503 b'starting')" in str(failure.value)
    assert "rehearsal: desktop session disabled" in str(failure.value), "the log tail names the cause"


@NO_BROWSER
def test_screenshot_check_fails_without_a_desktop(no_desktop: Container, results: Results) -> None:
    """The classifier sees no desktop on the real pages: no session, X down, web client down."""
    with browser(no_desktop) as page:
        assert connected(page) == "connected"
        time.sleep(2)
        seen = {"no session": page.screenshot()}
        run(no_desktop, "/command/s6-svc", "-d", "/run/service/svc-xvnc")
        page.navigate(probes.BASE_URL)
        wait_until(lambda: page.evaluate(CLIENT_STATE) in ("connecting", "disconnected"), 20)
        seen["X server down"] = page.screenshot()
        run(no_desktop, "/command/s6-svc", "-d", "/run/service/svc-kclient")
        wait_until(lambda: probes.get(no_desktop).status == 502, 20)
        page.navigate(probes.BASE_URL)
        time.sleep(1)
        seen["web client down"] = page.screenshot()
    verdicts = {name: classify(shot) for name, shot in seen.items()}
    for name, shot in seen.items():
        shot.save(results.dir / f"no-desktop-{name.replace(' ', '-')}.png")
    assert verdicts["web client down"] is Verdict.DOWN
    assert Verdict.DESKTOP not in verdicts.values(), verdicts


def run(container: Container, *argv: str) -> None:
    """Run a command inside the container (its namespaces and root), as root."""
    import subprocess

    subprocess.run([*container.enter(mount=True), *argv], check=True, capture_output=True, timeout=30)
