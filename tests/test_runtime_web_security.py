"""The public listener's defences, against a live nginx serving the rendered configuration.

nginx runs with the configuration nginx-config.sh renders; only its two upstream addresses are
pointed at stand-in backends on free ports, which answer every request with their name, the path
and whether a login reached them. So each test sees what nginx itself lets through: Host and
Origin checks (DNS rebinding, cross-site websockets), the optional login, HTTPS and the framing
policy. The scripts' refusals of bad values run without nginx. Needs the nginx binary (Debian:
apt-get install nginx-light) and openssl; the live tests skip with that reason without nginx.
"""

from __future__ import annotations

import http.client
import http.server
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.runtime_host import (
    LIBEXEC,
    OVERLAY,
    WEBSOCKET,
    WEBSOCKET_KEY,
    Site,
    basic,
    make_pair,
    needs_root,
    nginx_binary,
    nginx_test,
    render,
)

"""Set to let go of every websocket a stand-in backend holds open (a path ending in '?hold')."""


# --- cross-site control and DNS rebinding ---------------------------------------------------------


def test_the_default_page_and_its_websockets_work_from_their_own_origin(site: Callable[..., Site]) -> None:
    web = site()
    assert web.get("/").body == "kclient / login=no"
    own = web.origin()
    assert web.get("/websockify", Origin=own, **WEBSOCKET, **WEBSOCKET_KEY).body.startswith("kasmvnc ")
    audio = web.get("/audio/socket.io/?EIO=4&transport=websocket", Origin=own, **WEBSOCKET)
    assert audio.body.startswith("kclient /audio/socket.io/")
    # The host name in any case, and localhost, are the same page.
    assert web.get("/", host=f"LOCALHOST:{web.port}", Origin=f"http://localhost:{web.port}").status == 200


@pytest.mark.parametrize("path", ["/websockify", "/audio/socket.io/?EIO=4&transport=websocket", "/"])
@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1:1"])
def test_requests_from_another_origin_are_refused(site: Callable[..., Site], path: str, origin: str) -> None:
    web = site()
    answer = web.get(path, Origin=origin, **WEBSOCKET, **WEBSOCKET_KEY)
    assert answer.status == 403, answer.body
    assert "ALLOWED_ORIGINS" in answer.body
    assert answer.headers["Content-Type"].startswith("text/plain")


def test_dns_rebinding_is_refused_by_host_name(site: Callable[..., Site]) -> None:
    """A page of evil.example re-resolved to this container is 'same origin' with itself."""
    web = site()
    rebound = f"evil.example:{web.port}"
    answer = web.get("/websockify", host=rebound, Origin=f"http://{rebound}", **WEBSOCKET)
    assert answer.status == 403
    assert "'evil.example' is not allowed here: add it to ALLOWED_HOSTS" in answer.body
    assert web.get("/", host=rebound).status == 403
    # Probes name the container however they like.
    assert web.get("/healthz", host=rebound).status == 503


def test_extra_hosts_and_origins_come_from_the_settings(site: Callable[..., Site]) -> None:
    web = site(
        ALLOWED_HOSTS="desk.example.com, *.corp.example", ALLOWED_ORIGINS="https://portal.example.com:443"
    )
    assert web.get("/", host="desk.example.com").status == 200
    assert web.get("/", host=f"a.b.corp.example:{web.port}").status == 200
    assert web.get("/", host="corp.example").status == 403
    assert web.get("/", host="desk.example.com.evil.example").status == 403
    listed = web.get("/websockify", host="desk.example.com", Origin="https://portal.example.com", **WEBSOCKET)
    assert listed.status == 200
    assert web.get("/websockify", Origin="https://portal.example.com.evil", **WEBSOCKET).status == 403
    assert "frame-ancestors 'self' https://portal.example.com" in listed.headers["Content-Security-Policy"]


def test_the_checks_can_be_turned_off_explicitly(site: Callable[..., Site]) -> None:
    web = site(ALLOWED_HOSTS="*", ALLOWED_ORIGINS="*")
    assert (
        web.get("/websockify", host="any.example", Origin="https://other.example", **WEBSOCKET).status == 200
    )


