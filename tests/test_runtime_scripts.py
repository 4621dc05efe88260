"""The runtime init logic, run for real against a temporary root with fake system tools on PATH.

The scripts take every path from HELIOS_ROOT, so they run here unchanged; useradd, groupadd,
chpasswd, openssl, getent, chown and friends are small fakes that record their command lines (to
prove that no secret ever reaches an argv) and edit the fake /etc files. Service readiness and the
health state behind it are tested under s6's own rules in test_runtime_readiness.py.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.runtime_host import LIB, LIBEXEC, OVERLAY, Sandbox, contenv, idle_env, write_hook

# --- desktop user -------------------------------------------------------------------------------


def test_user_defaults_when_nothing_is_set(sandbox: Sandbox) -> None:
    result = sandbox.run("user.sh")
    assert "helios:x:1000:1000::/home/helios:/bin/bash" in sandbox.file("etc/passwd").read_text()
    assert "helios:x:1000:" in sandbox.file("etc/group").read_text()
    home = sandbox.file("home/helios")
    assert (home / ".profile").read_text() == "# skel profile\n"
    assert (home / ".config/user-dirs.dirs").is_file()
    assert (home / "Desktop").is_dir() and (home / "Downloads").is_dir()
    assert oct(home.stat().st_mode & 0o777) == "0o750"
    for runtime in ("run/helios/pulse", "run/user/1000"):
        assert oct(sandbox.file(runtime).stat().st_mode & 0o777) == "0o700"
    published = contenv(sandbox)
    assert published["USER"] == "helios" and published["UID"] == "1000" and published["GID"] == "1000"
    assert published["HELIOS_HOME"] == "/home/helios"
    assert not any(call.startswith("chpasswd") for call in sandbox.calls())
    assert "desktop user helios" in result.stderr


def test_user_from_env_reuses_an_existing_group_and_shared_uid(sandbox: Sandbox) -> None:
    with sandbox.file("etc/passwd").open("a") as passwd:
        passwd.write("ubuntu:x:5040:5040::/home/ubuntu:/bin/bash\n")
    sandbox.run("user.sh", USER="artist", UID="5040", GID="100")
    calls = sandbox.calls()
    assert not any(call.startswith("groupadd") for call in calls), "GID 100 (users) already exists"
    useradd = next(call for call in calls if call.startswith("useradd"))
    assert " -o " in useradd and "-u 5040" in useradd and "-g 100" in useradd
    assert contenv(sandbox)["UID"] == "5040"


def test_password_is_hashed_on_stdin_and_never_in_argv(sandbox: Sandbox) -> None:
    secret = "s3cr3t 'quo\"ted' $(touch /tmp/pwned) `x`"
    env_file = sandbox.file("run/s6/container_environment/PASSWORD")
    env_file.write_text(secret)
    sandbox.run("user.sh", PASSWORD=secret)
    fed = sandbox.file("chpasswd.stdin").read_text()
    assert fed.startswith("helios:$6$fakesalt$")
    assert secret not in fed
    assert "chpasswd -e" in sandbox.calls()
    assert all(secret not in call and "s3cr3t" not in call for call in sandbox.calls())
    assert not env_file.exists(), "later services must not see PASSWORD"


def test_existing_home_is_completed_not_overwritten(sandbox: Sandbox) -> None:
    home = sandbox.file("home/helios")
    (home / ".config").mkdir(parents=True)
    (home / ".config/user-dirs.dirs").write_text("mine\n")
    (home / "work.txt").write_text("keep\n")
    sandbox.run("user.sh")
    assert (home / ".config/user-dirs.dirs").read_text() == "mine\n"
    assert (home / "work.txt").read_text() == "keep\n"
    assert (home / ".profile").is_file(), "missing skel files are added"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"USER": "root"}, "USER=root is refused"),
        ({"USER": "Bad Name"}, "not a valid user name"),
        ({"UID": "0"}, "UID='0'"),
        ({"UID": "abc"}, "UID='abc'"),
        ({"GID": "-1"}, "GID='-1'"),
    ],
)
def test_invalid_user_settings_stop_with_a_reason(
    sandbox: Sandbox, env: dict[str, str], message: str
) -> None:
    result = sandbox.run("user.sh", check=False, **env)
    assert result.returncode != 0
    assert message in result.stderr
    assert not any(call.startswith("useradd") for call in sandbox.calls())


# --- sudo ------------------------------------------------------------------------------------------

# visudo -c [-q] -f FILE: parse FILE as sudoers and check that root owns it and that no one else may
# write it; exit 1 with the reason otherwise. The fake knows one rule shape, the user specs Helios writes.
FAKE_VISUDO = r"""
while getopts cqf: opt; do [ "$opt" = f ] && file="$OPTARG"; done
[ "$(stat -c %u "$file")" = 0 ] || { echo "$file: wrong owner" >&2; exit 1; }
case "$(stat -c %a "$file")" in 440 | 400) ;; *) echo "$file: bad permissions" >&2; exit 1 ;; esac
grep -v '^#' "$file" | grep -Eqx '[a-z_][a-z0-9_-]* ALL=\(ALL:ALL\) (NOPASSWD: )?ALL' ||
    { echo "$file: syntax error" >&2; exit 1; }
