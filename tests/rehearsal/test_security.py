"""Nothing behind nginx answers without nginx's say, on the booted image, and the services recover.

The image boots once with HTTPS=true and the login on. Every client here runs in the container's
network namespace, as any process of the host would with `docker run --network host`: the
container's loopback and abstract unix sockets are then the host's. The tests look at every
listener of that namespace and try each one as an unrelated account (nobody) and as root: only
nginx, with its checks, leads to the desktop. Then the private key nginx serves is tried as the
desktop user, and nginx's master, PulseAudio and the X server (with /tmp full) are killed, each
once, while /healthz is polled: it must be 200 again within the documented bound.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.imageconfig import HTTP_PORT
from pipeline.smoke import DEFAULT_TIMEOUT
from tests.rehearsal.boot import Container, booted, fresh_state, image_env, wait_until
from tests.rehearsal.results import Results

pytestmark = pytest.mark.real_versions  # the image was built from the real pins: plan with them

USER, PASSWORD = "helios", "rehearsal pass phrase"
SETTINGS = {"HTTPS": "true", "HTTP_AUTH_PASSWORD": PASSWORD}
HEALTH_INTERVAL = 5
RECOVERY_BOUND = 3 * HEALTH_INTERVAL + 10
"""docs/runtime.md (Readiness): 200 again within 3 health intervals plus the service's restart."""
ANYONE = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
PYTHON = "/usr/bin/python3"


@pytest.fixture(scope="module")
def secured(image_root: Path, results: Results) -> Iterator[Container]:
    """The image booted with HTTPS and the login, until /healthz says ready."""
    if shutil.which("unshare") is None or shutil.which("nsenter") is None or shutil.which("setpriv") is None:
        pytest.skip("booting needs util-linux's unshare, nsenter and setpriv")
    state = fresh_state("security", {})
    with booted(image_root, state, {**image_env(), **SETTINGS}) as container:
        started = time.monotonic()
        if not wait_until(lambda: healthz(container) == 200, DEFAULT_TIMEOUT):
            pytest.fail(f"/healthz never turned 200:\n{container.log_tail()}")
        results.timing("boot with HTTPS and the login: /init to /healthz 200", time.monotonic() - started)
        yield container
    shutil.copy(state / "container.log", results.dir / "security-container.log")


def https(container: Container, path: str, login: bool = True) -> tuple[int, bytes]:
    """GET https://127.0.0.1:HTTP_PORT/path in the container's network (the self-signed pair)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    request = urllib.request.Request(f"https://127.0.0.1:{HTTP_PORT}/{path}")
    if login:
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with container.network():
        try:
            with urllib.request.urlopen(request, timeout=5, context=context) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except (urllib.error.URLError, OSError):
            return 0, b""


def healthz(container: Container) -> int:
    return https(container, "healthz", login=False)[0]


def inside(container: Container, *argv: str, user: str = "root") -> subprocess.CompletedProcess[str]:
    """Run argv in the container (its namespaces and root) as root or another account."""
    prefix = [*container.enter(mount=True)]
    if user != "root":
        prefix += ["/command/s6-setuidgid", user]
    return subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=60, check=False)


def in_namespace(container: Container, code: str, *args: str, anyone: bool = True) -> str:
    """Python code run by the host's python in the container's network namespace (as nobody)."""
    argv = [*container.enter(), *(ANYONE if anyone else ()), PYTHON, "-c", code, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout.strip()


# --- every listener of the namespace -----------------------------------------------------------------


def listeners(container: Container) -> set[str]:
    """'tcp ADDRESS:PORT' and 'udp ADDRESS:PORT' for every socket listening in the namespace."""
    found = set()
    for proto, states in (("tcp", {"0A"}), ("udp", {"07"})):
        for family in ("", "6"):
            table = Path(f"/proc/{container.pid}/net/{proto}{family}").read_text().splitlines()[1:]
            for line in table:
                local, state = line.split()[1], line.split()[3]
                if state in states:
                    address, port = local.split(":")
                    found.add(f"{proto} {_address(address)}:{int(port, 16)}")
    return found


def _address(hexed: str) -> str:
    if len(hexed) == 8:
        return ".".join(str(int(hexed[i : i + 2], 16)) for i in (6, 4, 2, 0))
    return "::" if set(hexed) == {"0"} else hexed


def abstract_sockets(container: Container) -> set[str]:
    """Listening unix sockets in the abstract namespace (/proc/net/unix, '@' names)."""
    names = set()
    for line in Path(f"/proc/{container.pid}/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[3] == "00010000" and fields[7].startswith("@"):  # __SO_ACCEPTCON
            names.add(fields[7])
    return names


def test_only_nginx_and_kasmvnc_on_the_loopback_listen_in_the_namespace(
    secured: Container, results: Results
) -> None:
    found = listeners(secured)
    results.record("listeners in the container's network namespace", sorted(found))
    # nginx on every address (IPv6 too when the namespace has it), KasmVNC's TCP and UDP on the
    # loopback; no kclient port (6900), no UDP port on every address.
    assert found - {f"tcp :::{HTTP_PORT}"} == {
        f"tcp 0.0.0.0:{HTTP_PORT}",
        "tcp 127.0.0.1:6901",
        "udp 127.0.0.1:6901",
    }


KASMVNC_PLAIN = """
import socket, sys
s = socket.create_connection(("127.0.0.1", 6901), timeout=5)
s.sendall(b"GET /websockify HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n")
try:
    print(repr(s.recv(64)))