def test_the_page_may_be_framed_only_by_itself(site: Callable[..., Site]) -> None:
    web = site()
    for answer in (web.get("/"), web.get("/", Origin="https://evil.example")):
        assert answer.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert answer.headers["Content-Security-Policy"] == "frame-ancestors 'self'"


def test_websockify_is_one_exact_path(site: Callable[..., Site]) -> None:
    web = site(PREFIX="/desk/")
    assert web.get("/desk/websockify").body.startswith("kasmvnc /desk/websockify")
    assert web.get("/desk/websockify?token=1").body.startswith("kasmvnc ")
    for path in ("/desk/websockify/api/x", "/desk/websockify-other"):
        assert web.get(path).body.startswith("kclient "), path


# --- the login ----------------------------------------------------------------------------------------


def test_a_password_protects_the_page_and_every_websocket(site: Callable[..., Site]) -> None:
    web = site(HTTP_AUTH_USER="alice", HTTP_AUTH_PASSWORD="s3cret pass")
    own = web.origin()
    for path in ("/", "/websockify", "/audio/socket.io/?EIO=4&transport=websocket", "/view-only/"):
        answer = web.get(path, Origin=own, **WEBSOCKET)
        assert answer.status == 401, path
        assert 'Basic realm="Helios"' in answer.headers["WWW-Authenticate"]
        assert web.get(path, Authorization=basic("alice", "wrong"), **WEBSOCKET).status == 401
    good = basic("alice", "s3cret pass")
    assert web.get("/", Authorization=good).body == "kclient / login=no", "the login never reaches a backend"
    assert web.get("/websockify", Origin=own, Authorization=good, **WEBSOCKET).body.startswith("kasmvnc ")
    assert web.get("/healthz").status == 503, "probes need no login"
    # Another site is refused before the login is even asked for.
    assert web.get("/", Origin="https://evil.example", Authorization=good).status == 403


def test_the_password_can_come_from_a_mounted_file(site: Callable[..., Site], tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    web = site(HTTP_AUTH_PASSWORD_FILE=str(secret), USER="bob")
    assert web.get("/").status == 401
    assert web.get("/", Authorization=basic("bob", "from-a-file")).status == 200
    assert "require the login of 'bob'" in web.stderr


def test_the_password_is_hashed_on_stdin_never_logged_and_hidden_from_later_services(tmp_path: Path) -> None:
    """openssl is wrapped to record its argv: the password reaches it on stdin only."""
    real = shutil.which("openssl")
    if real is None:
        pytest.skip("openssl is not installed")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "openssl"
    wrapper.write_text(f'#!/bin/bash\necho "$*" >> "{tmp_path}/argv"\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    contenv = tmp_path / "run/s6/container_environment"
    contenv.mkdir(parents=True)
    (contenv / "HTTP_AUTH_PASSWORD").write_text("hunter2-secret")
    result = render(
        tmp_path,
        check=False,
        PATH=f"{bin_dir}:/usr/bin:/bin:/usr/sbin:/sbin",
        HTTP_AUTH_PASSWORD="hunter2-secret",
    )
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert "passwd -6 -stdin" in (tmp_path / "argv").read_text()
    assert "hunter2" not in (tmp_path / "argv").read_text()
    htpasswd = tmp_path / "run/helios/nginx/htpasswd"
    user, digest = htpasswd.read_text().strip().split(":", 1)
    assert (user, digest[:3]) == ("helios", "$6$") and "hunter2" not in digest
    assert htpasswd.stat().st_mode & 0o777 == 0o640
    assert not (contenv / "HTTP_AUTH_PASSWORD").exists()
    assert "NO LOGIN" not in result.stderr


@pytest.mark.parametrize(
    ("env", "warned"),
    [({}, True), ({"HTTP_ADDRESS": "0.0.0.0"}, True), ({"HTTP_ADDRESS": "127.0.0.1"}, False)],
)
def test_an_open_page_is_announced_loudly(tmp_path: Path, env: dict[str, str], warned: bool) -> None:
    result = render(tmp_path, **env)
    assert ("WARNING: the desktop has NO LOGIN" in result.stderr) is warned, result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PREFIX": "/../"}, "PREFIX='/../' has a '..' segment"),
        ({"PREFIX": "/desk/./x"}, "has a '.' segment"),
        ({"ALLOWED_HOSTS": "evil;return 200"}, "ALLOWED_HOSTS: 'evil;return' is not a host name"),
        ({"ALLOWED_HOSTS": 'a"b'}, "is not a host name"),
        ({"ALLOWED_ORIGINS": "https://portal.example.com/"}, "with no path"),
        ({"ALLOWED_ORIGINS": "portal.example.com"}, "is not an origin"),
        ({"HTTP_ADDRESS": "localhost"}, "HTTP_ADDRESS='localhost' is not an IP address"),
        (
            {"HTTPS": "true", "HTTPS_CERT": "/nonexistent/cert.pem", "HTTPS_KEY": "/nonexistent/key.pem"},
            "is not a readable file",
        ),
        ({"HTTPS": "true", "HTTPS_CERT": "/etc/hostname"}, "HTTPS_CERT and HTTPS_KEY must both be set"),
        ({"HTTP_AUTH_PASSWORD": "a", "HTTP_AUTH_PASSWORD_FILE": "/etc/hostname"}, "not both"),
        ({"HTTP_AUTH_PASSWORD": "two\nlines"}, "line break or another control character"),
        ({"HTTP_AUTH_PASSWORD_FILE": "/nonexistent"}, "is not a readable file"),
        ({"HTTP_AUTH_PASSWORD": "x", "HTTP_AUTH_USER": "a:b"}, "HTTP_AUTH_USER='a:b'"),
    ],
)
def test_bad_security_settings_stop_the_boot_with_a_reason(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    result = render(tmp_path, check=False, **env)
    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / "run/helios/nginx/nginx.conf").exists()