"""


@pytest.fixture
def sudo_sandbox(sandbox: Sandbox) -> Sandbox:
    """The sandbox with sudo's drop-in folder and visudo, as the sudo package leaves them."""
    sandbox.file("etc/sudoers.d").mkdir(mode=0o750)
    (sandbox.bin / "visudo").write_text(f'#!/bin/bash\necho "visudo $*" >> "$FAKE_LOG"\n{FAKE_VISUDO}')
    (sandbox.bin / "visudo").chmod(0o755)
    return sandbox


def test_settings_read_true_false_or_neither(sandbox: Sandbox) -> None:
    """SUDO, NVIDIA and the other switches share one reading: any case, and a third answer for
    anything else, which the caller reports instead of taking it as off."""
    words = ["1", "true", "YES", "On", "0", "false", "No", "OFF", "", "maybe", "truee"]
    script = "; ".join(
        f"if helios_is_true '{w}'; then echo true; elif helios_is_false '{w}'; then echo false; else echo neither; fi"
        for w in words
    )
    assert sandbox.bash(script).split() == ["true"] * 4 + ["false"] * 4 + ["neither"] * 3


@pytest.mark.parametrize(
    ("env", "rule"),
    [
        ({"SUDO": "true"}, "ada ALL=(ALL:ALL) NOPASSWD: ALL"),
        ({"SUDO": "Password", "PASSWORD": "pw"}, "ada ALL=(ALL:ALL) ALL"),
    ],
)
def test_sudo_drop_in_is_written_root_only_and_checked(
    sudo_sandbox: Sandbox, env: dict[str, str], rule: str
) -> None:
    result = sudo_sandbox.run("user.sh", USER="ada", **env)
    drop_in = sudo_sandbox.file("etc/sudoers.d/helios-user")
    assert rule in drop_in.read_text().splitlines()
    assert oct(drop_in.stat().st_mode & 0o777) == "0o440"
    if os.geteuid() == 0:
        assert drop_in.stat().st_uid == 0
    assert any(call.startswith("visudo -cqf") for call in sudo_sandbox.calls())
    assert "sudo enabled for ada" in result.stderr
    assert "pw" not in drop_in.read_text()


def test_sudo_is_taken_away_when_a_restart_turns_it_off(sudo_sandbox: Sandbox) -> None:
    sudo_sandbox.run("user.sh", SUDO="true")
    assert sudo_sandbox.file("etc/sudoers.d/helios-user").exists()
    sudo_sandbox.run("user.sh")
    assert not sudo_sandbox.file("etc/sudoers.d/helios-user").exists()


def test_sudo_with_password_but_no_password_stays_off(sudo_sandbox: Sandbox) -> None:
    result = sudo_sandbox.run("user.sh", SUDO="password")
    assert "SUDO=password needs PASSWORD" in result.stderr
    assert not sudo_sandbox.file("etc/sudoers.d/helios-user").exists()


