"""The desktop session's settings, run for real in a temporary root: the locale helios-locale builds
(LC_ALL / LANG), and what svc-desktop's desktop.sh hands the session (keyboard layout, input method,
NVIDIA wrapper) before it execs startwm.sh.

The scripts take every path from HELIOS_ROOT. setxkbmap, vglrun, fcitx5 and the session itself are
small fakes that record how they were called; the session records its environment. localedef is
the real one where this machine has glibc's locale sources, writing into the temporary root.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OVERLAY = REPO / "common" / "root"
LIB = OVERLAY / "opt/helios/lib/helios.sh"
LIBEXEC = OVERLAY / "opt/helios/libexec"
I18N = Path("/usr/share/i18n")

# The session: records its arguments and environment, one NAME=VALUE per line.
FAKE_SESSION = """#!/bin/bash
for arg in "$@"; do echo "$arg"; done >"$HELIOS_ROOT/session.argv"
env >"$HELIOS_ROOT/session.env"
"""
# vglrun [-d DISPLAY] [+wm] COMMAND...: VirtualGL's launcher execs COMMAND with its faker preloaded.
FAKE_VGLRUN = """#!/bin/bash
echo "vglrun $*" >>"$FAKE_LOG"
while [[ "$1" == -d || "$1" == +* ]]; do [[ "$1" == -d ]] && shift; shift; done
exec "$@"
"""


@dataclass
class Root:
    """A temporary root with the session override point, fake tools, and a way to run scripts."""

    path: Path
    bin: Path
    log: Path

    def tool(self, name: str, body: str = "") -> Path:
        script = self.bin / name
        script.write_text(f'#!/bin/bash\necho "{name} $*" >> "$FAKE_LOG"\n{body}\n')
        script.chmod(0o755)
        return script

    def run(self, script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        base = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "HELIOS_ROOT": str(self.path),
            "HELIOS_LIB": str(LIB),
            "HOME": str(self.path / "home/ada"),
            "FAKE_LOG": str(self.log),
            "LC_ALL": "",
            "LANG": "C.UTF-8",
        }
        result = subprocess.run(
            ["bash", str(LIBEXEC / script), *args],
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def session_env(self) -> dict[str, str]:
        lines = (self.path / "session.env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def session_argv(self) -> list[str]:
        return (self.path / "session.argv").read_text().splitlines()


@pytest.fixture
def root(tmp_path: Path) -> Root:
    path = tmp_path / "root"
    (path / "home/ada").mkdir(parents=True)
    (path / "opt/helios").mkdir(parents=True)
    (path / "opt/helios/startwm.sh").write_text(FAKE_SESSION)
    (path / "opt/helios/startwm.sh").chmod(0o755)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    return Root(path=path, bin=bin_dir, log=tmp_path / "calls.log")


# --- locale ---------------------------------------------------------------------------------------


def fake_locale_list(root: Root, *names: str) -> None:
    """`locale -a`: the built-in locales and those of the temporary root's archive."""
    listed = "\\n".join(("C", "C.utf8", "POSIX", *names))
    root.tool(
        "locale", f"printf '{listed}\\n'\nlocaledef --prefix \"$HELIOS_ROOT\" --list-archive 2>/dev/null"
    )


@pytest.mark.skipif(not (I18N / "locales/de_DE").is_file(), reason="glibc's locale sources are not installed")
def test_a_missing_locale_is_built_with_the_real_localedef(root: Root) -> None:
    fake_locale_list(root)
    real = shutil.which("localedef", path="/usr/bin:/bin")
    assert real
    (root.path / "usr/lib/locale").mkdir(parents=True)
    # The real localedef, writing into the temporary root's archive instead of the machine's.
    root.tool("localedef", f'exec {real} --prefix "$HELIOS_ROOT" "$@"')
    result = root.run("locale.sh", LANG="de_DE.UTF-8", HELIOS_I18N=str(I18N))
    assert "localedef -c -i de_DE -f UTF-8 de_DE.UTF-8" in root.calls()
    assert "LANG=de_DE.UTF-8 built" in result.stderr
    archive = subprocess.run(
        [real, "--prefix", str(root.path), "--list-archive"], capture_output=True, text=True, check=True
    )
    assert "de_DE.utf8" in archive.stdout.split()


