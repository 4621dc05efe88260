"""The runtime run on the host, as the runtime tests share it: its scripts in a sandbox root with
fake system tools, nginx with the rendered configuration in front of stand-in backends, and kclient
under node.

Fixtures here (sandbox, site, kclient_tree, kclient) reach every test module through
tests/conftest.py's `pytest_plugins`, so no test module imports another.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import os
import shutil
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import patched_kclient
from tests.socketio_polling import SocketIO

REPO = Path(__file__).resolve().parents[1]
OVERLAY = REPO / "common" / "root"
LIB = OVERLAY / "opt/helios/lib/helios.sh"
LIBEXEC = OVERLAY / "opt/helios/libexec"
TEMPLATE = OVERLAY / "etc/helios/nginx/nginx.conf.template"

# --- the runtime scripts in a sandbox root ---------------------------------------------------------


FAKES: dict[str, str] = {
    # getent passwd|group KEY: look the key up by name or numeric id in the fake files.
    "getent": """
db="$HELIOS_ROOT/etc/$1"; key="$2"
awk -F: -v k="$key" '$1 == k || $3 == k { print; found = 1; exit } END { exit !found }' "$db" || exit 2
""",
    "groupadd": """
name="${*: -1}"; gid=""
while [ $# -gt 1 ]; do case "$1" in -g) gid="$2"; shift ;; esac; shift; done
echo "$name:x:$gid:" >> "$HELIOS_ROOT/etc/group"
""",
    "useradd": """
name="${*: -1}"; uid=""; gid=""; home=""; shell=""
while [ $# -gt 1 ]; do
  case "$1" in -u) uid="$2"; shift ;; -g) gid="$2"; shift ;; -d) home="$2"; shift ;; -s) shell="$2"; shift ;; esac
  shift
done
echo "$name:x:$uid:$gid::$home:$shell" >> "$HELIOS_ROOT/etc/passwd"
""",
    "usermod": "",
    "groupmod": "",
    "chown": "",
    "chpasswd": 'cat > "$HELIOS_ROOT/chpasswd.stdin"',
    "openssl": """
