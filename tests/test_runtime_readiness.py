"""Readiness under s6's own rules: every longrun of the tree is started under a supervisor, and the
state behind /healthz comes from what the services really report.

The rules, from s6 2.15's source (src/supervision/s6-supervise.c, s6-svstat.c, s6-notifyoncheck.c)
and s6-rc 0.6 (src/s6-rc/s6-rc.c):
- s6-supervise clears a service's ready flag every time it starts it, and sets it only when the
  service writes a newline to the pipe it opens at the fd named by the service directory's
  `notification-fd` file. `s6-svstat -o up,ready` prints ready as "up and that flag".
- s6-rc waits for a longrun to be ready (`s6-svc -uwU`) when it declares `notification-fd` and
  only for "up" (`-uwu`) otherwise: a longrun without it starts fine yet never reads as ready.
- s6-notifyoncheck reads ./notification-fd (so it must start in the service directory, where
  s6-supervise runs `run`), closes the fd in the daemon, runs the check (`-c` through
  `execlineb -Pc`) every `-w` ms, `-n` times (0: no limit), and writes the newline when it passes.
- s6-supervise starts a service that wants up again when it dies, two starts at least 1 s apart,
  and appends every death, wanted or not, to supervise/death_tally (s6_dtally_write): 14 bytes
  each, the wall-clock time as a TAI64N label (8-byte TAI64 seconds, 4-byte nanoseconds, big
  endian), the exit code (128 + the signal when killed) and the signal (0 when it exited). It keeps
  the newest `max-death-tally` entries (default 100) and truncates the file when it starts.
  `s6-svdt -n N` prints the newest N as `@<24 hex digits> exitcode N` or `@... signal SIGNAME`,
  oldest first; `s6-clock` (s6-portable-utils) prints the current time as such a label.

Two supervisors run the same scenario over copies of the tree's real service directories:
- `FakeSupervisor`, always: those rules in Python, with stand-ins for s6-svstat, s6-svdt, s6-clock
  and s6-notifyoncheck that follow them (readiness is derived, never a constant);
- the real s6-svscan, s6-supervise, s6-notifyoncheck, s6-svstat, s6-svdt and s6-clock, when they are
  installed (on PATH, or in the directory named by HELIOS_S6_BIN; build skalibs, execline, s6 and
  s6-portable-utils from their sources with `./configure --prefix=DIR && make && make install`).
  Skipped with that reason otherwise.

The daemons (Xvnc, nginx, PulseAudio, node, the desktop session) are stand-ins that "listen" by
holding a mark (a file, or a unix socket for X) while they run; the probes (curl, pactl,
xdpyinfo) answer from those marks. Everything else, the run scripts, check.sh, health.sh,
ready.sh, idle.sh and helios.sh, is the tree's own code: the copies only have /command/ and
/opt/helios/ pointed into the temporary root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OVERLAY = REPO / "common" / "root"
S6RC = OVERLAY / "etc/s6-overlay/s6-rc.d"
CORE_SERVICES = ("svc-pulseaudio", "svc-xvnc", "svc-kclient", "svc-nginx", "svc-desktop")
READY_TIMEOUT = 20.0

FAKE_DAEMON = f"""#!{sys.executable}
# Stand-in daemon: holds its marks (files; 'socket:PATH' binds a unix socket) until stopped.
import os, signal, socket, sys
held, paths = [], []
for arg in sys.argv[1:]:
    if arg.startswith("socket:"):
        path = arg[len("socket:"):]
        if os.path.lexists(path):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(path)
        sock.listen()
        held.append(sock)
    else:
        path = arg
        open(path, "a").close()
    paths.append(path)

def stop(*_):
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    sys.exit(0)

for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, stop)
while True:
    signal.pause()
"""

# TAI64N labels as skalibs writes them for the wall clock: 2^62 + TAI seconds (UTC + 37 s today).
TAI_OFFSET = (1 << 62) + 37
DTALLY_PACK = 14

FAKE_TAI = f"""#!{sys.executable}
# Stand-ins for s6-clock (no argument) and s6-svdt [-s|-S] [-n N] SERVICEDIR (see the docstring).
import getopt, os, signal, sys, time
def label(stamp, nano):
    return "@%016x%08x" % (stamp, nano)
