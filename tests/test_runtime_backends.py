"""Nothing behind nginx answers without nginx's say: KasmVNC's login and certificate, kclient's socket.

Against a live nginx with the rendered configuration (tests/test_runtime_web_security.py's `site`):
KasmVNC is a TLS stand-in with the per-boot pair, kclient a stand-in on the unix socket. KasmVNC's
side of its login is checked as KasmVNC 1.5 checks it (common/network/websocket.c): it hashes the
password it receives with crypt_r(password, "$5$kasm$") and compares "user:hash" with the
kasmpasswd line, so the test hashes with the C library's own crypt(). kclient's socket is made by
the real preload (opt/helios/lib/kclient-socket.js) under node, in a folder prepared as
svc-kclient prepares it, and tried as the desktop user, nginx's workers and another account.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.runtime_host import (
    OVERLAY,
    WEBSOCKET,
    WEBSOCKET_KEY,
    Site,
    basic,
    free_port,
    kasmvnc_pair,
    needs_root,
    render,
)


def kasmvnc_checks(header: str, kasmpasswd: Path) -> bool:
    """KasmVNC's verdict on an Authorization header: the crypt of its password against the file."""
    name = ctypes.util.find_library("crypt")
    if name is None:
        pytest.skip("no libcrypt to hash as KasmVNC does")
    crypt = ctypes.CDLL(name).crypt
    crypt.restype, crypt.argtypes = ctypes.c_char_p, [ctypes.c_char_p, ctypes.c_char_p]
    scheme, _, token = header.partition(" ")
    user, _, password = base64.b64decode(token).decode().partition(":")
    hashed = crypt(password.encode(), b"$5$kasm$").decode()
    entries = [line.split(":") for line in kasmpasswd.read_text().splitlines()]
    return scheme == "Basic" and any(entry[:2] == [user, hashed] for entry in entries)


def login_seen(answer_body: str) -> str:
    """The Authorization header a stand-in backend received ('no' when none)."""
    return answer_body.split(" login=", 1)[1]


def test_kasmvnc_gets_its_own_login_and_nothing_else_does(site: Callable[..., Site]) -> None:
    web = site(HTTP_AUTH_USER="alice", HTTP_AUTH_PASSWORD="pw")
    own, user_login = web.origin(), basic("alice", "pw")
    stream = web.get("/websockify", Origin=own, Authorization=user_login, **WEBSOCKET, **WEBSOCKET_KEY)
    sent = login_seen(stream.body)
    kasmpasswd = web.root / "run/helios/kasmvnc/kasmpasswd"
    assert sent != user_login, "the web login never reaches KasmVNC"
    assert kasmvnc_checks(sent, kasmpasswd), f"KasmVNC would refuse {sent!r}"
    assert kasmpasswd.read_text().rstrip().endswith(":rw"), "read and write the desktop, no owner API"
    assert login_seen(web.get("/", Authorization=user_login).body) == "no", "kclient gets no login"
    assert not kasmvnc_checks(basic("helios-proxy", "guess"), kasmpasswd)


def test_kasmvnc_login_is_new_every_start_and_only_root_reads_it(site: Callable[..., Site]) -> None:
    first = site()
    conf = first.root / "run/helios/nginx/nginx.conf"
    header = login_seen(first.get("/websockify", Origin=first.origin(), **WEBSOCKET).body)
    assert header in conf.read_text()
    assert conf.stat().st_mode & 0o777 == 0o600
    second = site()
    assert login_seen(second.get("/websockify", Origin=second.origin(), **WEBSOCKET).body) != header


def test_nothing_but_kasmvnc_with_its_pair_gets_the_stream(site: Callable[..., Site], tmp_path: Path) -> None:
    """Whatever else listens on KasmVNC's port (a host's process with --network host, while
    KasmVNC restarts) has neither its certificate nor its key: nginx refuses to talk to it."""
    web = site()
    conf = web.root / "run/helios/nginx/nginx.conf"
    port = int(conf.read_text().split("server 127.0.0.1:", 1)[1].split(";", 1)[0])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    other_cert, other_key = kasmvnc_pair(tmp_path)  # same names, another key
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(other_cert, other_key)
    conf.write_text(conf.read_text().replace(f"127.0.0.1:{port};", f"127.0.0.1:{listener.getsockname()[1]};"))
    subprocess.run(
        [shutil.which("nginx") or "nginx", "-s", "reload", "-c", str(conf)], check=True, capture_output=True
    )
    time.sleep(1)
    listener.settimeout(5)
    heard: list[bytes] = []

    def squatter() -> None:
        connection, _ = listener.accept()
        try:
            with context.wrap_socket(connection, server_side=True) as tls:
                heard.append(tls.recv(4096))
        except (ssl.SSLError, OSError):
            heard.append(b"")

    thread = threading.Thread(target=squatter, daemon=True)
    thread.start()
    answer = web.get("/websockify", Origin=web.origin(), **WEBSOCKET, **WEBSOCKET_KEY)
    thread.join(10)
    listener.close()
    assert answer.status == 502
    assert heard == [b""], "the squatter got a request (and KasmVNC's login)"