except OSError as error:
    print(type(error).__name__)
"""

KASMVNC_TLS = """
import base64, socket, ssl, sys
context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE
s = context.wrap_socket(socket.create_connection(("127.0.0.1", 6901), timeout=5))
login = sys.argv[1]
header = f"Authorization: Basic {base64.b64encode(login.encode()).decode()}\\r\\n" if login else ""
s.sendall(("GET /websockify HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n"
           "Origin: http://127.0.0.1\\r\\n" + header + "\\r\\n").encode())
print(s.recv(64).split(b"\\r\\n")[0].decode())
"""


def test_kasmvnc_answers_no_one_without_its_login(secured: Container) -> None:
    plain = in_namespace(secured, KASMVNC_PLAIN)
    assert plain in ("b''", "ConnectionResetError"), f"KasmVNC answered plain HTTP: {plain}"
    assert in_namespace(secured, KASMVNC_TLS, "") == "HTTP/1.1 401 Unauthorized"
    for guess in ("helios-proxy:guess", f"{USER}:{PASSWORD}"):  # the web login is not KasmVNC's
        assert in_namespace(secured, KASMVNC_TLS, guess).startswith("HTTP/1.1 401"), guess


RELAY = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind("\\0.helios-proxy@127.0.0.1_1.1")  # the name KasmVNC's own relay gives itself
s.settimeout(5)
s.connect("\\0" + sys.argv[1][1:])
try:
    print(repr(s.recv(64)))
except OSError as error:
    print(type(error).__name__)
"""


def test_kasmvnc_relay_socket_refuses_every_other_process(secured: Container) -> None:
    sockets = abstract_sockets(secured)
    relays = [name for name in sockets if name.startswith("@KasmVNCSock")]
    assert len(relays) == 1, sockets
    for anyone in (True, False):  # nobody, then root: no process but KasmVNC's own
        assert in_namespace(secured, RELAY, relays[0], anyone=anyone) in ("b''", "ConnectionResetError")
    assert not [name for name in sockets if name.startswith("@/tmp/.X11-unix")], (
        "the X server's -nolisten local"
    )
    assert secured.running() and wait_until(lambda: healthz(secured) == 200, 30), "KasmVNC survived"


KCLIENT = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1]); print("connected")
except OSError as error:
    print(error.strerror)