if os.path.basename(sys.argv[0]) == "s6-clock":
    now = time.time_ns()
    print(label(now // 10**9 + {TAI_OFFSET}, now % 10**9))
    sys.exit(0)
opts, args = getopt.getopt(sys.argv[1:], "Ssn:")
numeric, n = False, 4096
for opt, value in opts:
    numeric = {{"-s": True, "-S": False}}.get(opt, numeric)
    n = min(int(value), 4096) if opt == "-n" else n
path = os.path.join(args[0], "supervise", "death_tally")
if not os.path.exists(path):
    open(path, "wb").close()
data = open(path, "rb").read()
entries = [data[i:i + {DTALLY_PACK}] for i in range(0, len(data), {DTALLY_PACK})] if n else []
for entry in entries[-n:] if n else []:
    stamp, nano = int.from_bytes(entry[:8], "big"), int.from_bytes(entry[8:12], "big")
    exitcode, sig = entry[12], entry[13]
    if sig:
        how = "signal %d" % sig if numeric else "signal SIG" + signal.Signals(sig).name[3:]
    else:
        how = "exitcode %d" % exitcode
    print(label(stamp, nano), how)
"""

# Daemons and probes: the same in both supervisors.
TOOLS: dict[str, str] = {
    "s6-setuidgid": 'shift; exec "$@"',
    "nginx": """
if [ "${1:-}" = -h ]; then echo "  -e filename   : set error log file"; exit 0; fi
exec fake-daemon "$FAKE_NET/${HTTP_PORT:-3000}"
""",
    # PulseAudio: a new server has no clients yet, and runs the modules its script (-F) loads.
    "pulseaudio": """
rm -rf "$PULSE_RUNTIME_PATH/clients"; mkdir -p "$PULSE_RUNTIME_PATH/clients"
sed -n 's/^load-module //p' "${*: -1}" > "$PULSE_RUNTIME_PATH/modules"
exec fake-daemon "$PULSE_RUNTIME_PATH/native"
""",
    # vncserver -dry-run writes the session's X cookie and prints the Xvnc command line.
    "vncserver": """
printf cookie > "$HOME/.Xauthority"
echo "$(dirname "$0")/Xvnc $1 -auth $HOME/.Xauthority >> $HOME/.vnc/log 2>&1"
""",
    "Xvnc": 'exec fake-daemon "socket:/tmp/.X11-unix/X${1#:}" "$FAKE_NET/6901"',
    "dbus-launch": 'while [ "${1#--}" != "$1" ]; do shift; done; exec "$@"',
    "xfce4-session": 'exec fake-daemon "$FAKE_NET/session"',
    "s6-pause": "exec sleep infinity",
    # curl -s -o /dev/null -w '%{http_code}' --max-time 2 [--unix-socket PATH] URL
    "curl": """
url="${*: -1}"; hostport="${url#*://}"; hostport="${hostport%%/*}"; mark="$FAKE_NET/${hostport##*:}"
while [ $# -gt 1 ]; do [ "$1" = --unix-socket ] && mark="$2"; shift; done
if [ -e "$mark" ]; then printf 200; else printf 000; exit 7; fi
""",
    # pactl info | list clients | list short modules, answered by the running server only.
    "pactl": """
[ -e "$PULSE_RUNTIME_PATH/native" ] || { echo "Connection failure: Connection refused" >&2; exit 1; }
case "$*" in
    "list clients")
        for client in "$PULSE_RUNTIME_PATH"/clients/*; do
            [ -e "$client" ] && printf 'Client #0\\n\\tProperties:\\n\\t\\tapplication.process.id = "%s"\\n' "${client##*/}"
        done ;;
    "list short modules")
        n=0; while read -r name args; do printf '%s\\t%s\\t%s\\t\\n' "$n" "$name" "$args"; n=$((n + 1)); done \\
            < "$PULSE_RUNTIME_PATH/modules" ;;
esac
exit 0
""",
    # X answers when its socket is there and the client brings the cookie vncserver wrote.
    "xdpyinfo": '[ -S "/tmp/.X11-unix/X${DISPLAY#:}" ] && [ -s "${XAUTHORITY:-/nonexistent}" ]',
}

# s6's own tools, for the fake supervisor only (see the module docstring for the rules).
FAKE_S6: dict[str, str] = {
    "s6-svstat": """
fields=up,ready
while getopts o: opt; do [ "$opt" = o ] && fields="$OPTARG"; done
shift $((OPTIND - 1))
dir="$1"
if [ ! -d "$dir/supervise" ]; then
    echo "s6-svstat: fatal: unable to read status for $dir: No such file or directory" >&2; exit 1