def test_an_available_locale_and_the_c_locales_are_left_alone(root: Root) -> None:
    fake_locale_list(root, "fr_FR.utf8", "sr_RS.utf8@latin")
    root.tool("localedef")
    result = root.run("locale.sh", LC_ALL="fr_FR.UTF-8", LANG="sr_RS.utf8@latin")
    assert "LC_ALL=fr_FR.UTF-8 is available" in result.stderr
    assert "LANG=sr_RS.utf8@latin is available" in result.stderr
    root.run("locale.sh", LANG="C.UTF-8")
    assert not [call for call in root.calls() if call.startswith("localedef -c")]


@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("de_DE", "names no character set: use a UTF-8 locale such as de_DE.UTF-8"),
        ("de_DE.ISO-8859-1", "is not a locale name"),
        ("x;touch /pwned", "is not a locale name"),
        ("tlh_XX.UTF-8", "no locale source"),
    ],
)
def test_a_locale_that_cannot_be_built_is_explained_and_the_start_goes_on(
    root: Root, lang: str, message: str
) -> None:
    fake_locale_list(root)
    root.tool("localedef")
    result = root.run("locale.sh", LANG=lang, HELIOS_I18N=str(root.path / "i18n"))
    assert message in result.stderr
    assert not [call for call in root.calls() if call.startswith("localedef -c")]


def test_musl_uses_the_locale_as_it_is(root: Root) -> None:
    (root.path / "lib").mkdir()
    (root.path / "lib/ld-musl-x86_64.so.1").touch()
    fake_locale_list(root)
    root.tool("localedef")
    result = root.run("locale.sh", LANG="ja_JP.UTF-8")
    assert "musl needs no locale to be built" in result.stderr
    assert not [call for call in root.calls() if call.startswith("localedef -c")]


# --- keyboard and input method --------------------------------------------------------------------


def test_locale_and_keyboard_layout_reach_the_session(root: Root) -> None:
    root.tool("setxkbmap")
    root.run(
        "desktop.sh",
        LANG="de_DE.UTF-8",
        LC_ALL="de_CH.UTF-8",
        KEYBOARD_LAYOUT="de,us",
        KEYBOARD_VARIANT="nodeadkeys,",
        KEYBOARD_OPTIONS="grp:alt_shift_toggle",
    )
    assert "setxkbmap -layout de,us -variant nodeadkeys, -option grp:alt_shift_toggle" in root.calls()
    env = root.session_env()
    assert env["LANG"] == "de_DE.UTF-8" and env["LC_ALL"] == "de_CH.UTF-8"
    assert env["XKB_DEFAULT_LAYOUT"] == "de,us" and env["XKB_DEFAULT_VARIANT"] == "nodeadkeys,"
    assert env["PWD"] == str(root.path / "home/ada"), "the session starts in the user's home"
    assert root.session_argv() == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KEYBOARD_LAYOUT": "de; touch /pwned"}, "are not XKB names"),
        ({"KEYBOARD_LAYOUT": "de", "KEYBOARD_VARIANT": "$(id)"}, "are not XKB names"),
    ],
)
def test_a_bad_layout_is_refused_and_the_session_still_starts(
    root: Root, env: dict[str, str], message: str
) -> None:
    root.tool("setxkbmap")
    result = root.run("desktop.sh", **env)
    assert message in result.stderr
    assert not [call for call in root.calls() if call.startswith("setxkbmap")]
    assert "XKB_DEFAULT_LAYOUT" not in root.session_env()


def test_a_layout_setxkbmap_refuses_leaves_the_keyboard_and_starts_the_session(root: Root) -> None:
    root.tool("setxkbmap", "echo 'Error loading new keyboard description' >&2; exit 251")
    result = root.run("desktop.sh", KEYBOARD_LAYOUT="zz")
    assert "setxkbmap -layout zz failed" in result.stderr
    assert "XKB_DEFAULT_LAYOUT" not in root.session_env()


