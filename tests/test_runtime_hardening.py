"""Hostile settings and hooks against the runtime scripts, run for real in a temporary root.

Same sandbox as test_runtime_scripts.py (tests/runtime_host.py): the overlay scripts run unchanged
with HELIOS_ROOT pointing at a temporary tree and small fakes of the system tools on PATH. Hook time
limits use the host's real coreutils `timeout`, whose exit codes (124 after TERM, 137 after KILL) the
runner relies on.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.runtime_host import LIB, Sandbox, contenv, idle_env, render, write_hook

# --- numbers ---------------------------------------------------------------------------------------

TWO_POW_32_PLUS_1000 = str(2**32 + 1000)
TWO_POW_64_PLUS_1000 = str(2**64 + 1000)  # wraps around to 1000 in bash's 64-bit arithmetic


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("8", "8"),
        ("08", "8"),
        ("010", "10"),
        ("0000", "0"),
        ("4294967295", "4294967295"),
        ("", None),
        ("-1", None),
        ("+5", None),
        (" 5", None),
        ("5 ", None),
        ("0x10", None),
        ("1e3", None),
        ("١٢", None),  # Arabic-Indic digits
        (TWO_POW_64_PLUS_1000, None),
        ("9" * 19, None),
        ("0" * 30 + "7", "7"),
    ],
)
def test_decimal_parser_is_strict_and_never_octal(sandbox: Sandbox, value: str, expected: str | None) -> None:
    code = f"helios_decimal '{value}' 0 99999999999 || echo refused"
    assert sandbox.bash(code, LC_ALL="C.UTF-8").strip() == (expected or "refused")


@pytest.mark.parametrize(("uid", "canonical"), [("08", "8"), ("010", "10"), ("0001000", "1000")])
def test_uid_and_gid_with_leading_zeros_are_decimal(sandbox: Sandbox, uid: str, canonical: str) -> None:
    sandbox.run("user.sh", UID=uid, GID=uid)
    useradd = next(call for call in sandbox.calls() if call.startswith("useradd"))
    assert f"-u {canonical} -g {canonical} " in useradd
    published = contenv(sandbox)
    assert published["UID"] == canonical and published["GID"] == canonical
    assert published["XDG_RUNTIME_DIR"] == f"/run/user/{canonical}"
    assert sandbox.file(f"run/user/{canonical}").is_dir()


@pytest.mark.parametrize("name", ["UID", "GID"])
@pytest.mark.parametrize("value", [TWO_POW_32_PLUS_1000, TWO_POW_64_PLUS_1000, "1" + "0" * 40])
def test_ids_past_the_range_are_refused_not_wrapped(sandbox: Sandbox, name: str, value: str) -> None:
    result = sandbox.run("user.sh", check=False, **{name: value})
    assert result.returncode != 0
    assert f"{name}='{value}' must be a decimal number between 1 and 2147483646" in result.stderr
    assert not any(call.startswith(("useradd", "groupadd")) for call in sandbox.calls())


def test_idle_time_with_a_leading_zero_is_read_as_decimal(sandbox: Sandbox) -> None:
    write_hook(sandbox.file("etc/helios/idle.d/50-x.sh"), "true")
    run = idle_env(sandbox, [0])
    result = run(IDLE_TIME="08", IDLE_POLL="010")
    assert "running idle.d after 8 minute(s) without input" in result.stderr
    assert sandbox.file("sleeps").read_text().split() == ["480"]


@pytest.mark.parametrize("value", [TWO_POW_64_PLUS_1000, "525601", "-5"])
def test_idle_time_out_of_range_disables_the_watcher(sandbox: Sandbox, value: str) -> None:
    write_hook(sandbox.file("etc/helios/idle.d/50-x.sh"), "true")
    result = sandbox.run("idle.sh", IDLE_TIME=value)
    assert f"IDLE_TIME='{value}' is not a number of minutes" in result.stderr
    assert "s6-pause " in sandbox.calls()


def test_a_nonsense_idle_sample_is_not_taken_for_an_idle_time(sandbox: Sandbox) -> None:
    trace = sandbox.root / "trace"
    write_hook(sandbox.file("etc/helios/idle.d/50-x.sh"), f'echo fired >> "{trace}"')
    run = idle_env(sandbox, [int(TWO_POW_64_PLUS_1000), 0])
    run(IDLE_TIME="1", IDLE_POLL="7")
    assert not trace.exists(), "a wrapped-around sample must not fire the idle hooks"
    assert sandbox.file("sleeps").read_text().split() == ["7", "60"]


@pytest.mark.parametrize(
    ("port", "valid"), [("3000", True), ("08", False), ("65536", False), ("1" + "0" * 20, False)]
)
def test_ports_are_plain_decimal(sandbox: Sandbox, port: str, valid: bool) -> None:
    verdict = sandbox.bash(f"helios_validate_port '{port}' && echo ok || echo refused").strip()
    assert verdict == ("ok" if valid else "refused")


# --- on/off settings -------------------------------------------------------------------------------

SWITCHES = ["HTTPS", "DISABLE_IPV6", "HW3D", "HELIOS_ALLOW_SYSTEM_ACCOUNT"]


@pytest.mark.parametrize("name", [*SWITCHES, "NVIDIA"])
@pytest.mark.parametrize("value", ["tru", "enabled", "2", " true"])
def test_a_mistyped_switch_stops_the_boot_at_its_first_step(sandbox: Sandbox, name: str, value: str) -> None:
    result = sandbox.run("init.sh", check=False, **{name: value})
    assert result.returncode != 0
    assert f"{name}='{value}' is " in result.stderr and "true" in result.stderr
    assert "fix the setting(s) above and start again" in result.stderr


@pytest.mark.parametrize("value", ["", "true", "FALSE", "1", "0", "yes", "Off"])
def test_every_spelling_of_on_and_off_passes_the_boot_check(sandbox: Sandbox, value: str) -> None:
    result = sandbox.run("init.sh", **dict.fromkeys([*SWITCHES, "NVIDIA"], value))
    assert "settings" not in result.stderr
    assert sandbox.run("init.sh", NVIDIA="Auto").returncode == 0


@pytest.mark.parametrize(
    ("value", "state"), [("", "off"), ("true", "on"), ("On", "on"), ("0", "off"), ("tru", "refused")]
)
def test_a_switch_reads_on_off_or_refuses(sandbox: Sandbox, value: str, state: str) -> None:
    code = "helios_switch_state HTTPS || echo refused"
    assert sandbox.bash(code, HTTPS=value).strip() == state


def test_https_mistyped_never_serves_plain_http(tmp_path: Path) -> None:
    """HTTPS=tru once rendered a plain-HTTP listener without a word."""
    result = render(tmp_path, check=False, HTTPS="tru")
    assert result.returncode != 0
    assert "HTTPS='tru' is neither on nor off" in result.stderr
    assert not (tmp_path / "run/helios/nginx/nginx.conf").exists()


# --- hook time limits ------------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_hanging_init_hooks_are_stopped_and_boot_goes_on(sandbox: Sandbox) -> None:
    hooks = sandbox.file("etc/helios/init.d")
    trace = sandbox.root / "trace"
    child = sandbox.root / "child.pid"
    # A hook that waits on a child of its own: the TERM must reach the child too.
    write_hook(hooks / "10-hang.sh", f'sleep 60 & echo $! > "{child}"; wait')
    # A hook that ignores TERM (and so does its sleep, which inherits that): only KILL ends it.
    write_hook(hooks / "20-stubborn.sh", "trap '' TERM; sleep 60")
    write_hook(hooks / "30-after.sh", f'echo after >> "{trace}"')

    started = time.monotonic()
    result = sandbox.run("init.sh", timeout=40, HELIOS_HOOK_TIMEOUT="1")
    elapsed = time.monotonic() - started

    assert "hook 10-hang.sh timed out after 1s and was stopped (exit code 124" in result.stderr
    assert "hook 20-stubborn.sh timed out after 1s and was stopped (exit code 137" in result.stderr
    assert trace.read_text() == "after\n"
    assert "3 hook(s) run, 2 failed" in result.stderr
    assert elapsed < 15, f"the hooks held the boot for {elapsed:.0f}s"
    assert not pid_alive(int(child.read_text())), "the hook's own child outlived the time limit"


def test_a_hook_that_exits_124_by_itself_is_not_reported_as_timed_out(sandbox: Sandbox) -> None:
    write_hook(sandbox.file("etc/helios/init.d/10-x.sh"), "exit 124")
    result = sandbox.run("init.sh", HELIOS_HOOK_TIMEOUT="30")
    assert "hook 10-x.sh failed with exit code 124" in result.stderr
    assert "timed out" not in result.stderr


def test_hanging_shutdown_hooks_are_stopped_within_the_stop_grace(sandbox: Sandbox) -> None:
    hooks = sandbox.file("etc/helios/shutdown.d")
    trace = sandbox.root / "trace"
    write_hook(hooks / "10-save.sh", "sleep 60")
    write_hook(hooks / "20-after.sh", f'echo after >> "{trace}"')
    # HELIOS_HOOK_TIMEOUT is for init.d and idle.d; shutdown.d has its own, shorter limit.
    result = sandbox.run(
        "shutdown.sh", timeout=40, HELIOS_HOOK_TIMEOUT="600", HELIOS_SHUTDOWN_HOOK_TIMEOUT="1"
    )
    assert "hook 10-save.sh timed out after 1s" in result.stderr
    assert trace.read_text() == "after\n"


@pytest.mark.slow
def test_a_hanging_idle_hook_is_stopped_and_the_watcher_goes_on(sandbox: Sandbox) -> None:
    write_hook(sandbox.file("etc/helios/idle.d/50-hang.sh"), "/bin/sleep 60")
    run = idle_env(sandbox, [1_800_000, 0])
    started = time.monotonic()
    result = run(IDLE_TIME="30", HELIOS_HOOK_TIMEOUT="1")
    assert "hook 50-hang.sh timed out after 1s" in result.stderr
    assert time.monotonic() - started < 15
    assert sandbox.file("sleeps").read_text().split() == ["30", "1800"], "the watcher kept polling"


@pytest.mark.parametrize(
    ("kind", "env", "expected", "logged"),
    [
        ("init", {}, "60", ""),
        ("idle", {"HELIOS_HOOK_TIMEOUT": "0120"}, "120", ""),
        ("init", {"HELIOS_HOOK_TIMEOUT": "0"}, "0", ""),
        ("shutdown", {"HELIOS_HOOK_TIMEOUT": "600"}, "5", ""),
        ("shutdown", {"HELIOS_SHUTDOWN_HOOK_TIMEOUT": "30"}, "30", ""),
        ("init", {"HELIOS_HOOK_TIMEOUT": "forever"}, "60", "HELIOS_HOOK_TIMEOUT='forever' is not a number"),
        ("shutdown", {"HELIOS_SHUTDOWN_HOOK_TIMEOUT": "-1"}, "5", "HELIOS_SHUTDOWN_HOOK_TIMEOUT='-1'"),
    ],
)
def test_hook_time_limit_settings(
    sandbox: Sandbox, kind: str, env: dict[str, str], expected: str, logged: str
) -> None:
    result = subprocess.run(
        ["bash", "-c", f'source "{LIB}"; helios_hook_timeout {kind}'],
        env=sandbox.env(**env),
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == expected
    assert logged in result.stderr
    if not logged:
        assert result.stderr == ""


# --- entries that are not hooks ---------------------------------------------------------------------


def test_entries_that_cannot_run_are_logged_not_silently_skipped(sandbox: Sandbox) -> None:
    hooks = sandbox.file("etc/helios/init.d")
    trace = sandbox.root / "trace"
    write_hook(hooks / "10-setup", f'echo setup >> "{trace}"', executable=False)
    (hooks / "20-bundle").mkdir()
    (hooks / "20-bundle/run.sh").write_text("true\n")
    os.mkfifo(hooks / "30-pipe")
    (hooks / "35-dangling").symlink_to(sandbox.root / "nowhere")
    write_hook(hooks / "40-ok.sh", f'echo ok >> "{trace}"', executable=False)
    (hooks / "README").write_text("docs\n")
    write_hook(hooks / ".hidden", "true", executable=False)

    result = sandbox.run("init.sh")

    assert trace.read_text() == "ok\n"
    assert (
        "init.d/10-setup is not executable and not named *.sh: skipped (chmod +x it or rename it to *.sh)"
        in result.stderr
    )
    assert "init.d/20-bundle/ has no entrypoint.sh: skipped" in result.stderr
    assert "init.d/30-pipe is not a regular file or directory: skipped" in result.stderr
    assert "init.d/35-dangling is not a regular file or directory: skipped" in result.stderr
    assert "README" not in result.stderr and ".hidden" not in result.stderr
    assert "1 hook(s) run, 0 failed" in result.stderr


# --- services.d names ------------------------------------------------------------------------------


def test_service_names_that_differ_stay_different_services(sandbox: Sandbox) -> None:
    services = sandbox.file("etc/helios/services.d")
    for name in ("my agent", "my_agent", "my-agent", "sync", "sync.sh"):
        write_hook(services / name, "exec sleep 1000")
    scandir = sandbox.root / "run/service"
    scandir.mkdir(parents=True)

    result = sandbox.run("services.sh", "up", HELIOS_SCANDIR=str(scandir))

    targets = {path.name: (path / "target").read_text().strip() for path in scandir.iterdir()}
    spaced = "helios-svc-my_agent-" + hashlib.sha256(b"my agent").hexdigest()[:8]
    assert targets == {
        spaced: str(services / "my agent"),
        "helios-svc-my_agent": str(services / "my_agent"),
        "helios-svc-my-agent": str(services / "my-agent"),
        "helios-svc-sync": str(services / "sync"),
    }
    assert f"supervising my agent as {spaced}" in result.stderr
    assert (
        "services.d entries sync and sync.sh would both be helios-svc-sync: sync.sh is not started; "
        "rename one of them" in result.stderr
    )
    assert "4 extra service(s)" in result.stderr


# --- desktop user ----------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["line1\nline2", "carriage\rreturn", "two\n\nlines\n", "\nleading"])
def test_a_password_with_a_line_break_is_refused_without_showing_it(sandbox: Sandbox, secret: str) -> None:
    env_file = sandbox.file("run/s6/container_environment/PASSWORD")
    env_file.write_text(secret)
    result = sandbox.run("user.sh", check=False, PASSWORD=secret)
    assert result.returncode != 0
    assert "PASSWORD contains a line break before its end" in result.stderr
    for part in secret.split():
        assert part not in result.stderr
    assert not any(call.startswith(("chpasswd", "openssl", "useradd")) for call in sandbox.calls())
    assert not env_file.exists(), "later services must not see PASSWORD, even after a refusal"


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_a_secret_files_trailing_line_break_is_not_part_of_the_password(
    sandbox: Sandbox, ending: str
) -> None:
    sandbox.run("user.sh", PASSWORD="s3cret-tail")
    plain = sandbox.file("chpasswd.stdin").read_text()
    result = sandbox.run("user.sh", PASSWORD="s3cret-tail" + ending)
    assert sandbox.file("chpasswd.stdin").read_text() == plain, "the same password as without the line break"
    assert "PASSWORD ended with a line break" in result.stderr and "s3cret" not in result.stderr


SYSTEM_PASSWD = """\
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
operator:x:11:0:operator:/root:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
svc:x:1500:1500::/srv:/bin/false
ubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash
"""
SYSTEM_GROUPS = "daemon:x:1:\nshadow:x:42:\nsudo:x:27:\ndisk:x:6:\nwww-data:x:33:\nvideo:x:44:\n"


@pytest.fixture
def image_accounts(sandbox: Sandbox) -> Sandbox:
    """The sandbox with the system accounts and groups of a Debian-like base image."""
    with sandbox.file("etc/passwd").open("a") as passwd:
        passwd.write(SYSTEM_PASSWD)
    with sandbox.file("etc/group").open("a") as group:
        group.write(SYSTEM_GROUPS)
    return sandbox


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"USER": "daemon"}, "USER=daemon names the system account daemon (UID 1, shell /usr/sbin/nologin)"),
        ({"USER": "www-data"}, "USER=www-data names the system account www-data (UID 33"),
        ({"USER": "nobody"}, "USER=nobody names the system account nobody (UID 65534"),
        ({"USER": "operator"}, "USER=operator names the system account operator (UID 11, shell /bin/bash)"),
        ({"USER": "svc"}, "USER=svc names the system account svc (UID 1500, shell /bin/false)"),
        ({"USER": "artist", "UID": "33"}, "UID=33 belongs to the system account www-data (UID 33"),
        ({"USER": "artist", "UID": "065534"}, "UID=65534 belongs to the system account nobody"),
        ({"GID": "27"}, "GID=27 is the privileged group sudo"),
        ({"GID": "42"}, "GID=42 is the privileged group shadow"),
        ({"GID": "6"}, "GID=6 is the privileged group disk"),
    ],
)
def test_system_accounts_and_privileged_groups_are_refused(
    image_accounts: Sandbox, env: dict[str, str], message: str
) -> None:
    result = image_accounts.run("user.sh", check=False, **env)
    assert result.returncode != 0
    assert message in result.stderr
    assert "HELIOS_ALLOW_SYSTEM_ACCOUNT=true" in result.stderr
    assert not any(
        call.startswith(("useradd", "usermod", "groupadd", "groupmod")) for call in image_accounts.calls()
    )


def test_a_system_account_is_taken_over_only_when_allowed(image_accounts: Sandbox) -> None:
    result = image_accounts.run(
        "user.sh", USER="www-data", UID="33", GID="27", HELIOS_ALLOW_SYSTEM_ACCOUNT="true"
    )
    assert (
        "HELIOS_ALLOW_SYSTEM_ACCOUNT=true: system accounts and privileged groups may be used" in result.stderr
    )
    assert "usermod -o -u 33 -g 27 -d /home/www-data www-data" in image_accounts.calls()


@pytest.mark.parametrize(
    "env",
    [{}, {"USER": "artist", "UID": "1000"}, {"GID": "44"}, {"USER": "artist", "UID": "99", "GID": "100"}],
)
def test_ordinary_accounts_and_groups_are_still_accepted(
    image_accounts: Sandbox, env: dict[str, str]
) -> None:
    result = image_accounts.run("user.sh", **env)
    assert "desktop user" in result.stderr
    assert "system account" not in result.stderr


# --- PulseAudio's folder ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["/etc", "/run/helios", "/run/user/1000", "/run/helios/../../etc", "/run/user/1001/pulse", "run/helios/x",
     "/run/helios/a b", "/run/helios/./x", "/home/helios/pulse", "/tmp/pulse"],
)  # fmt: skip
def test_pulse_runtime_path_never_hands_a_system_folder_to_the_user(sandbox: Sandbox, value: str) -> None:
    result = sandbox.run("user.sh", check=False, PULSE_RUNTIME_PATH=value)
    assert result.returncode != 0
    assert (
        f"PULSE_RUNTIME_PATH='{value}' must be a folder below /run/helios/ or /run/user/1000/"
        in result.stderr
    )
    assert not [call for call in sandbox.calls() if call.startswith("chown") and "/run/user" not in call]


def test_pulse_runtime_path_may_move_to_the_users_runtime_folder(sandbox: Sandbox) -> None:
    result = sandbox.run(
        "user.sh", PULSE_RUNTIME_PATH="/run/user/1000/pulse", PULSE_SERVER="unix:/run/helios/pulse/native"
    )
    folder = sandbox.file("run/user/1000/pulse")
    assert folder.is_dir() and folder.stat().st_mode & 0o777 == 0o700
    assert f"chown -h 1000:1000 {folder}" in sandbox.calls()
    assert contenv(sandbox)["PULSE_SERVER"] == "unix:/run/user/1000/pulse/native"
    assert "PULSE_SERVER follows PULSE_RUNTIME_PATH" in result.stderr


def test_pulse_runtime_path_is_never_followed_through_a_link(sandbox: Sandbox, tmp_path: Path) -> None:
    elsewhere = tmp_path / "system"
    elsewhere.mkdir()
    runtime = sandbox.file("run/user/1000")
    runtime.mkdir(parents=True)
    (runtime / "pulse").symlink_to(elsewhere)
    result = sandbox.run("user.sh", check=False, PULSE_RUNTIME_PATH="/run/user/1000/pulse")
    assert result.returncode != 0 and "leads through a symbolic link" in result.stderr
    assert not any(call.startswith("chown") and str(elsewhere) in call for call in sandbox.calls())


# --- a persisted home ------------------------------------------------------------------------------


def test_links_in_a_persisted_home_are_not_followed(sandbox: Sandbox, tmp_path: Path) -> None:
    home = sandbox.file("home/helios")
    home.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"  # e.g. /etc or /root seen from the container
    elsewhere.mkdir()
    (home / ".config").symlink_to(elsewhere)
    (home / "Desktop").symlink_to(tmp_path / "gone")  # dangling
    (home / "Downloads").symlink_to(elsewhere)

    result = sandbox.run("user.sh")

    assert list(elsewhere.iterdir()) == [], "root followed a link out of the home"
    assert f"{home}/.config is a symbolic link: not completed from /etc/skel" in result.stderr
    assert f"{home}/Desktop is a symbolic link to no folder: left as it is" in result.stderr
    assert "Downloads" not in result.stderr, "a link to a folder is a fine ~/Downloads"
    assert (home / ".profile").read_text() == "# skel profile\n", "the rest is still completed"
    assert (home / "Desktop").is_symlink() and (home / "Downloads").is_symlink()
    assert "desktop user helios (1000:helios) ready" in result.stderr
    calls = sandbox.calls()
    assert any(call.startswith("s6-applyuidgid -u 1000 -g 1000 -G  bash -c") for call in calls)
    assert not any(call.startswith("chown") and str(home) in call for call in calls), (
        "root chowns nothing there"
    )


def test_an_empty_home_of_roots_is_a_new_volume_and_becomes_the_users(sandbox: Sandbox) -> None:
    """`docker run -v helios-home:/home/helios` mounts an empty folder owned by root there."""
    home = sandbox.file("home/helios")
    home.mkdir(parents=True)
    result = sandbox.run("user.sh")
    assert f"{home} is a new, empty volume: given to helios" in result.stderr
    assert f"chown 1000:1000 {home}" in sandbox.calls()
    assert (home / ".profile").is_file(), "then completed from /etc/skel"


def test_a_home_of_roots_with_files_is_left_alone(sandbox: Sandbox) -> None:
    home = sandbox.file("home/helios")
    home.mkdir(parents=True)
    (home / "mine").write_text("a bind mount of the host's\n")
    result = sandbox.run("user.sh")
    assert "new, empty volume" not in result.stderr
    assert not any(call.startswith("chown") and str(home) in call for call in sandbox.calls())


def test_a_home_that_is_a_file_does_not_stop_the_boot(sandbox: Sandbox) -> None:
    sandbox.file("home").mkdir()
    sandbox.file("home/helios").write_text("not a folder\n")
    result = sandbox.run("user.sh")
    assert f"{sandbox.file('home/helios')} is not a folder: not completed from /etc/skel" in result.stderr


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"), reason="dropping to another UID needs root"
)
def test_the_home_is_completed_with_the_users_own_rights(sandbox: Sandbox) -> None:
    """With s6-applyuidgid really dropping to UID:GID (s6's own from HELIOS_S6_BIN when there, else a
    setpriv stand-in doing the same) and the real chown, the copy works in a fresh home and cannot
    write into a home that is not the user's."""
    fake = sandbox.bin / "s6-applyuidgid"
    real = Path(os.environ.get("HELIOS_S6_BIN", "/nonexistent")) / "s6-applyuidgid"
    fake.unlink()
    if real.is_file():
        fake.symlink_to(real)
    else:
        fake.write_text(
            '#!/bin/bash\necho "s6-applyuidgid $*" >> "$FAKE_LOG"\n'
            "uid=; gid=\n"
            'while getopts zUu:g:G: opt; do case "$opt" in u) uid=$OPTARG ;; g) gid=$OPTARG ;; esac; done\n'
            "shift $((OPTIND - 1))\n"
            'exec setpriv --reuid "$uid" --regid "$gid" --clear-groups "$@"\n'
        )
        fake.chmod(0o755)
    (sandbox.bin / "chown").unlink()
    # The user must be able to reach its home and /etc/skel: the pytest folders are private to root.
    opened = {}
    for parent in [sandbox.root, *sandbox.root.parents]:
        if parent == Path(tempfile.gettempdir()):
            break
        opened[parent] = parent.stat().st_mode
        parent.chmod(opened[parent] | 0o055)
    try:
        completed_by_the_user(sandbox)
    finally:
        for parent, mode in opened.items():
            parent.chmod(mode)