case "$1" in
  passwd) printf '$6$fakesalt$%s\\n' "$(sha256sum | cut -c1-20)" ;;
  req) san=""
       while [ $# -gt 0 ]; do
         case "$1" in
           -keyout) key="$2"; shift ;; -out) out="$2"; shift ;; -addext) san="$2"; shift ;;
         esac
         shift
       done
       echo key > "$key"; printf 'cert %s\n' "$san" > "$out" ;;
  x509) while [ $# -gt 0 ]; do [ "$1" = -in ] && cat "$2"; shift; done ;;
esac
""",
    # s6-applyuidgid [-z] [-u UID] [-g GID] [-G GIDLIST] [-U] PROG...: set the ids, exec PROG. The
    # fake execs PROG without changing ids (the real drop is tested as root in test_runtime_hardening).
    "s6-applyuidgid": """
while getopts zUu:g:G: opt; do :; done
shift $((OPTIND - 1))
exec "$@"
""",
    "s6-svscanctl": "",
    "s6-svc": "",
    "s6-pause": "",
}


@dataclass
class Sandbox:
    """A temporary root, its fake tools and a way to run overlay scripts in it."""

    root: Path
    bin: Path
    log: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "HELIOS_ROOT": str(self.root),
            "HELIOS_LIB": str(LIB),
            "FAKE_LOG": str(self.log),
            "LC_ALL": "C",
        }
        env.update(extra)
        return env

    def run(
        self, script: str, *args: str, check: bool = True, timeout: float = 60, **env: str
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["bash", str(LIBEXEC / script), *args],
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def bash(self, code: str, **env: str) -> str:
        """Run ``code`` with the library sourced; return stdout."""
        result = subprocess.run(
            ["bash", "-c", f'set -euo pipefail; source "{LIB}"; {code}'],
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def file(self, rel: str) -> Path:
        return self.root / rel


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc/group").write_text("root:x:0:\nusers:x:100:\n")
    shutil.copytree(OVERLAY / "etc/skel", root / "etc/skel")
    (root / "etc/skel/.profile").write_text("# skel profile\n")
    (root / "run/s6/container_environment").mkdir(parents=True)
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    log = tmp_path / "calls.log"
    for name, body in FAKES.items():
        script = fake_bin / name
        script.write_text(f'#!/bin/bash\necho "{name} $*" >> "$FAKE_LOG"\n{body}\n')
        script.chmod(0o755)
    return Sandbox(root=root, bin=fake_bin, log=log)


def contenv(sandbox: Sandbox) -> dict[str, str]:
    directory = sandbox.file("run/s6/container_environment")
    return {path.name: path.read_text() for path in directory.iterdir()}


def write_hook(path: Path, body: str, executable: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/bash\n{body}\n")
    path.chmod(0o755 if executable else 0o644)


def idle_env(sandbox: Sandbox, samples: list[int]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Fake xprintidle (one sample per call) and sleep (recorded; fails after the last sample)."""
    sandbox.file("samples").write_text("\n".join(map(str, samples)) + "\n")
    (sandbox.bin / "xprintidle").write_text(
        '#!/bin/bash\nf="$HELIOS_ROOT/samples"; head -n1 "$f"; sed -i 1d "$f"\n'
    )
    (sandbox.bin / "sleep").write_text(
        '#!/bin/bash\necho "$1" >> "$HELIOS_ROOT/sleeps"\n[ -s "$HELIOS_ROOT/samples" ]\n'
    )
    for name in ("xprintidle", "sleep"):
        (sandbox.bin / name).chmod(0o755)
    return lambda **env: sandbox.run("idle.sh", check=False, **env)


# --- nginx ------------------------------------------------------------------------------------------


def nginx_binary() -> str:
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if binary is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    return binary


def render(tmp_path: Path, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    """Render the template into tmp_path/run/helios/nginx/nginx.conf, with KasmVNC's login."""
    full_env = {
        "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
        "HELIOS_ROOT": str(tmp_path),
        "HELIOS_LIB": str(OVERLAY / "opt/helios/lib/helios.sh"),
        "HELIOS_NGINX_TEMPLATE": str(TEMPLATE),
        "HELIOS_IPV6_PROBE": str(tmp_path / "no-ipv6"),
        **env,
    }
    result = subprocess.run(
        ["bash", str(LIBEXEC / "nginx-config.sh")], env=full_env, capture_output=True, text=True, check=False
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def kasmvnc_pair(root: Path) -> tuple[Path, Path]:
    """KasmVNC's per-boot pair as helios-tls makes it (tls.sh), which nginx must find to start."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    directory = root / "run/helios/kasmvnc"
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-nodes", "-days", "1", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-subj", "/CN=helios-kasmvnc", "-addext",
         "subjectAltName=DNS:helios-kasmvnc", "-keyout", str(key), "-out", str(cert)],
        capture_output=True, check=True,
    )  # fmt: skip
    return cert, key


def nginx_test(root: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on the rendered configuration, with KasmVNC's pair in place as at boot."""
    kasmvnc_pair(root)
    return subprocess.run(
        [nginx_binary(), "-t", "-e", "stderr", "-c", str(root / "run/helios/nginx/nginx.conf")],
        capture_output=True,
        text=True,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


WEBSOCKET = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}


DAEMON_OFF = "daemon off;"


WEBSOCKET_KEY = {"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


HELD = threading.Event()


def answering(name: str) -> type[http.server.BaseHTTPRequestHandler]:
    """A handler that answers 200 '<name> <path> login=<the Authorization header, or no>' to GETs,
    and takes a websocket upgrade to a path ending in '?hold' (101) and holds it until HELD is set."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path.endswith("?hold") and self.headers.get("Upgrade"):
                self.send_response(101)
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.end_headers()
                self.wfile.flush()
                HELD.wait(60)
                self.close_connection = True
                return
            body = f"{name} {self.path} login={self.headers.get('Authorization') or 'no'}".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


class KclientBackend(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """A stand-in kclient on the unix socket svc-kclient gives it (open to nginx's workers)."""

    daemon_threads = True

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o755)
        path.unlink(missing_ok=True)
        super().__init__(str(path), answering("kclient"))
        path.chmod(0o666)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class KasmvncBackend(http.server.ThreadingHTTPServer):
    """A stand-in KasmVNC: TLS only, with the pair it is given, on a free loopback port."""

    daemon_threads = True

    def __init__(self, cert: Path, key: Path) -> None:
        super().__init__(("127.0.0.1", 0), answering("kasmvnc"))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@dataclass
class Answer:
    status: int
    body: str
    headers: http.client.HTTPMessage


@dataclass
class Site:
    """nginx with the rendered configuration, and a way to ask it."""

    port: int
    root: Path
    stderr: str
    tls: bool = False

    def get(self, path: str, host: str | None = None, **headers: str) -> Answer:
        if self.tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=5, context=context
            )
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host or f"127.0.0.1:{self.port}")
        for name, value in headers.items():
            conn.putheader(name.replace("_", "-"), value)
        conn.endheaders()
        response = conn.getresponse()
        answer = Answer(response.status, response.read().decode(), response.headers)
        conn.close()
        return answer

    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"


def start_nginx(root: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [nginx_binary(), "-e", "stderr", "-c", str(root / "run/helios/nginx/nginx.conf"), "-g", DAEMON_OFF],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _ in range(50):
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=0.2).connect()
            return process
        except OSError:
            if process.poll() is not None:
                stderr = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"nginx exited: {stderr}")
            time.sleep(0.1)
    return process


@pytest.fixture
def site() -> Iterator[Callable[..., Site]]:
    """Render with the given environment and serve it; everything stops with the test.

    kclient's stand-in listens on the unix socket of the rendered configuration; KasmVNC's speaks
    TLS with the per-boot pair (as helios-tls makes it) on a free port, which replaces 6901.
    """
    nginx_binary()
    HELD.clear()
    processes: list[subprocess.Popen[bytes]] = []
    backends: list[socketserver.BaseServer] = []
    directory = tempfile.TemporaryDirectory()
    # World-traversable: as root, nginx's workers run as an unprivileged account.
    root = Path(directory.name)
    root.chmod(0o755)

    def make(prepare: Callable[[Path], None] | None = None, **env: str) -> Site:
        if prepare:
            prepare(root)
        port = free_port()
        result = render(root, HTTP_PORT=str(port), **env)
        kasmvnc = KasmvncBackend(*kasmvnc_pair(root))
        backends.extend([kasmvnc, KclientBackend(root / "run/helios/kclient/kclient.sock")])
        conf = root / "run/helios/nginx/nginx.conf"
        conf.write_text(conf.read_text().replace("127.0.0.1:6901;", f"127.0.0.1:{kasmvnc.port};"))
        processes.append(start_nginx(root, port))
        return Site(port, root, result.stderr, tls=env.get("HTTPS") == "true")

    try:
        yield make
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        HELD.set()
        for backend in backends:
            backend.shutdown()
            backend.server_close()
        directory.cleanup()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def make_pair(directory: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test"],
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        check=True,
    )
    return cert, key


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changes owners: run as root")


# --- kclient ----------------------------------------------------------------------------------------


# Moves kclient's fixed port 6900 to the one a test chose, so tests never collide with a kclient
# already running on this machine. Nothing else of node changes.
PORT_SHIM = """\
const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (args[0] === 6900) args[0] = Number(process.env.KCLIENT_TEST_PORT);
  return listen.apply(this, args);
};
"""


@pytest.fixture(scope="session")
def kclient_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The patched kclient (default build) with its locked dependencies installed."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    tree = patched_kclient(tmp_path_factory.mktemp("kclient"))
    node = Path(shutil.which("node") or "").resolve()
    prefix = node.parent.parent
    if not (prefix / "include/node/node.h").is_file():
        pytest.skip(f"no Node.js headers in {prefix}/include/node for the native pulseaudio2 module")
    result = subprocess.run(
        ["npm", "ci", "--omit=dev", "--no-audit", "--no-fund"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "npm_config_nodedir": str(prefix)},
    )
    if result.returncode != 0:
        pytest.skip(
            "npm ci of kclient's lockfile failed (it needs the npm registry or a warm npm cache, and "
            f"PulseAudio's headers, e.g. apt-get install libpulse-dev): {result.stderr[-600:]}"
        )
    return tree


@dataclass
class Kclient:
    port: int
    mic: Path
    log: Callable[[], str]

    def get(self, path: str) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", path)
        response = conn.getresponse()
        answer = response.status, response.read().decode()
        conn.close()
        return answer

    def socket(self, path: str = "/audio/socket.io/") -> SocketIO:
        return SocketIO(self.port, path)


@contextmanager
def running_kclient(tree: Path, tmp: Path, mic: Path, **env: str) -> Iterator[Kclient]:
    """kclient under node as svc-kclient starts it (SUBFOLDER, MIC_SOCKET, loopback), on a free port."""
    shim = tmp / "port-shim.js"
    shim.write_text(PORT_SHIM)
    port = free_port()
    log = tmp / "kclient.log"
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp),
        "SUBFOLDER": "/",
        "TITLE": "Helios",
        "KCLIENT_HOST": "127.0.0.1",
        "MIC_SOCKET": str(mic),
        "KCLIENT_TEST_PORT": str(port),
        # No sound server unless a test starts one: libpulse must not spawn one of its own.
        "PULSE_SERVER": f"unix:{tmp}/no-pulse/native",
        **env,
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            ["node", "--require", str(shim), str(tree / "index.js")],
            cwd=tree,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Kclient(port, mic, log.read_text)
    try:
        for _ in range(100):
            if process.poll() is not None:
                pytest.fail(f"kclient exited {process.returncode}: {log.read_text()}")
            try:
                if server.get(environment["SUBFOLDER"])[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(f"kclient did not answer: {log.read_text()}")
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def kclient(kclient_tree: Path, tmp_path: Path) -> Iterator[Kclient]:
    with running_kclient(kclient_tree, tmp_path, tmp_path / "mic.sock") as server:
        yield server