def test_a_sudo_value_that_means_nothing_stops_the_start(sudo_sandbox: Sandbox) -> None:
    result = sudo_sandbox.run("user.sh", check=False, SUDO="al l")
    assert result.returncode != 0
    assert "SUDO='al l' is not a sudo setting" in result.stderr
    assert not list(sudo_sandbox.file("etc/sudoers.d").iterdir())


def test_a_rule_visudo_refuses_never_reaches_sudoers_d(sudo_sandbox: Sandbox) -> None:
    (sudo_sandbox.bin / "visudo").write_text('#!/bin/bash\necho "syntax error" >&2\nexit 1\n')
    result = sudo_sandbox.run("user.sh", check=False, SUDO="true")
    assert result.returncode != 0
    assert "visudo refused the sudo rule" in result.stderr
    assert not list(sudo_sandbox.file("etc/sudoers.d").iterdir())


# --- event hooks ----------------------------------------------------------------------------------


def test_init_hooks_run_in_lexical_order_and_failures_do_not_stop_boot(sandbox: Sandbox) -> None:
    hooks = sandbox.file("etc/helios/init.d")
    trace = sandbox.root / "trace"
    record = f'echo "$HELIOS_HOOK_NAME" >> "{trace}"'
    write_hook(hooks / "20-c.sh", f"{record}; exit 3")
    write_hook(hooks / "10-b.sh", record, executable=False)
    write_hook(hooks / "02-a", record)
    write_hook(hooks / "15-bundle/entrypoint.sh", record)
    write_hook(hooks / "30-d.sh", f'{record}; [ "$HELIOS_USER" = helios ]')
    write_hook(hooks / "Z-upper.sh", record)
    write_hook(hooks / "a-lower.sh", record)
    write_hook(hooks / ".hidden.sh", record)
    (hooks / "README").write_text("not a hook\n")
    (sandbox.root / "opt/helios").mkdir(parents=True)
    (sandbox.root / "opt/helios/kasmvnc.version").write_text("KasmVNC Version: 1.3.4\n")

    result = sandbox.run("init.sh")

    assert trace.read_text().split() == [
        "02-a",
        "10-b.sh",
        "15-bundle",
        "20-c.sh",
        "30-d.sh",
        "Z-upper.sh",
        "a-lower.sh",
    ]
    assert "hook 20-c.sh failed with exit code 3" in result.stderr
    assert "7 hook(s) run, 1 failed" in result.stderr
    assert "KasmVNC Version: 1.3.4" in result.stderr


def test_missing_hook_directory_is_not_an_error(sandbox: Sandbox) -> None:
    result = sandbox.run("init.sh")
    assert "no hooks in" in result.stderr


def test_shutdown_hooks_run_with_the_desktop_context(sandbox: Sandbox) -> None:
    trace = sandbox.root / "trace"
    write_hook(
        sandbox.file("etc/helios/shutdown.d/10-save.sh"), f'echo "$HELIOS_USER $DISPLAY" > "{trace}"; false'
    )
    result = sandbox.run("shutdown.sh", USER="artist")
    assert trace.read_text().strip() == "artist :1"
    assert "hook 10-save.sh failed with exit code 1" in result.stderr


def test_services_are_registered_for_supervision_and_removed_at_stop(sandbox: Sandbox) -> None:
    services = sandbox.file("etc/helios/services.d")
    write_hook(services / "10-sync.sh", "exec sleep 1000", executable=False)
    write_hook(services / "my agent", "exec sleep 1000")
    (services / "README").write_text("docs\n")
    scandir = sandbox.root / "run/service"
    scandir.mkdir(parents=True)

    sandbox.run("services.sh", "up", HELIOS_SCANDIR=str(scandir))

    agent = "helios-svc-my_agent-" + hashlib.sha256(b"my agent").hexdigest()[:8]
    links = sorted(path.name for path in scandir.iterdir())
    assert links == ["helios-svc-10-sync", agent]
    service = scandir / agent
    assert (service / "target").read_text().strip() == str(services / "my agent")
    run = service / "run"
    assert os.access(run, os.X_OK)
    assert "my agent" not in run.read_text(), "the entry's path is data, not code"

    sandbox.run("services.sh", "down", HELIOS_SCANDIR=str(scandir))
    assert list(scandir.iterdir()) == []