def test_a_password_file_of_two_lines_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("first\nsecond\n")
    result = render(tmp_path, check=False, HTTP_AUTH_PASSWORD_FILE=str(secret))
    assert result.returncode != 0 and "line break" in result.stderr
    assert "first" not in result.stderr


@pytest.mark.parametrize(
    "env",
    [
        {
            "HTTP_AUTH_PASSWORD": "x",
            "ALLOWED_HOSTS": "a.example,*.b.example",
            "ALLOWED_ORIGINS": "https://c.example",
        },
        {"HTTP_ADDRESS": "127.0.0.1", "PREFIX": "/desk/", "ALLOWED_ORIGINS": "*", "ALLOWED_HOSTS": "*"},
        {"HTTP_ADDRESS": "[::1]"},
    ],
)
def test_nginx_accepts_every_rendered_variant(tmp_path: Path, env: dict[str, str]) -> None:
    nginx_binary()
    render(tmp_path, **env)
    result = nginx_test(tmp_path)
    assert result.returncode == 0, result.stderr


# --- HTTPS ------------------------------------------------------------------------------------------


def test_https_serves_the_per_container_certificate(site: Callable[..., Site]) -> None:
    def pair(root: Path) -> None:
        make_pair(root / "var/lib/helios/tls")

    web = site(pair, HTTPS="true")
    assert web.get("/").body == "kclient / login=no"
    assert web.get("/websockify", Origin=web.origin(), **WEBSOCKET).body.startswith("kasmvnc ")
    assert web.get("/websockify", Origin=f"http://127.0.0.1:{web.port}", **WEBSOCKET).body.startswith(
        "kasmvnc "
    ), "the same host and port is the same page whatever the scheme a proxy in front speaks"
    # Plain HTTP on the TLS port is sent to HTTPS.
    plain = http.client.HTTPConnection("127.0.0.1", web.port, timeout=5)
    plain.request("GET", "/desk?x=1", headers={"Host": f"127.0.0.1:{web.port}"})
    response = plain.getresponse()
    assert (response.status, response.headers["Location"]) == (301, f"https://127.0.0.1:{web.port}/desk?x=1")