fi
up=false ready=false
if pid="$(cat "$dir/supervise/pid" 2>/dev/null)" && kill -0 "$pid" 2>/dev/null; then
    up=true
    [ -e "$dir/supervise/ready" ] && ready=true
fi
out=()
IFS=, read -ra wanted <<<"$fields"
for field in "${wanted[@]}"; do
    case "$field" in
        up) out+=("$up") ;;
        ready) out+=("$ready") ;;
        pid) if [ "$up" = true ]; then out+=("$pid"); else out+=(-1); fi ;;
        *) echo "s6-svstat: fatal: field $field is not faked" >&2; exit 100 ;;
    esac
done
echo "${out[*]}"
""",
    # s6-svc -r SERVICEDIR: send the service's process SIGTERM; s6-supervise starts it again
    # when it wants it up (and does nothing when it is down).
    "s6-svc": """
[ "$1" = -r ] || { echo "s6-svc: fatal: only -r is faked" >&2; exit 100; }
if pid="$(cat "$2/supervise/pid" 2>/dev/null)"; then kill -TERM "$pid" 2>/dev/null; fi
exit 0
""",
    "s6-notifyoncheck": """
fd="" check=./data/check wait_ms=1000 tries=7
while getopts d3:s:T:t:w:n:c: opt; do
    case "$opt" in 3) fd="$OPTARG" ;; w) wait_ms="$OPTARG" ;; n) tries="$OPTARG" ;; c) check="$OPTARG" ;; esac
done
shift $((OPTIND - 1))
if [ -z "$fd" ]; then
    fd="$(cat notification-fd 2>/dev/null)" || {
        echo "s6-notifyoncheck: fatal: unable to read ./notification-fd" >&2; exit 111; }
fi
{ true >&"$fd"; } 2>/dev/null || {
    echo "s6-notifyoncheck: fatal: notification-fd sanity check failed" >&2; exit 111; }