def test_an_installed_input_method_is_named_to_every_toolkit(root: Root) -> None:
    root.tool("fcitx5")
    root.tool("ibus-daemon")
    root.run("desktop.sh")
    env = root.session_env()
    assert env["HELIOS_INPUT_METHOD"] == "fcitx5"
    assert env["GTK_IM_MODULE"] == env["QT_IM_MODULE"] == "fcitx" and env["XMODIFIERS"] == "@im=fcitx"
    root.run("desktop.sh", INPUT_METHOD="ibus")
    assert root.session_env()["XMODIFIERS"] == "@im=ibus"
    root.run("desktop.sh", INPUT_METHOD="none")
    assert "XMODIFIERS" not in root.session_env()
    # Inside the session, the autostart entry starts the chosen daemon.
    root.run("desktop.sh", "input-method", HELIOS_INPUT_METHOD="ibus")
    assert "ibus-daemon --replace --xim --daemonize" in root.calls()


def test_no_input_method_without_one_installed(root: Root) -> None:
    result = root.run("desktop.sh", INPUT_METHOD="fcitx5")
    assert "fcitx5 is not installed" in result.stderr
    assert "XMODIFIERS" not in root.session_env()
    root.run("desktop.sh")
    assert "XMODIFIERS" not in root.session_env()
    autostart = (OVERLAY / "etc/xdg/autostart/helios-input-method.desktop").read_text()
    assert "Exec=/opt/helios/libexec/desktop.sh input-method" in autostart.splitlines()


# --- NVIDIA ---------------------------------------------------------------------------------------

GPU = ("nvidiactl", "nvidia0")


@pytest.mark.parametrize(
    ("devices", "env", "vglrun", "zink", "wrapper", "message"),
    [
        # The setting asks, the devices are there: the whole session under vglrun, EGL back end.
        (GPU, {"NVIDIA": "true"}, True, False, "vglrun -d egl +wm", "runs under VirtualGL"),
        (
            GPU,
            {"NVIDIA": "auto", "VGL_DISPLAY": "/dev/dri/card0"},
            True,
            False,
            "vglrun -d /dev/dri/card0 +wm",
            "",
        ),
        (GPU, {"NVIDIA": "true", "NVIDIA_GL": "zink"}, False, True, "zink", "runs on Zink"),
        # Off by default, and with devices the setting does not ask for.
        (GPU, {}, True, True, None, ""),
        (GPU, {"NVIDIA": "false"}, True, False, None, ""),
        # Asked for, but something is missing: a log line that says what, and a plain session.
        (("nvidiactl",), {"NVIDIA": "true"}, True, False, None, "no NVIDIA device is in the container"),
        ((), {"NVIDIA": "true"}, True, False, None, "--gpus all"),
        ((), {"NVIDIA": "auto"}, True, False, None, ""),
        (GPU, {"NVIDIA": "true"}, False, False, None, "vglrun is not installed"),
        (GPU, {"NVIDIA": "true", "NVIDIA_GL": "zink"}, True, False, None, "has no Zink driver"),
        (GPU, {"NVIDIA": "yes please"}, True, False, None, "NVIDIA='yes please' is none of"),
        (GPU, {"NVIDIA": "true", "NVIDIA_GL": "glx"}, True, False, None, "neither virtualgl nor zink"),
    ],
)
def test_nvidia_wrapper_decision(
    root: Root,
    devices: tuple[str, ...],
    env: dict[str, str],
    vglrun: bool,
    zink: bool,
    wrapper: str | None,
    message: str,
) -> None:
    (root.path / "dev").mkdir()
    for device in devices:
        (root.path / "dev" / device).touch()
    vgl = root.path / "opt/VirtualGL/bin/vglrun"
    if vglrun:
        vgl.parent.mkdir(parents=True)
        vgl.write_text(FAKE_VGLRUN)
        vgl.chmod(0o755)
    if zink:
        dri = root.path / "usr/lib/x86_64-linux-gnu/dri"
        dri.mkdir(parents=True)
        (dri / "zink_dri.so").touch()
    result = root.run("desktop.sh", HELIOS_VGLRUN=str(vgl), **env)
    vgl_calls = [call for call in root.calls() if call.startswith("vglrun")]
    session = root.session_env()
    if wrapper and wrapper.startswith("vglrun"):
        assert vgl_calls == [f"{wrapper} {root.path}/opt/helios/startwm.sh"]
    else:
        assert not vgl_calls
    is_zink = session.get("MESA_LOADER_DRIVER_OVERRIDE") == "zink" and session.get("GALLIUM_DRIVER") == "zink"
    assert is_zink == (wrapper == "zink")
    assert message in result.stderr