def test_https_serves_a_mounted_certificate(site: Callable[..., Site], tmp_path: Path) -> None:
    cert, key = make_pair(tmp_path / "mounted")
    tmp_path.chmod(0o755)
    web = site(HTTPS="true", HTTPS_CERT=str(cert), HTTPS_KEY=str(key))
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    conn = http.client.HTTPSConnection("127.0.0.1", web.port, timeout=5, context=context)
    conn.request("GET", "/healthz")
    assert conn.getresponse().status == 503


def handshake(port: int, *, ciphers: str | None = None, tls12: bool = False) -> ssl.SSLSocket | None:
    """A TLS handshake with nginx on ``port`` as a client limited to ``ciphers``/TLS 1.2; None if refused."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    if ciphers:
        context.set_ciphers(ciphers)
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        return context.wrap_socket(raw)
    except ssl.SSLError:
        raw.close()
        return None


@pytest.mark.parametrize(
    "weak", ["AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA", "DHE-RSA-AES128-GCM-SHA256"]
)
def test_tls_12_takes_forward_secret_aead_ciphers_only(site: Callable[..., Site], weak: str) -> None:
    web = site(lambda root: make_pair(root / "var/lib/helios/tls"), HTTPS="true")
    try:
        offered = handshake(web.port, ciphers=f"{weak}:@SECLEVEL=0", tls12=True)
    except ssl.SSLError:
        pytest.skip(f"this OpenSSL cannot offer {weak} at all")
    assert offered is None, f"nginx accepted {weak}"
    strong = handshake(web.port, ciphers="ECDHE-RSA-AES128-GCM-SHA256", tls12=True)
    assert strong is not None and strong.version() == "TLSv1.2"
    modern = handshake(web.port)
    assert modern is not None and modern.version() == "TLSv1.3"


# --- the probes ---------------------------------------------------------------------------------------


def probe_url(tmp_path: Path, probe: str, **env: str) -> tuple[int, str]:
    """Run check.sh PROBE with a curl that records its URL and answers 200."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    curl = bin_dir / "curl"
    curl.write_text(f'#!/bin/bash\nfor a; do url="$a"; done\necho "$url" > "{tmp_path}/url"\nprintf 200\n')
    curl.chmod(0o755)
    result = subprocess.run(
        ["bash", str(LIBEXEC / "check.sh"), probe],
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "HELIOS_LIB": str(OVERLAY / "opt/helios/lib/helios.sh"),
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    url = (tmp_path / "url").read_text().strip() if (tmp_path / "url").exists() else ""
    return result.returncode, url


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({"PREFIX": "//desk//"}, "http://127.0.0.1:3000/desk/healthz"),
        ({"PREFIX": "a//b", "HTTP_PORT": "8080"}, "http://127.0.0.1:8080/a/b/healthz"),
        ({"HTTPS": "true"}, "https://127.0.0.1:3000/healthz"),
        ({"HTTP_ADDRESS": "[::1]"}, "http://[::1]:3000/healthz"),
        ({"HTTP_ADDRESS": "[::]"}, "http://[::1]:3000/healthz"),
    ],
)
def test_the_nginx_probe_asks_the_url_nginx_serves(tmp_path: Path, env: dict[str, str], url: str) -> None:
    assert probe_url(tmp_path, "nginx", **env) == (0, url)
    render(tmp_path, **env)
    served = (tmp_path / "run/helios/nginx/nginx.conf").read_text()
    assert f"location = {url.split(':3000', 1)[-1].split(':8080', 1)[-1]} {{" in served


def test_the_probe_refuses_a_prefix_nginx_refuses(tmp_path: Path) -> None:
    code, url = probe_url(tmp_path, "nginx", PREFIX="/../")
    assert code != 0 and url == ""


# --- the TLS folder -----------------------------------------------------------------------------------


