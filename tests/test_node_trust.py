"""`node_trusts_system_cas` (common/build/lib/node.sh) with a real Node.js against a real TLS server.

A Dagger engine puts its custom certificate authorities into the system's store of every exec; Node
reads only its compiled-in list unless NODE_EXTRA_CA_CERTS names a file. Here the "system store" is
a file holding a test authority that signed the certificate of an HTTPS server on 127.0.0.1: Node
fails to fetch from it before the call and succeeds after, as npm does behind a proxy that inspects
TLS (found building on an engine with such an authority).
"""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_hook_scripts import LIB

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("openssl") is None, reason="needs node and openssl"
)
FETCH = "fetch(process.argv[1]).then(r => console.log('status', r.status)).catch(e => {console.log(String(e.cause && e.cause.code || e)); process.exit(3)})"


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1 whose certificate a test authority signed; its URL and that CA."""
    work = tmp_path_factory.mktemp("tls")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=Helios test authority", cwd=work)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1", cwd=work)  # fmt: skip
    (work / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "san.cnf", cwd=work)  # fmt: skip
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(work / "server.pem", work / "server.key")
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}/", work / "ca.pem"
    httpd.shutdown()


def fetch(url: str, call: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Source the library, run ``call``, then fetch ``url`` with Node; the output says what happened."""
    script = f'set -euo pipefail; source "{LIB}"; {call}; node -e "$1" "$2"'
    environment = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HELIOS_STEP": "7", **(env or {})}
    return subprocess.run(["bash", "-c", script, "fetch", FETCH, url], capture_output=True, text=True,
                          env=environment, timeout=60, check=False)  # fmt: skip


def test_node_fails_without_the_system_store_and_fetches_with_it(server, tmp_path: Path) -> None:
    url, authority = server
    missing = tmp_path / "no-such-store.crt"
    without = fetch(url, f"node_trusts_system_cas {missing}")
    assert without.returncode == 3, without.stdout + without.stderr
    assert any(code in without.stdout for code in ("UNABLE_TO_VERIFY", "SELF_SIGNED", "CERT_")), (
        without.stdout
    )
    trusted = fetch(url, f"node_trusts_system_cas {missing} {authority}")
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert "status 200" in trusted.stdout
    assert (
        f"[helios step 7] Node.js trusts the system's certificate authorities too ({authority})"
        in trusted.stdout
    )


def test_a_value_already_set_is_kept(server, tmp_path: Path) -> None:
    url, authority = server
    other = tmp_path / "other.pem"
    other.write_text("")
    kept = fetch(url, f"node_trusts_system_cas {authority}", env={"NODE_EXTRA_CA_CERTS": str(other)})
    assert kept.returncode == 3, "the user's own NODE_EXTRA_CA_CERTS is not replaced"
    assert "trusts the system" not in kept.stdout


def test_the_hooks_that_run_npm_call_it_before_npm() -> None:
    from tests.conftest import REPO

    for hook in ("common/build/novnc.sh", "common/build/kclient.sh"):
        text = (REPO / hook).read_text()
        call, npm = text.index("\n  node_trusts_system_cas\n"), text.index("&& npm ci")
        assert call < npm, f"{hook} runs npm before Node trusts the system's store"
