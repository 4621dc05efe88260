"""nginx configuration: rendered from HTTP_PORT / PREFIX, checked by nginx itself, health endpoint served.

The rendering runs everywhere. `nginx -t` and the live health checks need the nginx binary
(Debian: apt-get install nginx-light); they skip with that reason when it is missing.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runtime_host import OVERLAY, free_port, get, kasmvnc_pair, nginx_binary, nginx_test, render


def config(tmp_path: Path) -> str:
    return (tmp_path / "run/helios/nginx/nginx.conf").read_text()


def test_defaults_listen_on_3000_at_the_root(tmp_path: Path) -> None:
    render(tmp_path)
    text = config(tmp_path)
    assert "listen 3000 default_server;" in text
    assert "location = /healthz {" in text
    assert "location = /websockify {" in text
    assert f"server unix:{tmp_path}/run/helios/kclient/kclient.sock;" in text
    assert "server 127.0.0.1:6901;" in text
    assert "proxy_pass https://helios_kasmvnc;" in text and "proxy_pass http://helios_kclient;" in text
    assert f"alias {tmp_path}/run/helios/health/ready;" in text
    assert "[::]" not in text, "no IPv6 listener without kernel IPv6"
    assert "Access-Control-Allow-Origin" not in text.replace(
        "proxy_hide_header Access-Control-Allow-Origin", ""
    )
    assert "@" not in text.replace("@not_ready", "")


def test_prefix_and_port_are_applied(tmp_path: Path) -> None:
    (tmp_path / "ipv6").write_text("")
    render(tmp_path, HTTP_PORT="8080", PREFIX="desk/", HELIOS_IPV6_PROBE=str(tmp_path / "ipv6"))
    text = config(tmp_path)
    assert "listen 8080 default_server;" in text
    assert "listen [::]:8080 default_server;" in text
    assert "location = /desk/healthz {" in text
    assert "location = /healthz {" in text, "probes without the prefix still work"
    assert "location = /desk/websockify {" in text
    assert "location /desk/ {" in text
    assert "return 301 /desk/;" in text


def test_ipv6_can_be_disabled(tmp_path: Path) -> None:
    (tmp_path / "ipv6").write_text("")
    render(tmp_path, DISABLE_IPV6="true", HELIOS_IPV6_PROBE=str(tmp_path / "ipv6"))
    assert "[::]" not in config(tmp_path)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HTTP_PORT": "70000"}, "HTTP_PORT='70000'"),
        ({"HTTP_PORT": "80; evil"}, "is not a TCP port"),
        ({"PREFIX": "/a b/"}, "PREFIX='/a b/'"),
        ({"PREFIX": "/x;return 200 x;/"}, "may only hold"),
    ],
)
def test_bad_values_are_refused(tmp_path: Path, env: dict[str, str], message: str) -> None:
    result = render(tmp_path, check=False, **env)
    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / "run/helios/nginx/nginx.conf").exists()


@pytest.mark.parametrize("prefix", ["/", "/desk/"])
def test_nginx_accepts_the_rendered_config(tmp_path: Path, prefix: str) -> None:
    nginx_binary()
    render(tmp_path, PREFIX=prefix)
    result = nginx_test(tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def running_nginx() -> Iterator[tuple[int, Path]]:
    """nginx serving the rendered config with PREFIX=/desk/ on a free port.

    The root is a world-traversable temporary directory: as root, nginx's workers run as an
    unprivileged account that must reach the health marker (pytest's tmp_path is private).
    """
    binary = nginx_binary()
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        root.chmod(0o755)
        yield from serve(binary, port, root)


def serve(binary: str, port: int, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Run nginx until the generator is closed."""
    render(tmp_path, HTTP_PORT=str(port), PREFIX="/desk/")
    kasmvnc_pair(tmp_path)
    process = subprocess.Popen(
        [binary, "-e", "stderr", "-c", str(tmp_path / "run/helios/nginx/nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(f"nginx exited: {process.stderr.read().decode() if process.stderr else ''}")
                time.sleep(0.1)
        yield port, tmp_path / "run/helios/health/ready"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_health_endpoint_answers_503_then_ready(running_nginx: tuple[int, Path]) -> None:
    port, marker = running_nginx
    assert get(f"http://127.0.0.1:{port}/desk/healthz") == (503, "starting")
    assert get(f"http://127.0.0.1:{port}/healthz") == (503, "starting")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("ready")
    assert get(f"http://127.0.0.1:{port}/desk/healthz") == (200, "ready")
    assert get(f"http://127.0.0.1:{port}/healthz") == (200, "ready")
    # Outside the prefix there is nothing; the backend is down here, so the proxy says 502.
    assert get(f"http://127.0.0.1:{port}/other")[0] == 404
    assert get(f"http://127.0.0.1:{port}/desk/")[0] == 502


# nginx -h of 1.18 (Ubuntu 22.04) and of a release with -e (1.19.5 and later).
NGINX_HELP = {
    "1.18": "Usage: nginx [-?hvVtTq] [-s signal] [-c filename] [-p prefix] [-g directives]\n",
    "1.22": "Usage: nginx [-?hvVtTq] [-s signal] [-p prefix]\n"
    "             [-e filename] [-c filename] [-g directives]\n"
    "  -e filename   : set error log file (default: stderr)\n",
}


@pytest.mark.parametrize(("version", "error_log_flag"), [("1.18", False), ("1.22", True)])
def test_nginx_service_passes_only_options_its_nginx_knows(
    tmp_path: Path, version: str, error_log_flag: bool
) -> None:
    """svc-nginx's run script, with nginx and s6-notifyoncheck faked: the command it execs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fakes = {
        "nginx": f"cat >&2 <<'HELP'\n{NGINX_HELP[version]}HELP\n",
        "s6-notifyoncheck": 'printf "%s\\n" "$@" >"$FAKE_ARGV"\n',
    }
    for name, body in fakes.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body)
        (bin_dir / name).chmod(0o755)
    run = (OVERLAY / "etc/s6-overlay/s6-rc.d/svc-nginx/run").read_text()
    script = tmp_path / "run"
    script.write_text(run.replace("/opt/helios/lib/helios.sh", str(OVERLAY / "opt/helios/lib/helios.sh")))
    argv = tmp_path / "argv"
    result = subprocess.run(
        ["bash", str(script)],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_ARGV": str(argv), "HELIOS_ROOT": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    args = argv.read_text().splitlines()
    command = args[args.index("nginx") :]
    assert ("-e" in command) is error_log_flag
    assert command[-4:] == ["-c", f"{tmp_path}/run/helios/nginx/nginx.conf", "-g", "daemon off;"]