"""


def test_kclient_opens_to_nginx_only(secured: Container) -> None:
    path = "/run/helios/kclient/kclient.sock"
    script = "/run/helios-rehearsal-kclient.py"
    (Path(f"/proc/{secured.pid}/root") / script.lstrip("/")).write_text(KCLIENT)
    try:
        as_nobody = inside(
            secured, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "python3", script, path
        )
        as_nginx = inside(secured, "python3", script, path, user="www-data")
    finally:
        (Path(f"/proc/{secured.pid}/root") / script.lstrip("/")).unlink()
    assert as_nobody.stdout.strip() == "Permission denied", as_nobody.stdout + as_nobody.stderr
    assert as_nginx.stdout.strip() == "connected", as_nginx.stdout + as_nginx.stderr
    # The socket lives in the container's file system: the host (its mount namespace) has no such path.
    assert not Path(path).exists()


def test_through_nginx_the_desktop_is_there(secured: Container) -> None:
    assert https(secured, "", login=False)[0] == 401
    status, page = https(secured, "")
    assert status == 200 and b"vnc/index.html" in page


# --- bursts and stalled clients ---------------------------------------------------------------------

BURST = """
import base64, json, socket, ssl, sys, time
port, count, login, cookie = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE
def ask(path, extra):
    s = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30))
    s.sendall((f"GET {path} HTTP/1.1\\r\\nHost: 127.0.0.1:{port}\\r\\nOrigin: https://127.0.0.1:{port}\\r\\n"
               f"Authorization: Basic {base64.b64encode(login.encode()).decode()}\\r\\n{extra}\\r\\n").encode())
    return s, s.recv(64).split(b" ")[1].decode()
upgrade = ("Upgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Version: 13\\r\\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Protocol: binary\\r\\n")
started = time.monotonic()
held = [ask("/websockify", upgrade) for _ in range(count)]
burst = time.monotonic() - started
started = time.monotonic()
_, page = ask("/", f"Cookie: {cookie}\\r\\n")
print(json.dumps({"statuses": [status for _, status in held], "burst": burst, "page": page,
                  "page_seconds": time.monotonic() - started}))
"""


def login_cookie(container: Container) -> str:
    """The cookie nginx gives an answer past the login (name=value)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    request = urllib.request.Request(f"https://127.0.0.1:{HTTP_PORT}/")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
    with container.network(), urllib.request.urlopen(request, timeout=5, context=context) as reply:
        return str(reply.headers["Set-Cookie"]).split(";", 1)[0]


def test_a_burst_of_200_desktop_streams_is_cut_at_16_and_the_page_still_loads(
    secured: Container, results: Results
) -> None:
    cookie = login_cookie(secured)
    outcome = json.loads(in_namespace(secured, BURST, str(HTTP_PORT), "200", f"{USER}:{PASSWORD}", cookie))
    statuses = outcome["statuses"]
    results.record("burst of 200 desktop streams (one client)", f"{statuses.count('101')} opened, "
                   f"{statuses.count('429')} refused in {outcome['burst']:.1f} s; the page then in "
                   f"{outcome['page_seconds']:.2f} s")  # fmt: skip
    assert statuses.count("101") == 16 and set(statuses) == {"101", "429"}, statuses
    assert outcome["page"] == "200" and outcome["page_seconds"] < 2


STALLED = """
import json, socket, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
stalled = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(count)]
for s in stalled:
    s.sendall(b"\\x16\\x03\\x01")  # the start of a TLS record, and no more
started = time.monotonic()
probe = socket.create_connection(("127.0.0.1", port), timeout=5)
probe.close()
answered = time.monotonic() - started
stalled[0].settimeout(30)
try:
    stalled[0].recv(1)
except OSError:
    pass
print(json.dumps({"probe_seconds": answered, "dropped_after": time.monotonic() - started}))
"""


def test_600_stalled_handshakes_neither_block_the_page_nor_stay(secured: Container, results: Results) -> None:
    outcome = json.loads(in_namespace(secured, STALLED, str(HTTP_PORT), "600"))
    results.record("600 stalled TLS handshakes", f"a new connection in {outcome['probe_seconds']:.2f} s; "
                   f"stalled ones dropped after {outcome['dropped_after']:.1f} s")  # fmt: skip
    assert outcome["probe_seconds"] < 2
    assert 8 <= outcome["dropped_after"] <= 14, outcome
    assert healthz(secured) == 200


# --- the key nginx serves ------------------------------------------------------------------------------