[ -d supervise ] || { echo "s6-notifyoncheck: fatal: s6-supervise not running." >&2; exit 100; }
(
    n=0
    while [ "$tries" = 0 ] || [ "$n" -lt "$tries" ]; do
        sleep "$(awk -v ms="$wait_ms" 'BEGIN { print ms / 1000 }')"
        if bash -c "$check"; then printf '\\n' >&"$fd"; exit 0; fi
        n=$((n + 1))
    done
    exit 1
) &
exec {fd}>&-
exec "$@"
""",
}


def write_fake_s6(directory: Path) -> None:
    write_tools(directory, FAKE_S6)
    for name in ("s6-clock", "s6-svdt"):
        (directory / name).write_text(FAKE_TAI)
        (directory / name).chmod(0o755)


def write_tools(directory: Path, tools: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, body in tools.items():
        path = directory / name
        path.write_text(f"#!/bin/bash\n{body.strip()}\n")
        path.chmod(0o755)


def longruns() -> list[str]:
    return sorted(
        path.name
        for path in S6RC.iterdir()
        if (path / "type").is_file() and (path / "type").read_text().strip() == "longrun"
    )


def free_display() -> int:
    for number in range(60 + os.getpid() % 30, 200):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return number
    raise AssertionError("no free X display number")


class Stage:
    """A temporary root holding copies of the longrun service directories, and their env."""

    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "root"
        self.scandir = tmp / "service"
        self.bin = tmp / "bin"
        self.net = tmp / "net"
        self.logs = tmp / "logs"
        for directory in (self.scandir, self.net, self.logs, self.root / "run/helios/pulse"):
            directory.mkdir(parents=True)
        (self.root / "home/helios").mkdir(parents=True)
        # What helios-nginx-config and helios-tls make at every start for KasmVNC: its login file and pair.
        kasmvnc = self.root / "run/helios/kasmvnc"
        kasmvnc.mkdir(parents=True)
        for name in ("kasmpasswd", "cert.pem", "key.pem"):
            (kasmvnc / name).write_text(f"stand-in {name}\n")
        (self.root / "etc/helios/pulse").mkdir(parents=True)
        shutil.copy(OVERLAY / "etc/helios/pulse/default.pa", self.root / "etc/helios/pulse")
        opt = self.root / "opt/helios"
        opt.mkdir(parents=True)
        for name in ("lib", "libexec", "startwm.sh"):
            (opt / name).symlink_to(OVERLAY / "opt/helios" / name)
        # kclient connects to PulseAudio once, at start (pulseaudio2's context), as one client.
        node = 'if [ -e "$PULSE_RUNTIME_PATH/native" ]; then touch "$PULSE_RUNTIME_PATH/clients/$$"; fi\n'
        node += 'exec fake-daemon "socket:$HELIOS_KCLIENT_SOCKET"'
        write_tools(opt / "node/bin", {"node": node})
        write_tools(self.root / "command", {"with-contenv": 'exec "$@"'})
        write_tools(self.bin, TOOLS)
        (self.bin / "fake-daemon").write_text(FAKE_DAEMON)
        (self.bin / "fake-daemon").chmod(0o755)
        self.display = free_display()
        for name in longruns():
            self.copy_service(name)

    def copy_service(self, name: str) -> None:
        target = self.scandir / name
        shutil.copytree(S6RC / name, target, ignore=shutil.ignore_patterns("dependencies.d", "type"))
        for path in target.iterdir():
            if path.is_file():
                text = path.read_text()
                text = text.replace("/command/", f"{self.root}/command/")
                text = text.replace("/opt/helios/", f"{self.root}/opt/helios/")
                path.write_text(text)

    def env(self, path: list[Path]) -> dict[str, str]:
        return {
            "PATH": ":".join([str(self.bin), *map(str, path), "/usr/bin", "/bin"]),
            "HELIOS_ROOT": str(self.root),
            "HELIOS_SCANDIR": str(self.scandir),
            "HELIOS_HEALTH_INTERVAL": "1",
            "USER": "helios",
            "DISPLAY": f":{self.display}",
            "HTTP_PORT": "3999",
            "PREFIX": "/",
            "IDLE_TIME": "0",
            "PULSE_RUNTIME_PATH": str(self.root / "run/helios/pulse"),
            "FAKE_NET": str(self.net),
            "LC_ALL": "C",
        }

    def cleanup(self) -> None:
        for leftover in (f"/tmp/.X11-unix/X{self.display}", f"/tmp/.X{self.display}-lock"):
            Path(leftover).unlink(missing_ok=True)


def replace_file(path: Path, data: bytes) -> None:
    """Write as s6-supervise writes its status and death tally (skalibs' openwritenclose_suffix):
    into PATH.new, then renamed over PATH, so a reader sees the old contents or the new, never a
    truncated file."""
    new = path.with_name(path.name + ".new")
    new.write_bytes(data)
    new.replace(path)


class FakeSupervisor:
    """s6-supervise's readiness and death bookkeeping, one process group per service directory.

    Each start clears supervise/ready (flagready = 0); a newline on the notification pipe sets it;
    the end of the process removes supervise/pid and supervise/ready, appends the death to
    supervise/death_tally, runs ./finish when there is one and, while the service wants up, starts
    it again (1 s after the last start at the earliest). The fake s6-svstat and s6-svdt read exactly that.
    """

    def __init__(self, stage: Stage, env: dict[str, str]) -> None:
        self.stage, self.env = stage, env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.wantup: dict[str, bool] = {}
        self.started: dict[str, float] = {}
        self.lock = threading.RLock()

    def start(self, name: str) -> None:
        with self.lock:
            self.wantup[name] = True
            if name in self.procs and self.procs[name].poll() is None:
                return
            self._spawn(name)

    def _spawn(self, name: str) -> None:
        service = self.stage.scandir / name
        supervise = service / "supervise"
        if not supervise.is_dir():  # s6-supervise starting: a fresh, empty tally
            supervise.mkdir()
            replace_file(supervise / "death_tally", b"")
        (supervise / "ready").unlink(missing_ok=True)
        command, reader = ["./run"], None
        keep: tuple[int, ...] = ()
        declared = service / "notification-fd"
        if declared.is_file():
            fd = int(declared.read_text())
            reader, writer = os.pipe()
            keep = (writer,)
            if writer != fd:
                command = ["bash", "-c", f"exec {fd}>&{writer} {writer}>&-; exec ./run"]
        with (self.stage.logs / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                command,
                cwd=service,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=keep,
                start_new_session=True,
            )
        for fd in keep:
            os.close(fd)
        self.procs[name] = proc
        self.started[name] = time.monotonic()
        replace_file(supervise / "pid", f"{proc.pid}\n".encode())
        if reader is not None:
            threading.Thread(target=self._listen, args=(reader, proc, supervise), daemon=True).start()
        threading.Thread(target=self._reap, args=(proc, supervise), daemon=True).start()

    def _listen(self, reader: int, proc: subprocess.Popen[bytes], supervise: Path) -> None:
        with os.fdopen(reader, "rb", buffering=0) as pipe:
            while chunk := pipe.read(512):
                if b"\n" in chunk:
                    if proc.poll() is None:
                        (supervise / "ready").touch()
                    return

    def _reap(self, proc: subprocess.Popen[bytes], supervise: Path) -> None:
        proc.wait()
        name = supervise.parent.name
        with self.lock:
            if self.procs.get(name) is not proc:
                return
            (supervise / "pid").unlink(missing_ok=True)
            (supervise / "ready").unlink(missing_ok=True)
            self._record_death(supervise, proc.returncode)
        self._finish(supervise.parent, proc)
        delay = self.started[name] + 1.0 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        with self.lock:
            if self.wantup.get(name) and self.procs.get(name) is proc:
                self._spawn(name)

    def _finish(self, service: Path, proc: subprocess.Popen[bytes]) -> None:
        """Run ./finish as s6-supervise's uplastup_z does: with the exit code (256 when killed by a
        signal), the signal, the service name and the dead run script's process group (it started
        the run script with setsid), killed after timeout-finish ms (default 5000)."""
        if not (service / "finish").is_file():
            return
        code, sig = (256, -proc.returncode) if proc.returncode < 0 else (proc.returncode, 0)
        limit_file = service / "timeout-finish"
        limit = int(limit_file.read_text()) / 1000 if limit_file.is_file() else 5.0
        with (self.stage.logs / f"{service.name}.log").open("ab") as log:
            finish = subprocess.Popen(
                ["./finish", str(code), str(sig), service.name, str(proc.pid)],
                cwd=service, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        try:
            finish.wait(timeout=limit or None)
        except subprocess.TimeoutExpired:
            with_group(finish.pid, signal.SIGKILL)
            finish.wait()

    @staticmethod
    def _record_death(supervise: Path, returncode: int) -> None:
        """Append the death as s6-supervise's uplastup_z does, keeping the newest max-death-tally."""
        limit_file = supervise.parent / "max-death-tally"
        limit = min(int(limit_file.read_text()), 4096) if limit_file.is_file() else 100
        if not limit:
            return
        now = time.time_ns()
        sig = -returncode if returncode < 0 else 0
        exitcode = 128 + sig if sig else returncode
        entry = (now // 10**9 + TAI_OFFSET).to_bytes(8, "big") + (now % 10**9).to_bytes(4, "big")
        tally = supervise / "death_tally"
        data = tally.read_bytes() + entry + bytes([exitcode & 0xFF, sig])
        replace_file(tally, data[-limit * DTALLY_PACK :])

    def start_all(self) -> None:
        for name in longruns():
            self.start(name)

    def stop(self, name: str) -> None:
        with self.lock:
            self.wantup[name] = False
            proc = self.procs[name]
        with_group(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while (self.stage.scandir / name / "supervise/pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def shutdown(self) -> None:
        with self.lock:
            self.wantup.clear()
            procs = list(self.procs.values())
        for proc in procs:
            with_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


class RealS6:
    """The real s6-svscan over the stage's scan directory."""

    def __init__(self, stage: Stage, env: dict[str, str], bindir: Path) -> None:
        self.stage, self.env, self.bindir = stage, env, bindir
        self.proc: subprocess.Popen[bytes] | None = None

    def s6(self, tool: str, *args: str) -> None:
        subprocess.run([str(self.bindir / tool), *args], env=self.env, check=True, timeout=30)

    def start_all(self) -> None:
        with (self.stage.logs / "s6-svscan.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [str(self.bindir / "s6-svscan"), str(self.stage.scandir)],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start(self, name: str) -> None:
        self.s6("s6-svc", "-u", str(self.stage.scandir / name))

    def stop(self, name: str) -> None:
        self.s6("s6-svc", "-wD", "-T", "10000", "-d", str(self.stage.scandir / name))

    def shutdown(self) -> None:
        if self.proc is None:
            return
        subprocess.run(
            [str(self.bindir / "s6-svscanctl"), "-t", str(self.stage.scandir)], env=self.env, check=False
        )
        try:
            self.proc.wait(timeout=15)
        finally:
            with_group(self.proc.pid, signal.SIGKILL)


def with_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def s6_bin(*tools: str) -> Path:
    """The directory holding every one of tools: HELIOS_S6_BIN, else where PATH finds the first."""
    candidates = [os.environ.get("HELIOS_S6_BIN", "")]
    found = shutil.which(tools[0])
    candidates.append(str(Path(found).parent) if found else "")
    for candidate in filter(None, candidates):
        if all(os.access(Path(candidate) / tool, os.X_OK) for tool in tools):
            return Path(candidate)
    pytest.skip(f"s6 tools are not installed (put {', '.join(tools)} on PATH or in HELIOS_S6_BIN)")


def real_s6_bin() -> Path:
    return s6_bin(
        "s6-svscan",
        "s6-supervise",
        "s6-svc",
        "s6-svstat",
        "s6-svdt",
        "s6-notifyoncheck",
        "execlineb",
        "s6-clock",
    )


class Boot:
    """A supervisor running every longrun of the tree, and the health script beside it."""

    def __init__(self, stage: Stage, supervisor: FakeSupervisor | RealS6, env: dict[str, str]) -> None:
        self.stage, self.supervisor, self.env = stage, supervisor, env

    def svstat(self, name: str) -> str:
        result = subprocess.run(
            ["s6-svstat", "-o", "up,ready", str(self.stage.scandir / name)],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.strip()

    def svstat_pid(self, name: str) -> int:
        """The pid of the service's process (s6-svstat -o pid; -1 when it is down)."""
        result = subprocess.run(
            ["s6-svstat", "-o", "pid", str(self.stage.scandir / name)],
            env=self.env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return int(result.stdout)

    def deaths(self, name: str) -> list[str]:
        """The service's death tally as s6-svdt prints it, oldest first."""
        result = subprocess.run(
            ["s6-svdt", str(self.stage.scandir / name)],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.splitlines()

    def wait_ready(self, names: list[str] | tuple[str, ...]) -> dict[str, str]:
        """Wait until every service in names is up and ready; return the state of the others."""
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            states = {name: self.svstat(name) for name in names}
            pending = {name: state for name, state in states.items() if state != "true true"}
            if not pending or time.monotonic() > deadline:
                return pending
            time.sleep(0.1)

    def poll_health(self, until: str, seconds: float) -> list[str]:
        """`health.sh update` every 0.2 s until it prints until or seconds have passed."""
        states, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline and until not in states:
            states.append(self.health("update"))
            time.sleep(0.2)
        return states

    def health(self, command: str, script: str = "health.sh") -> str:
        result = subprocess.run(
            ["bash", str(OVERLAY / "opt/helios/libexec" / script), command],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return result.stdout.strip() + result.stderr.strip()

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()}" for log in sorted(self.stage.logs.iterdir()))


@pytest.fixture(params=["fake", "s6"])
def boot(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Boot]:
    stage = Stage(tmp_path)
    supervisor: FakeSupervisor | RealS6
    if request.param == "s6":
        bindir = real_s6_bin()
        env = stage.env([bindir])
        supervisor = RealS6(stage, env, bindir)
    else:
        write_fake_s6(tmp_path / "fake-s6")
        env = stage.env([tmp_path / "fake-s6"])
        supervisor = FakeSupervisor(stage, env)
    try:
        supervisor.start_all()
        yield Boot(stage, supervisor, env)
    finally:
        supervisor.shutdown()
        stage.cleanup()


def test_every_longrun_becomes_ready_under_s6(boot: Boot) -> None:
    """s6-rc waits for each longrun that declares notification-fd to become ready, and health
    waits for the core ones: each must actually get there."""
    pending = boot.wait_ready(longruns())
    assert not pending, f"never ready (up,ready): {pending}\n{boot.logs()}"


@pytest.mark.slow
def test_healthz_turns_ready_and_follows_a_crashed_service(boot: Boot) -> None:
    assert boot.health("update") == "starting"
    boot.wait_ready(CORE_SERVICES)
    assert "boot complete: ready" in boot.health("up", "ready.sh"), boot.logs()
    marker = boot.stage.root / "run/helios/health/ready"
    assert marker.read_text() == "ready"

    boot.supervisor.stop("svc-xvnc")
    assert boot.health("update") == "down:svc-xvnc"
    assert not marker.exists()

    boot.supervisor.start("svc-xvnc")
    assert not boot.wait_ready(["svc-xvnc"]), boot.logs()
    assert len(boot.deaths("svc-xvnc")) == 1
    # Up and ready again, but it died less than two health intervals (2 s here) ago: still down,
    # and ready once that much time has passed without another death.
    states = boot.poll_health(until="ready", seconds=10)
    assert states[-1] == "ready", states
    assert set(states) <= {"down:svc-xvnc", "ready"}, states
    # At stop s6-rc takes svc-health down first (it depends on helios-ready), then helios-ready.
    boot.supervisor.stop("svc-health")
    boot.health("down", "ready.sh")
    assert not marker.exists()


@pytest.mark.slow
def test_audio_comes_back_whole_after_pulseaudio_dies(boot: Boot) -> None:
    """kclient connects to PulseAudio once: when PulseAudio dies, its finish restarts kclient,
    whose run script waits for the new server. /healthz says audio is down until both are back."""
    assert not boot.wait_ready(CORE_SERVICES), boot.logs()
    assert "boot complete: ready" in boot.health("up", "ready.sh"), boot.logs()
    kclient = boot.svstat_pid("svc-kclient")
    os.kill(boot.svstat_pid("svc-pulseaudio"), signal.SIGKILL)
    # Two restarts (PulseAudio, then kclient waiting for it) and the health intervals: seconds on an
    # idle machine; the bound leaves room for a loaded one.
    states = boot.poll_health(until="ready", seconds=30)
    assert states[-1] == "ready", f"{states}\n{boot.logs()}"
    assert boot.svstat_pid("svc-kclient") != kclient, "kclient was started again"
    assert len(boot.deaths("svc-kclient")) == 1 and len(boot.deaths("svc-pulseaudio")) == 1
    assert "ready" not in states[:-1] and set(states[:-1]) <= {
        "down:svc-pulseaudio", "down:svc-kclient", "down:audio", "starting"}, states  # fmt: skip


def test_healthz_says_audio_is_down_when_kclient_lost_pulseaudio(boot: Boot) -> None:
    """PulseAudio and kclient up and ready, yet kclient not PulseAudio's client: audio is down."""
    assert not boot.wait_ready(CORE_SERVICES), boot.logs()
    boot.health("up", "ready.sh")
    assert boot.health("update") == "ready"
    for client in (boot.stage.root / "run/helios/pulse/clients").iterdir():
        client.unlink()  # as after PulseAudio restarted under a kclient that kept running
    assert boot.health("update") == "down:audio"


def test_the_health_watcher_restarts_a_kclient_without_sound_once(boot: Boot) -> None:
    """kclient started without sound (PulseAudio answered too late) and PulseAudio runs: the
    watcher restarts kclient, which connects, and /healthz is 200 again. Once per PulseAudio: when
    the same PulseAudio loses kclient again, the sound stays down rather than kclient restarting."""
    assert not boot.wait_ready(CORE_SERVICES), boot.logs()
    boot.health("up", "ready.sh")
    assert boot.poll_health(until="ready", seconds=10)[-1] == "ready", boot.logs()
    clients = boot.stage.root / "run/helios/pulse/clients"
    kclient, pulseaudio = boot.svstat_pid("svc-kclient"), boot.svstat_pid("svc-pulseaudio")
    for client in clients.iterdir():
        client.unlink()

    # Two watcher checks (1 s apart here), kclient's restart and its two health intervals.
    states = boot.poll_health(until="ready", seconds=20)
    assert states[-1] == "ready", f"{states}\n{boot.logs()}"
    assert boot.svstat_pid("svc-kclient") != kclient, "kclient was not started again"
    assert len(boot.deaths("svc-kclient")) == 1 and not boot.deaths("svc-pulseaudio")
    assert boot.svstat_pid("svc-pulseaudio") == pulseaudio
    assert f"not a client of PulseAudio (pid {pulseaudio})" in boot.logs()

    kclient = boot.svstat_pid("svc-kclient")
    for client in clients.iterdir():
        client.unlink()
    states = boot.poll_health(until="never", seconds=5)  # five watcher checks
    assert set(states) == {"down:audio"}, states
    assert boot.svstat_pid("svc-kclient") == kclient, "kclient restarted twice for one PulseAudio"


@pytest.mark.slow
def test_healthz_stays_503_while_a_core_service_keeps_dying(boot: Boot) -> None:
    """A desktop session that exits 3 s after each start: s6 starts it again at once and it reads
    up and ready most of the time, yet /healthz must say 503 throughout. Its deaths (s6's death
    tally) keep it down: the last one within two health intervals, or 3 within 2 minutes."""
    assert not boot.wait_ready(CORE_SERVICES), boot.logs()
    assert "boot complete: ready" in boot.health("up", "ready.sh"), boot.logs()
    startwm = boot.stage.root / "opt/helios/startwm.sh"
    startwm.unlink()
    startwm.write_text("#!/bin/bash\necho session starting\nsleep 3\nexit 1\n")
    startwm.chmod(0o755)
    boot.supervisor.stop("svc-desktop")
    boot.supervisor.start("svc-desktop")

    deadline = time.monotonic() + 30
    while len(boot.deaths("svc-desktop")) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    deaths = boot.deaths("svc-desktop")
    assert len(deaths) >= 3, f"{deaths}\n{boot.logs()}"
    assert all(line.split()[1:] == ["exitcode", "1"] for line in deaths[1:]), deaths

    states, seen_ready = [], False
    for _ in range(30):  # 6 s: two more deaths, and the session up and ready in between
        states.append(boot.health("update"))
        seen_ready = seen_ready or boot.svstat("svc-desktop") == "true true"
        time.sleep(0.2)
    assert seen_ready, "the restart loop never read as up and ready: the test proves nothing"
    assert set(states) == {"down:svc-desktop"}, states


def test_a_service_that_never_notifies_is_up_but_not_ready(tmp_path: Path) -> None:
    """The stand-ins keep s6's rule: no notification-fd, or no newline on it, means never ready."""
    stage = Stage(tmp_path)
    write_fake_s6(tmp_path / "fake-s6")
    env = stage.env([tmp_path / "fake-s6"])
    for name, declares in (("silent", True), ("undeclared", False)):
        service = stage.scandir / name
        service.mkdir()
        write_tools(service, {"run": "exec sleep infinity"})
        if declares:
            (service / "notification-fd").write_text("3\n")
    supervisor = FakeSupervisor(stage, env)
    boot = Boot(stage, supervisor, env)
    try:
        for name in ("silent", "undeclared"):
            supervisor.start(name)
        time.sleep(0.5)
        assert boot.svstat("silent") == "true false"
        assert boot.svstat("undeclared") == "true false"
    finally:
        supervisor.shutdown()
        stage.cleanup()


def test_tree_compiles_with_s6_overlay_and_waits_for_readiness(tmp_path: Path) -> None:
    """What s6-overlay's stage 2 (rc.init) does with the tree: s6-rc-compile it together with the
    user/user2 bundles and the sources s6-overlay ships. Every service then sits on `base`, the
    `top` bundle s6-rc brings up holds all of them, and every longrun keeps its notification-fd,
    so s6-rc waits for its readiness (s6-svc -uwU) within S6_CMD_WAIT_FOR_SERVICES_MAXTIME.
    Needs s6-rc and HELIOS_S6_OVERLAY_SRC, a checkout of s6-overlay (v3.2.3.0)."""
    bindir = s6_bin("s6-rc-compile", "s6-rc-db")
    checkout = Path(os.environ.get("HELIOS_S6_OVERLAY_SRC", "/nonexistent"))
    layout = checkout / "layout/rootfs-overlay"
    sources = sorted(layout.glob("package/admin/s6-overlay-*/etc/s6-rc/sources"))
    if not sources:
        pytest.skip("HELIOS_S6_OVERLAY_SRC does not name a checkout of s6-overlay v3")
    merged, compiled = tmp_path / "s6-rc.d", tmp_path / "db"
    shutil.copytree(layout / "etc/s6-overlay/s6-rc.d", merged)
    shutil.copytree(S6RC, merged, dirs_exist_ok=True)

    def s6_rc(*args: str) -> list[str]:
        result = subprocess.run(
            [str(bindir / args[0]), *args[1:]], capture_output=True, text=True, check=False, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    s6_rc("s6-rc-compile", str(compiled), str(merged), str(sources[0]))
    ours = {path.name for path in S6RC.iterdir() if path.is_dir()} - {"user"}
    base = set(s6_rc("s6-rc-db", "-c", str(compiled), "contents", "base"))
    assert base, "s6-overlay's base bundle is empty"
    for name in sorted(ours):
        missing = base - set(s6_rc("s6-rc-db", "-c", str(compiled), "all-dependencies", name))
        assert not missing, f"{name} does not start after s6-overlay's base ({sorted(missing)})"
    assert ours <= set(s6_rc("s6-rc-db", "-c", str(compiled), "contents", "top"))
    for name in longruns():
        assert (compiled / "servicedirs" / name / "notification-fd").read_text().strip() == "3", name