# --- devices and TLS ------------------------------------------------------------------------------


def test_device_groups_are_joined_and_created(sandbox: Sandbox) -> None:
    dri = sandbox.file("dev/dri")
    dri.mkdir(parents=True)
    for name, gid in (("renderD128", 4242), ("card0", 100), ("card1", 0)):
        device = dri / name
        device.write_text("")
        device.chmod(0o660)
        try:
            os.chown(device, 0, gid)
        except PermissionError:
            pytest.skip("changing a file's group needs root")
    result = sandbox.run("devices.sh", HELIOS_DEVICE_TYPE="f")
    calls = sandbox.calls()
    assert "groupadd -g 4242 helios-gid4242" in calls
    assert "usermod -a -G helios-gid4242 helios" in calls
    assert "usermod -a -G users helios" in calls
    assert not any("-G root" in call for call in calls), "never join the root group"
    assert "card1 belongs to group root" in result.stderr


def test_tls_pairs_nginx_once_root_only_and_kasmvnc_every_start(sandbox: Sandbox) -> None:
    sandbox.run("tls.sh")
    key = sandbox.file("var/lib/helios/tls/key.pem")
    assert key.read_text() == "key\n"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    kasmvnc_key = sandbox.file("run/helios/kasmvnc/key.pem")
    assert oct(kasmvnc_key.stat().st_mode & 0o777) == "0o640"
    calls = sandbox.calls()
    assert f"chown 0:0 {key} {key.with_name('cert.pem')}" in calls
    assert f"chown 0:1000 {kasmvnc_key}" in calls, "KasmVNC, as the desktop user, reads its own key"
    sandbox.run("tls.sh")
    requests = [call for call in sandbox.calls() if call.startswith("openssl req")]
    assert len(requests) == 3, "nginx's pair once, KasmVNC's at each start"
    assert (
        "subjectAltName=DNS:helios-kasmvnc" in requests[1] and "ec_paramgen_curve:prime256v1" in requests[1]
    )


# --- the X server's keymaps -------------------------------------------------------------------------


def test_the_x_servers_keymaps_go_to_a_folder_of_the_users_not_to_tmp(sandbox: Sandbox) -> None:
    """Xvnc writes its compiled keymap to /var/lib/xkb when it may, else to /tmp (the X server's
    xkb/ddxLoad.c, OutputDirectory): given to the user, a full /tmp no longer stops it."""
    folder = sandbox.file("var/lib/xkb")
    folder.mkdir(parents=True)
    (folder / "server-1.xkm").write_text("stale")
    (folder / "README.compiled").write_text("from the package")
    sandbox.bash("helios_keymap_dir 1000 1000")
    assert f"chown -h 1000:1000 {folder}" in sandbox.calls()
    assert sorted(path.name for path in folder.iterdir()) == ["README.compiled"]