# s6-setuidgid USER PROG...: exec PROG with USER's uid, gid and groups. The desktop user of these
# tests is UID 1000, group 1000 and no other, whatever this machine's passwd says.
FAKE_SETUIDGID = '#!/bin/bash\nshift\nexec setpriv --reuid=1000 --regid=1000 --clear-groups "$@"\n'


def run_tls(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("openssl") is None or shutil.which("setpriv") is None:
        pytest.skip("openssl or setpriv (util-linux) is not installed")
    tools = root / "tools"
    tools.mkdir(exist_ok=True)
    (tools / "s6-setuidgid").write_text(FAKE_SETUIDGID)
    (tools / "s6-setuidgid").chmod(0o755)
    return subprocess.run(
        ["bash", str(LIBEXEC / "tls.sh")],
        env={
            "PATH": f"{tools}:/usr/bin:/bin:/usr/sbin:/sbin",
            "HELIOS_ROOT": str(root),
            "HELIOS_LIB": str(OVERLAY / "opt/helios/lib/helios.sh"),
            "UID": "1000",
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )


def readable_by_the_desktop_user(path: Path) -> bool:
    """Whether UID 1000 (group 1000, no other) can open ``path`` for reading."""
    probe = subprocess.run(
        ["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", "cat", str(path)],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


@pytest.fixture
def open_root() -> Iterator[Path]:
    """A temporary root the desktop user (UID 1000) can traverse: pytest's tmp_path is root's."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        root.chmod(0o755)
        yield root


@needs_root
def test_nginx_key_is_roots_alone_and_kasmvnc_has_its_own(open_root: Path) -> None:
    tmp_path = open_root
    result = run_tls(tmp_path)
    assert result.returncode == 0, result.stderr
    nginx_key, kasmvnc_key = tmp_path / "var/lib/helios/tls/key.pem", tmp_path / "run/helios/kasmvnc/key.pem"
    assert (nginx_key.stat().st_uid, nginx_key.stat().st_gid, nginx_key.stat().st_mode & 0o777) == (
        0,
        0,
        0o600,
    )
    assert not readable_by_the_desktop_user(nginx_key), "the desktop user reads the key nginx serves"
    assert readable_by_the_desktop_user(kasmvnc_key), "KasmVNC runs as the desktop user"
    assert (kasmvnc_key.stat().st_uid, kasmvnc_key.stat().st_gid) == (0, 1000)
    assert nginx_key.read_text() != kasmvnc_key.read_text()
    names = subprocess.run(
        ["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", str(nginx_key.with_name("cert.pem"))],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "DNS:localhost" in names and "IP Address:127.0.0.1" in names


@needs_root
def test_kasmvnc_gets_a_new_pair_every_start_and_nginx_keeps_its_own(tmp_path: Path) -> None:
    run_tls(tmp_path)
    nginx_cert, kasmvnc_cert = (
        tmp_path / "var/lib/helios/tls/cert.pem",
        tmp_path / "run/helios/kasmvnc/cert.pem",
    )
    first = nginx_cert.read_text(), kasmvnc_cert.read_text()
    result = run_tls(tmp_path)
    assert "reusing" in result.stderr
    assert nginx_cert.read_text() == first[0] and kasmvnc_cert.read_text() != first[1]


@needs_root
@pytest.mark.parametrize(
    ("group", "mode", "san", "reason"),
    [
        (1000, 0o640, True, "its key was readable by more than root (mode 640, an earlier image)"),
        (0, 0o644, True, "its key was readable by more than root (mode 644"),
        (0, 0o600, False, "its certificate names no host (no subjectAltName)"),
    ],
)
def test_a_pair_of_an_earlier_image_is_replaced(
    tmp_path: Path, group: int, mode: int, san: bool, reason: str
) -> None:
    """Images before this one made the key readable by the desktop user's group, without a SAN:
    whatever ran as the user may have it, so it is not served again."""
    tls = tmp_path / "var/lib/helios/tls"
    key = tls / "key.pem"
    if san:
        run_tls(tmp_path)
    else:
        make_pair(tls)  # the earlier images' pair: openssl req with a common name only
    os.chown(key, 0, group)
    key.chmod(mode)
    before = key.read_text()
    result = run_tls(tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"replacing it: {reason}" in result.stderr
    assert key.read_text() != before
    assert (key.stat().st_gid, key.stat().st_mode & 0o777) == (0, 0o600)


@needs_root
def test_a_mounted_key_the_desktop_user_can_read_is_reported(open_root: Path) -> None:
    tmp_path = open_root
    cert, key = make_pair(tmp_path / "mounted")
    (tmp_path / "mounted").chmod(0o755)
    key.chmod(0o644)
    warned = run_tls(tmp_path, HTTPS="true", HTTPS_CERT=str(cert), HTTPS_KEY=str(key))
    assert f"WARNING: the desktop user helios can read HTTPS_KEY={key}" in warned.stderr
    key.chmod(0o600)
    quiet = run_tls(tmp_path, HTTPS="true", HTTPS_CERT=str(cert), HTTPS_KEY=str(key))
    assert quiet.returncode == 0 and "WARNING" not in quiet.stderr


@needs_root
@pytest.mark.parametrize("name", ["key.pem", "cert.pem"])
def test_tls_never_follows_a_link_the_user_planted(tmp_path: Path, name: str) -> None:
    """A desktop user who could write the (host) folder links key.pem to a secret of root's."""
    tls = tmp_path / "var/lib/helios/tls"
    make_pair(tls)
    os.chown(tls, 1000, 1000)
    tls.chmod(0o777)
    shadow = tmp_path / "shadow"
    shadow.write_text("root:secret-hash:\n")
    shadow.chmod(0o600)
    (tls / name).unlink()
    (tls / name).symlink_to(shadow)
    result = run_tls(tmp_path)
    assert result.returncode == 0, result.stderr
    assert (shadow.stat().st_mode & 0o777, shadow.stat().st_gid) == (0o600, 0), "the target was changed"
    assert not (tls / name).is_symlink() and (tls / "key.pem").stat().st_mode & 0o777 == 0o600
    assert "replacing it: not regular root-owned files" in result.stderr
    assert (tls.stat().st_uid, tls.stat().st_mode & 0o777) == (0, 0o755), "the folder is root's again"


@needs_root
def test_tls_replaces_a_hard_link_and_a_pair_not_owned_by_root(tmp_path: Path) -> None:
    tls = tmp_path / "var/lib/helios/tls"
    make_pair(tls)
    secret = tmp_path / "secret"
    secret.write_text("private\n")
    (tls / "key.pem").unlink()
    os.link(secret, tls / "key.pem")
    result = run_tls(tmp_path)
    assert result.returncode == 0, result.stderr
    assert secret.stat().st_mode & 0o777 != 0o600 and secret.stat().st_nlink == 1
    cert = tls / "cert.pem"
    os.chown(cert, 1000, 1000)
    run_tls(tmp_path)
    assert cert.stat().st_uid == 0


@needs_root
def test_tls_refuses_a_linked_folder(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "var/lib/helios").mkdir(parents=True)
    (tmp_path / "var/lib/helios/tls").symlink_to(elsewhere)
    result = run_tls(tmp_path)
    assert result.returncode != 0
    assert "is a symbolic link" in result.stderr
    assert list(elsewhere.iterdir()) == []


# --- the boot order -----------------------------------------------------------------------------------

S6RC = OVERLAY / "etc/s6-overlay/s6-rc.d"


def after(name: str) -> set[str]:
    """Every service NAME waits for, transitively."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        deps = S6RC / todo.pop() / "dependencies.d"
        for dep in (p.name for p in deps.iterdir()) if deps.is_dir() else ():
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_nginx_starts_after_its_certificate_and_services_after_the_login_is_hidden() -> None:
    assert "helios-tls" in after("svc-nginx"), "HTTPS=true serves the per-container pair"
    for service in sorted(S6RC.iterdir()):
        if service.name.startswith("svc-") and service.name != "svc-nginx":
            assert "helios-nginx-config" in after(service.name), (
                f"{service.name} could start before HTTP_AUTH_PASSWORD leaves the container environment"
            )