def completed_by_the_user(sandbox: Sandbox) -> None:
    sandbox.run("user.sh", UID="4711", GID="4711")
    home = sandbox.file("home/helios")
    for item in (home / ".profile", home / ".config/user-dirs.dirs", home / "Desktop"):
        assert (item.stat().st_uid, item.stat().st_gid) == (4711, 4711), item

    other = sandbox.file("home/other")
    other.mkdir(mode=0o755)
    (other / "notes").write_text("root's\n")  # not empty: not a new volume, so not taken over
    result = sandbox.run("user.sh", USER="other", UID="4712")
    assert not (other / ".profile").exists(), "root wrote into a home the user cannot write"
    assert "could not be created in" in result.stderr and "is the home owned by UID 4712?" in result.stderr


@pytest.mark.parametrize("display", [":08", ":" + TWO_POW_64_PLUS_1000, ":59536", "1", ":1.0", ":"])
def test_display_numbers_are_plain_decimal(sandbox: Sandbox, tmp_path: Path, display: str) -> None:
    result = sandbox.run("xvnc.sh", check=False, DISPLAY=display, HOME=str(tmp_path))
    assert result.returncode != 0
    assert f"DISPLAY='{display}' must look like :1" in result.stderr
    assert not (tmp_path / ".vnc").exists(), "refused before anything is done"