def test_a_linked_keymap_folder_is_left_alone(sandbox: Sandbox, tmp_path: Path) -> None:
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir()
    sandbox.file("var/lib").mkdir(parents=True)
    sandbox.file("var/lib/xkb").symlink_to(elsewhere)
    result = subprocess.run(
        ["bash", "-c", f'source "{LIB}"; helios_keymap_dir 1000 1000'],
        env=sandbox.env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "is a symbolic link: keymaps go to /tmp" in result.stderr
    assert not any(call.startswith("chown") for call in sandbox.calls())


# --- health -----------------------------------------------------------------------------------------


def test_a_stale_ready_marker_is_cleared_at_every_start(sandbox: Sandbox) -> None:
    """A marker from an earlier run (or an image layer) must not make /healthz say ready early."""
    marker = sandbox.file("run/helios/health/ready")
    marker.parent.mkdir(parents=True)
    marker.write_text("ready")
    sandbox.file("run/helios/health/booted").touch()

    sandbox.run("init.sh")  # helios-init, the first service, before nginx can start

    assert not marker.exists()
    assert sandbox.run("health.sh", "update").stdout.strip() == "starting"
    assert not marker.exists()


def test_concurrent_health_updates_all_succeed(sandbox: Sandbox) -> None:
    """svc-health's watcher and helios-ready's boot mark both update the marker, at the same moment
    during boot: neither may fail because the other moved its half-written marker away."""
    # Every core service up and ready, never dead; kclient (pid 4242) PulseAudio's client.
    fakes = {
        "s6-svstat": '[ "$2" = pid ] && echo 4242 || echo true true',
        "s6-svdt": "exit 0",
        "s6-setuidgid": 'shift; exec "$@"',
        "pactl": """case "$*" in
            "list short modules") printf '1\\tmodule-pipe-source\\tfile=/run/helios/pulse/mic.sock x\\n' ;;
            "list clients") printf '\\t\\tapplication.process.id = "4242"\\n' ;;
        esac""",
    }
    for name, body in fakes.items():
        (sandbox.bin / name).write_text(f"#!/bin/bash\n{body}\n")
        (sandbox.bin / name).chmod(0o755)
    marker = sandbox.file("run/helios/health/ready")
    marker.parent.mkdir(parents=True)
    sandbox.file("run/helios/health/booted").touch()
    for _ in range(6):
        marker.unlink(missing_ok=True)
        updates = [
            subprocess.Popen(["bash", str(LIBEXEC / "health.sh"), "update"], env=sandbox.env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(24)
        ]  # fmt: skip
        outcomes = [(update.wait(timeout=60), *update.communicate()) for update in updates]
        failed = [outcome for outcome in outcomes if outcome[0] != 0]
        assert not failed, f"{len(failed)} of {len(updates)} updates failed, e.g. {failed[0][2]!r}"
        assert {outcome[1].strip() for outcome in outcomes} == {"ready"}
        assert marker.read_text() == "ready"
    assert sorted(path.name for path in marker.parent.iterdir()) == ["booted", "ready"], "no temp files left"


# --- supervision --------------------------------------------------------------------------------


def test_supervise_as_user_gives_the_users_environment_and_the_probe(sandbox: Sandbox) -> None:
    """The one exec line of the longruns that run as the desktop user: s6-notifyoncheck with the
    service's probe, then s6-setuidgid (ids only), the command seeing the user's HOME and names."""
    for name, body in {
        # s6-notifyoncheck [-w MS] [-n N] [-c CHECK] PROG...: runs PROG (the check is s6's business).
        "s6-notifyoncheck": 'while getopts w:n:c:t:d:s:3: opt; do :; done\nshift $((OPTIND - 1))\nexec "$@"',
        "s6-setuidgid": 'shift\nexec "$@"',
    }.items():
        (sandbox.bin / name).write_text(f'#!/bin/bash\necho "{name} $*" >> "$FAKE_LOG"\n{body}\n')
        (sandbox.bin / name).chmod(0o755)
    out = sandbox.bash(
        "helios_resolve_user; helios_supervise_as_user xvnc bash -c 'echo \"$HOME $USER $LOGNAME\"'",
        USER="ada",
        HOME="/root",
        LOGNAME="root",
    )
    assert out.split() == [f"{sandbox.root}/home/ada", "ada", "ada"]
    check = f"{sandbox.root}/opt/helios/libexec/check.sh xvnc"
    assert sandbox.calls()[0].startswith(f"s6-notifyoncheck -w 250 -n 0 -c {check} s6-setuidgid ada bash")
    assert sandbox.calls()[1].startswith("s6-setuidgid ada bash")


# --- audio ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", [None, "/run/user/1000/pulse"])
def test_pulseaudio_reads_the_mic_pipe_kclient_writes(sandbox: Sandbox, runtime: str | None) -> None:
    """default.pa is rendered with the same path that svc-kclient gives kclient as MIC_SOCKET."""
    pulse = sandbox.file("etc/helios/pulse")
    pulse.mkdir(parents=True)
    shutil.copy(OVERLAY / "etc/helios/pulse/default.pa", pulse / "default.pa")
    env = {"PULSE_RUNTIME_PATH": runtime} if runtime else {}
    rendered = sandbox.file("run/helios/pulse.pa")

    mic = sandbox.bash(f'helios_pulse_config "{rendered}"; helios_mic_socket', **env).strip()

    assert mic == f"{runtime or '/run/helios/pulse'}/mic.sock"
    pipe_source = next(line for line in rendered.read_text().splitlines() if "module-pipe-source" in line)
    assert f"file={mic} " in pipe_source
    assert "@" not in rendered.read_text()
    assert rendered.stat().st_mode & 0o644 == 0o644


def test_kclient_and_pulseaudio_take_the_mic_path_from_one_place() -> None:
    services = OVERLAY / "etc/s6-overlay/s6-rc.d"
    assert 'MIC_SOCKET="$(helios_mic_socket)"' in (services / "svc-kclient/run").read_text()
    assert "helios_pulse_config" in (services / "svc-pulseaudio/run").read_text()
    assert "mic.sock" not in (OVERLAY / "etc/helios/pulse/default.pa").read_text()


# --- idle -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("idle_ms", "fired", "expected"),
    [
        (0, 0, "reset 1800"),
        (1_799_500, 0, "reset 1"),
        (1_800_000, 0, "fire 30"),
        (2_000_000, 1, "wait 30"),
        (5, 1, "reset 1800"),
    ],
)
def test_idle_step_decisions(sandbox: Sandbox, idle_ms: int, fired: int, expected: str) -> None:
    assert sandbox.bash(f"helios_idle_step {idle_ms} 1800000 {fired} 30").strip() == expected


def test_idle_hooks_fire_once_per_idle_period_without_busy_looping(sandbox: Sandbox) -> None:
    trace = sandbox.root / "trace"
    write_hook(sandbox.file("etc/helios/idle.d/50-notify.sh"), f'echo fired >> "{trace}"')
    run = idle_env(sandbox, [0, 1_800_000, 1_900_000, 100, 1_800_001])
    result = run(IDLE_TIME="30", IDLE_POLL="30")
    assert trace.read_text().split() == ["fired", "fired"], result.stderr
    assert sandbox.file("sleeps").read_text().split() == ["1800", "30", "30", "1800", "30"]


@pytest.mark.parametrize(
    ("env", "hooks", "reason"),
    [
        ({"IDLE_TIME": "0"}, True, "IDLE_TIME=0"),
        ({"IDLE_TIME": "soon"}, True, "not a number"),
        ({"IDLE_TIME": "30"}, False, "no hooks"),
    ],
)
def test_idle_watcher_disables_itself_with_a_reason(
    sandbox: Sandbox, env: dict[str, str], hooks: bool, reason: str
) -> None:
    if hooks:
        write_hook(sandbox.file("etc/helios/idle.d/50-x.sh"), "true")
    result = sandbox.run("idle.sh", **env)
    assert reason in result.stderr
    assert "s6-pause " in sandbox.calls()


# --- library helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", "/"), ("/", "/"), ("desk", "/desk/"), ("/desk", "/desk/"), ("//a/b//", "/a/b/")],
)
def test_prefix_normalisation(sandbox: Sandbox, value: str, expected: str) -> None:
    assert sandbox.bash(f"helios_normalize_prefix '{value}'").strip() == expected


def test_template_rendering_is_literal_and_complete(sandbox: Sandbox, tmp_path: Path) -> None:
    template = tmp_path / "t.in"
    template.write_text("a=@A@ b=@B@ keep $HOME @lower@\n")
    out = tmp_path / "out"
    sandbox.bash(f"helios_render_template '{template}' '{out}' 'A=x & \\1 $(y)' B=2")
    assert out.read_text() == "a=x & \\1 $(y) b=2 keep $HOME @lower@\n"
    with pytest.raises(subprocess.CalledProcessError):
        sandbox.bash(f"helios_render_template '{template}' '{out}' A=1")
