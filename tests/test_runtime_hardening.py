"""Hostile settings and hooks against the runtime scripts, run for real in a temporary root.

Same sandbox as test_runtime_scripts.py: the overlay scripts run unchanged with HELIOS_ROOT pointing
at a temporary tree and small fakes of the system tools on PATH. Hook time limits use the host's
real coreutils `timeout`, whose exit codes (124 after TERM, 137 after KILL) the runner relies on.
"""

from __future__ import annotations

import pytest

from tests.test_runtime_scripts import Sandbox, contenv, idle_env, sandbox, write_hook

__all__ = ["sandbox"]  # the fixture, imported for pytest

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
    sandbox.run("init-user.sh", UID=uid, GID=uid)
    useradd = next(call for call in sandbox.calls() if call.startswith("useradd"))
    assert f"-u {canonical} -g {canonical} " in useradd
    published = contenv(sandbox)
    assert published["UID"] == canonical and published["GID"] == canonical
    assert published["XDG_RUNTIME_DIR"] == f"/run/user/{canonical}"
    assert sandbox.file(f"run/user/{canonical}").is_dir()


@pytest.mark.parametrize("name", ["UID", "GID"])
@pytest.mark.parametrize("value", [TWO_POW_32_PLUS_1000, TWO_POW_64_PLUS_1000, "1" + "0" * 40])
def test_ids_past_the_range_are_refused_not_wrapped(sandbox: Sandbox, name: str, value: str) -> None:
    result = sandbox.run("init-user.sh", check=False, **{name: value})
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
    result = sandbox.run("idle-watch.sh", IDLE_TIME=value)
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