def test_the_desktop_user_cannot_read_the_key_nginx_serves(secured: Container) -> None:
    for secret in ("/var/lib/helios/tls/key.pem", "/run/helios/nginx/nginx.conf"):
        attempt = inside(secured, "cat", secret, user=USER)
        assert attempt.returncode != 0 and "Permission denied" in attempt.stderr, (
            secret,
            attempt.stdout[:40],
        )
    # ...and that key is the one nginx serves: its certificate is the pair's.
    served = in_namespace(
        secured,
        f"import ssl; print(ssl.get_server_certificate(('127.0.0.1', {HTTP_PORT})))",
        anyone=False,
    )
    on_disk = inside(secured, "cat", "/var/lib/helios/tls/cert.pem").stdout
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(on_disk)
    kasmvnc_key = inside(secured, "cat", "/run/helios/kasmvnc/key.pem", user=USER)
    assert kasmvnc_key.returncode == 0, "KasmVNC, as the desktop user, reads its own key"


# --- recovery -----------------------------------------------------------------------------------------


def fault(container: Container, results: Results, name: str, *kill: str) -> None:
    """Run the kill inside the container; /healthz must turn 503, then 200 within the bound."""
    assert wait_until(lambda: healthz(container) == 200, 180), f"not healthy before {name}"
    started = time.monotonic()
    done = inside(container, *kill)
    assert done.returncode == 0, done.stderr
    went_down = wait_until(lambda: healthz(container) != 200, 2 * HEALTH_INTERVAL + 5, interval=0.25)
    assert went_down, f"/healthz never noticed {name}"
    down = time.monotonic() - started
    back = wait_until(lambda: healthz(container) == 200, RECOVERY_BOUND + 20, interval=0.25)
    seconds = time.monotonic() - started
    results.timing(f"recovery: {name} killed to /healthz 200 (503 after {down:.1f} s)", seconds)
    assert back, f"/healthz not 200 within {RECOVERY_BOUND + 20} s after {name}:\n{container.log_tail()}"
    assert seconds <= RECOVERY_BOUND, f"{name}: {seconds:.1f} s, more than {RECOVERY_BOUND} s"


def test_killing_nginxs_master_leaves_no_worker_and_healthz_comes_back(
    secured: Container, results: Results
) -> None:
    master = inside(secured, "cat", "/run/helios/nginx/nginx.pid").stdout.strip()
    fault(secured, results, "nginx's master (SIGKILL)", "kill", "-9", master)
    groups = inside(secured, "ps", "-eo", "pgid=,args=").stdout.splitlines()
    assert not [line for line in groups if line.split()[0] == master and "nginx" in line], groups
    assert "stopping what the dead service left in its process group" in secured.log.read_text()


AUDIO = ("/command/s6-setuidgid", USER, "env", "PULSE_SERVER=unix:/run/helios/pulse/native", "pactl")


def test_killing_pulseaudio_brings_the_sound_back_whole(secured: Container, results: Results) -> None:
    for _ in range(2):  # the microphone used to go missing on every second start
        fault(secured, results, "PulseAudio (SIGKILL)", "pkill", "-9", "-x", "pulseaudio")
        sources = inside(secured, *AUDIO, "list", "short", "sources").stdout
        assert "helios_mic" in sources, sources
        kclient = inside(
            secured, "/command/s6-svstat", "-o", "pid", "/run/service/svc-kclient"
        ).stdout.strip()
        clients = inside(secured, *AUDIO, "list", "clients").stdout
        assert f'application.process.id = "{kclient}"' in clients, "kclient is PulseAudio's client again"


def test_the_x_server_starts_again_with_a_full_tmp(secured: Container, results: Results) -> None:
    inside(secured, "mount", "-o", "remount,size=8m", "/tmp")
    inside(secured, "sh", "-c", "dd if=/dev/zero of=/tmp/rehearsal-fill bs=64k 2>/dev/null; true", user=USER)
    try:
        assert inside(secured, "df", "--output=avail", "/tmp").stdout.split()[-1] == "0"
        fault(secured, results, "the X server with /tmp full (SIGKILL)", "pkill", "-9", "-x", "Xvnc")
    finally:
        inside(secured, "rm", "-f", "/tmp/rehearsal-fill")
    assert "Failed to activate virtual core keyboard" not in secured.log.read_text()


# --- the image -------------------------------------------------------------------------------------------


def test_no_file_of_the_image_has_file_capabilities(image_root: Path) -> None:
    carrying = []
    for path in image_root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if "security.capability" in os.listxattr(path):
                    carrying.append(str(path.relative_to(image_root)))
            except OSError:
                continue
    assert carrying == []
