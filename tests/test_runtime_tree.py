"""The runtime overlay is well-formed: s6-rc service tree, scripts, configuration files, image env."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
import xml.dom.minidom
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOT = REPO / "common" / "root"
S6RC = ROOT / "etc" / "s6-overlay" / "s6-rc.d"
IMAGE_TOML = REPO / "common" / "image.toml"

# Services that s6-overlay itself defines; ours may depend on them.
S6_OVERLAY_SERVICES = {"base"}
# What must be started for a working desktop behind GET /healthz.
REQUIRED_IN_USER_BUNDLE = {
    "helios-init",
    "helios-user",
    "helios-tls",
    "helios-nginx-config",
    "svc-nginx",
    "svc-pulseaudio",
    "svc-xvnc",
    "svc-kclient",
    "svc-desktop",
    "helios-ready",
    "svc-health",
}


def services() -> dict[str, Path]:
    """Every service definition directory of the tree, by name."""
    return {path.name: path for path in sorted(S6RC.iterdir()) if path.is_dir()}


def service_type(path: Path) -> str:
    return (path / "type").read_text().strip()


def dependencies(path: Path) -> set[str]:
    deps = path / "dependencies.d"
    return {dep.name for dep in deps.iterdir()} if deps.is_dir() else set()


def test_every_service_has_a_valid_type_and_entry_point() -> None:
    found = services()
    assert found, "no s6-rc service definitions"
    for name, path in found.items():
        kind = service_type(path)
        assert kind in {"oneshot", "longrun", "bundle"}, f"{name}: bad type {kind!r}"
        if kind == "oneshot":
            assert (path / "up").is_file(), f"{name}: oneshot without up"
            assert (path / "up").read_text().strip(), f"{name}: empty up"
        elif kind == "longrun":
            run = path / "run"
            assert run.is_file(), f"{name}: longrun without run"
            assert os.access(run, os.X_OK), f"{name}: run is not executable"
        else:
            assert (path / "contents.d").is_dir(), f"{name}: bundle without contents.d"


def test_dependencies_and_bundle_contents_exist() -> None:
    found = services()
    known = set(found) | S6_OVERLAY_SERVICES
    for name, path in found.items():
        missing = dependencies(path) - known
        assert not missing, f"{name} depends on unknown {sorted(missing)}"
        contents = path / "contents.d"
        if contents.is_dir():
            unknown = {entry.name for entry in contents.iterdir()} - known
            assert not unknown, f"bundle {name} holds unknown {sorted(unknown)}"


def test_service_graph_has_no_cycle() -> None:
    found = services()
    graph = {name: dependencies(path) & set(found) for name, path in found.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 2:
            return
        assert state.get(node) != 1, "dependency cycle: " + " -> ".join([*trail, node])
        state[node] = 1
        for dep in sorted(graph[node]):
            visit(dep, [*trail, node])
        state[node] = 2

    for name in graph:
        visit(name, [])


def test_user_bundle_starts_the_desktop() -> None:
    user = S6RC / "user"
    assert service_type(user) == "bundle"
    contents = {entry.name for entry in (user / "contents.d").iterdir()}
    assert contents >= REQUIRED_IN_USER_BUNDLE
    # Everything we define is started by the bundle, directly.
    assert contents == set(services()) - {"user"}


def test_ready_marker_waits_for_every_core_longrun() -> None:
    found = services()

    def closure(name: str) -> set[str]:
        seen: set[str] = set()
        todo = [name]
        while todo:
            for dep in dependencies(found[todo.pop()]) & set(found):
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen

    before_ready = closure("helios-ready")
    longruns = {name for name, path in found.items() if service_type(path) == "longrun"}
    assert longruns - {"svc-health"} <= before_ready
    # The shutdown hooks go down before the desktop: they depend on it.
    assert {"svc-desktop", "svc-xvnc", "svc-pulseaudio"} <= dependencies(found["helios-shutdown"])
    # The user exists before anything runs as that user.
    for name in ("svc-pulseaudio", "svc-xvnc", "svc-kclient", "svc-desktop"):
        assert "helios-user" in closure(name)


def test_every_longrun_notifies_readiness() -> None:
    """s6-supervise sets a longrun's ready flag only from a newline on its notification-fd (it clears
    the flag at every start), and health and s6-rc wait for that flag: every longrun declares the fd
    and writes to it, through helios_supervise (s6-notifyoncheck) and a probe of check.sh, or
    helios_notify_ready in the program it runs."""
    check = (ROOT / "opt/helios/libexec/check.sh").read_text()
    for name, path in services().items():
        if service_type(path) != "longrun":
            continue
        assert (path / "notification-fd").read_text().strip() == "3", f"{name}: no notification-fd"
        run = (path / "run").read_text()
        assert "s6-notifyoncheck" not in run, f"{name}: supervise through helios_supervise"
        probe = re.search(r"^helios_supervise(?:_as_user)? (\w+) ", run, re.MULTILINE)
        if probe:
            assert f"    {probe.group(1)})" in check, f"{name}: check.sh has no probe {probe.group(1)}"
            continue
        program = re.search(r"^exec (/opt/helios/libexec/\S+)", run, re.MULTILINE)
        assert program, f"{name}: neither s6-notifyoncheck nor a helper that notifies"
        assert "helios_notify_ready" in (ROOT / program.group(1).lstrip("/")).read_text()


def test_every_service_runs_the_script_named_after_it() -> None:
    """Service helios-X or svc-X runs /opt/helios/libexec/X.sh, and its readiness probe is
    `check.sh X`, so a service name leads to its code; svc-desktop runs the documented override
    point /opt/helios/startwm.sh, the three daemons (kclient, nginx, PulseAudio) run themselves."""
    for name, path in services().items():
        stem = re.sub(r"^(helios|svc)-", "", name)
        for entry in ("up", "run", "down"):
            if not (path / entry).is_file():
                continue
            text = (path / entry).read_text()
            for script in re.findall(r"/opt/helios/libexec/([\w.-]+)\.sh", text):
                assert script == stem, f"{name}/{entry} runs {script}.sh: name one after the other"
            probe = re.search(r"^helios_supervise(?:_as_user)? (\S+) ", text, re.MULTILINE)
            if probe:
                assert probe.group(1) == stem, f"{name}/{entry} is probed as {probe.group(1)}"
    libexec = {path.stem for path in (ROOT / "opt/helios/libexec").glob("*.sh")}
    named = {re.sub(r"^(helios|svc)-", "", name) for name in services()}
    # check.sh probes the services, service-run.sh runs each services.d entry (helios-svc-*).
    assert libexec - named == {"check", "service-run"}


def test_no_run_script_spells_out_the_desktop_user_environment() -> None:
    """helios_supervise_as_user is the one place that gives a process the desktop user's HOME,
    USER and LOGNAME before dropping to it."""
    for path in S6RC.glob("*/run"):
        text = path.read_text()
        assert not re.search(r"\b(HOME|LOGNAME)=", text), f"{path}: use helios_supervise_as_user"
        assert "s6-setuidgid" not in text, f"{path}: use helios_supervise_as_user"


def test_no_service_is_backgrounded_and_daemons_run_in_the_foreground() -> None:
    for path in S6RC.rglob("*"):
        if path.name in {"run", "up", "down"}:
            text = path.read_text()
            assert not re.search(r"&\s*$", text, re.MULTILINE), f"{path} starts something in the background"
    assert "daemon off;" in (S6RC / "svc-nginx/run").read_text()
    assert "--daemonize=no" in (S6RC / "svc-pulseaudio/run").read_text()


def test_commands_named_by_up_and_down_files_exist_and_are_executable() -> None:
    for path in S6RC.rglob("*"):
        if path.name not in {"up", "down"} or not path.is_file():
            continue
        for word in path.read_text().split():
            if word.startswith("/opt/helios/"):
                target = ROOT / word.lstrip("/")
                assert target.is_file(), f"{path}: {word} is not in the overlay"
                assert os.access(target, os.X_OK), f"{word} is not executable"


def test_scripts_are_executable_with_headers() -> None:
    scripts = [*(ROOT / "opt/helios/libexec").iterdir(), ROOT / "opt/helios/startwm.sh"]
    for script in scripts:
        assert os.access(script, os.X_OK), f"{script} is not executable"
        lines = script.read_text().splitlines()
        assert lines[0] == "#!/bin/bash", f"{script}: unexpected shebang"
        assert lines[1].startswith("# "), f"{script}: no header comment"
        assert "set -euo pipefail" in script.read_text() or script.name == "check.sh"
    # Nothing in the overlay carries setuid/setgid/sticky bits.
    for path in ROOT.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert path.stat().st_mode & 0o7000 == 0, f"{path} has special mode bits"


def test_nothing_is_shipped_under_run() -> None:
    """/run is per-boot state (health markers, sockets): an overlay must not seed it."""
    overlays = [ROOT, *sorted((REPO / "distros").glob("*/root"))]
    shipped = [path for overlay in overlays for path in (overlay / "run", overlay / "var/run")]
    assert not [str(path) for path in shipped if path.exists()]


def test_no_private_key_or_secret_is_shipped() -> None:
    for path in ROOT.rglob("*"):
        if path.is_file() and path.suffix != ".jpg":
            text = path.read_text(errors="replace")
            assert "PRIVATE KEY-----" not in text, f"{path} holds a private key"
    assert not list(ROOT.rglob("*.key")) and not list(ROOT.rglob("*.pem"))


def test_xfce_defaults_are_well_formed_xml() -> None:
    files = list((ROOT / "etc/xdg/xfce4").rglob("*.xml"))
    assert files
    for path in files:
        xml.dom.minidom.parse(str(path))
    desktop = (ROOT / "etc/xdg/xfce4/xfconf/xfce-perchannel-xml/xfce4-desktop.xml").read_text()
    assert "/usr/share/backgrounds/background.jpg" in desktop
    assert (ROOT / "usr/share/backgrounds/background.jpg").read_bytes()[:3] == b"\xff\xd8\xff"


def test_kasmvnc_config_keeps_kasmvnc_on_loopback() -> None:
    text = (ROOT / "etc/helios/kasmvnc.yaml").read_text()
    assert re.search(r"^\s+interface: 127\.0\.0\.1$", text, re.MULTILINE)
    assert re.search(r"^\s+websocket_port: 6901$", text, re.MULTILINE)
    assert "snakeoil" not in text
    # TLS, its pair and its login come from xvnc.sh's command line, which no file overrides.
    assert not re.search(r"^\s*(ssl|kasm_password_file):", text, re.MULTILINE)
    xvnc = (ROOT / "opt/helios/libexec/xvnc.sh").read_text()
    for flag in ("-KasmPasswordFile", "-sslOnly 1", "-cert", "-key", "-SecurityTypes None"):
        assert flag in xvnc, flag
    assert "-disableBasicAuth" not in xvnc.split("set -euo pipefail", 1)[1]


def test_image_env_defaults() -> None:
    data = tomllib.loads(IMAGE_TOML.read_text())
    assert set(data) == {"env"}, "the pipeline reads only [env]"
    env = data["env"]
    assert all(isinstance(value, str) for value in env.values())
    for unset in ("USER", "UID", "GID", "PASSWORD"):
        assert unset not in env, f"{unset} must have no default in the image"
    assert env["HTTP_PORT"] == "3000"
    assert env["PREFIX"] == "/"
    assert env["DISPLAY"] == ":1"
    assert env["IDLE_TIME"].isdigit()
    assert env["PULSE_SERVER"] == "unix:" + env["PULSE_RUNTIME_PATH"] + "/native"
    assert env["S6_BEHAVIOUR_IF_STAGE2_FAILS"] == "2"
    assert int(env["S6_CMD_WAIT_FOR_SERVICES_MAXTIME"]) > 0
    assert env["PATH"].startswith("/command:")


def test_every_image_variable_is_documented() -> None:
    docs = (REPO / "docs" / "runtime.md").read_text()
    names = [*tomllib.loads(IMAGE_TOML.read_text())["env"], "USER", "UID", "GID", "PASSWORD"]
    for name in names:
        assert f"`{name}`" in docs, f"docs/runtime.md does not describe {name}"


@pytest.mark.parametrize("listen", ["6900", "6900, '127.0.0.1'", "{port: 6900, host: '0.0.0.0'}", "'6900'"])
def test_kclient_preload_puts_every_tcp_listener_on_the_socket(tmp_path: Path, listen: str) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    socket_path = tmp_path / "kclient.sock"
    server = tmp_path / "server.js"
    server.write_text(
        f"const http = require('http');\n"
        f"const tcp = http.createServer(); tcp.listen({listen}, () => {{\n"
        f"  const own = http.createServer(); own.listen('{tmp_path}/own.sock', () => {{\n"
        f"    console.log(tcp.address() + ' ' + own.address()); tcp.close(); own.close(); }});\n"
        f"}});\n"
    )
    preload = ROOT / "opt/helios/lib/kclient-socket.js"
    result = subprocess.run(
        [node, "--require", str(preload), str(server)],
        env={"PATH": os.environ["PATH"], "HELIOS_KCLIENT_SOCKET": str(socket_path)},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert result.stdout.split() == [str(socket_path), f"{tmp_path}/own.sock"], "a path stays as it is"


def test_session_defaults_keep_a_session_to_start() -> None:
    """Our xfce4-session.xml replaces the package's, which defines the session xfce4-session
    starts when the user has none saved. Without it the desktop comes up empty: no window
    manager, panel or desktop."""
    path = ROOT / "etc/xdg/xfce4/xfconf/xfce-perchannel-xml/xfce4-session.xml"
    doc = xml.dom.minidom.parse(str(path))

    def child(parent, name: str):
        found = [n for n in parent.childNodes if getattr(n, "tagName", "") == "property"]
        matches = [n for n in found if n.getAttribute("name") == name]
        assert matches, f"{path.name}: no property {name!r}"
        return matches[0]

    channel = doc.documentElement
    failsafe = child(child(channel, "general"), "FailsafeSessionName").getAttribute("value")
    session = child(child(channel, "sessions"), failsafe)
    count = int(child(session, "Count").getAttribute("value"))
    commands = {
        child(session, f"Client{i}_Command").getElementsByTagName("value")[0].getAttribute("value")
        for i in range(count)
    }
    assert {"xfwm4", "xfce4-panel", "xfdesktop", "xfsettingsd"} <= commands