# --- kclient's socket --------------------------------------------------------------------------------


@pytest.fixture
def kclient_socket() -> Iterator[Path]:
    """The real preload under node, as the desktop user (UID 1000), in svc-kclient's folder."""
    node = shutil.which("node")
    if node is None or shutil.which("setpriv") is None:
        pytest.skip("node or setpriv (util-linux) is not installed")
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        root.chmod(0o755)
        folder = root / "kclient"
        folder.mkdir()
        os.chown(folder, 1000, 33)  # the desktop user, nginx's workers' group (www-data)
        folder.chmod(0o2750)
        path = folder / "kclient.sock"
        server = root / "server.js"
        server.write_text(
            "require('http').createServer((q, a) => a.end('kclient')).listen(6900, '127.0.0.1', () => {\n"
            "  console.log('listening');\n});\n"
        )
        process = subprocess.Popen(
            ["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", node,
             "--require", str(OVERLAY / "opt/helios/lib/kclient-socket.js"), str(server)],
            env={"PATH": os.environ["PATH"], "HELIOS_KCLIENT_SOCKET": str(path)},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            assert process.stdout is not None and process.stdout.readline().strip() == b"listening"
            yield path
        finally:
            process.terminate()
            process.wait(timeout=10)


def connect_as(path: Path, uid: int, gid: int) -> str:
    """'ok' when the account uid:gid (no other group) can open the socket, else the error."""
    code = (
        "import socket, sys\ns = socket.socket(socket.AF_UNIX)\n"
        "try:\n    s.connect(sys.argv[1]); print('ok')\n"
        "except OSError as e:\n    print(e.strerror)\n"
    )
    done = subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "/usr/bin/python3", "-c", code, str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@needs_root
def test_kclient_listens_on_its_socket_for_nginx_and_the_user_only(kclient_socket: Path) -> None:
    assert kclient_socket.is_socket()
    assert kclient_socket.stat().st_mode & 0o777 == 0o660
    assert kclient_socket.stat().st_gid == 33, "the folder's group: nginx's workers"
    assert connect_as(kclient_socket, 33, 33) == "ok", "nginx's workers (www-data) connect"
    assert connect_as(kclient_socket, 1000, 1000) == "ok", "the desktop user connects"
    assert connect_as(kclient_socket, 65534, 65534) == "Permission denied"
    # No TCP port: nothing in the network namespace reaches kclient.
    ports = Path("/proc/net/tcp").read_text() + Path("/proc/net/tcp6").read_text()
    assert f":{6900:04X} " not in ports


def test_the_preload_refuses_to_start_without_its_socket(tmp_path: Path) -> None:
    node = shutil.which("node") or pytest.skip("node is not installed")
    server = tmp_path / "server.js"
    server.write_text("require('http').createServer().listen(6900);\n")
    done = subprocess.run(
        [str(node), "--require", str(OVERLAY / "opt/helios/lib/kclient-socket.js"), str(server)],
        env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "HELIOS_KCLIENT_SOCKET is not set" in done.stderr


def test_nginx_reaches_kclient_on_its_socket(site: Callable[..., Site]) -> None:
    web = site()
    conf = (web.root / "run/helios/nginx/nginx.conf").read_text()
    assert f"server unix:{web.root}/run/helios/kclient/kclient.sock;" in conf
    assert "6900" not in conf
    assert web.get("/").body == "kclient / login=no"


def test_a_rendered_config_names_every_backend_by_its_protected_address(tmp_path: Path) -> None:
    render(tmp_path, HTTP_PORT=str(free_port()))
    conf = (tmp_path / "run/helios/nginx/nginx.conf").read_text()
    assert "proxy_ssl_verify on;" in conf
    assert f"proxy_ssl_trusted_certificate {tmp_path}/run/helios/kasmvnc/cert.pem;" in conf
    assert "proxy_pass http://127.0.0.1" not in conf, "no backend in plain HTTP on a TCP port"
