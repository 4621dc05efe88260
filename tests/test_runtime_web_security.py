"""The public listener's defences, against a live nginx serving the rendered configuration.

nginx runs with the configuration nginx-config.sh renders; only its two upstream addresses are
pointed at stand-in backends on free ports, which answer every request with their name, the path
and whether a login reached them. So each test sees what nginx itself lets through: Host and
Origin checks (DNS rebinding, cross-site websockets), the optional login, HTTPS and the framing
policy. The scripts' refusals of bad values run without nginx. Needs the nginx binary (Debian:
apt-get install nginx-light) and openssl; the live tests skip with that reason without nginx.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import os
import shutil
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.runtime_host import (
    LIBEXEC,
    OVERLAY,
    Site,
    nginx_binary,
    render,
)

WEBSOCKET = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}
WEBSOCKET_KEY = {"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


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


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


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
    render(tmp_path, **env)
    result = subprocess.run(
        [nginx_binary(), "-t", "-e", "stderr", "-c", str(tmp_path / "run/helios/nginx/nginx.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --- HTTPS ------------------------------------------------------------------------------------------


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


def run_tls(root: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    return subprocess.run(
        ["bash", str(LIBEXEC / "tls.sh")],
        env={
            "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
            "HELIOS_ROOT": str(root),
            "HELIOS_LIB": str(OVERLAY / "opt/helios/lib/helios.sh"),
            "UID": "1000",
        },
        capture_output=True,
        text=True,
        check=False,
    )


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changes owners: run as root")


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
    assert not (tls / name).is_symlink() and (tls / "key.pem").stat().st_mode & 0o777 == 0o640
    assert "replacing" in result.stderr
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
    assert secret.stat().st_mode & 0o777 != 0o640 and secret.stat().st_nlink == 1
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
