"""nginx's bounds against bursts, slow clients and login guessing, on a live nginx.

The same setting as tests/test_runtime_web_security.py (`site`): the rendered configuration,
stand-in backends. Stand-in websockets to a path ending in '?hold' stay open, as a browser's do.
nginx counts a connection against `limit_conn` once its request header is read, keeps a
half-sent header `client_header_timeout` long, and lets a `limit_req` key that is empty pass
uncounted (ngx_http_limit_conn_module, ngx_http_limit_req_module, ngx_http_core_module docs).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.runtime_host import WEBSOCKET, WEBSOCKET_KEY, Site, basic, make_pair

STREAMS_PER_CLIENT = 16
HEADER_TIMEOUT = 10
LOGIN_BURST = 100  # nginx-config.sh's login_limit: a page load's worth of requests at once
LOGIN_RATE = 5  # and then so many a second


def open_stream(web: Site, path: str = "/websockify?hold", **headers: str) -> tuple[socket.socket, int]:
    """A websocket handshake through nginx left open: the socket and the status nginx answered."""
    conn = socket.create_connection(("127.0.0.1", web.port), timeout=10)
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{web.port}", f"Origin: {web.origin()}"]
    lines += [f"{name}: {value}" for name, value in {**WEBSOCKET, **WEBSOCKET_KEY, **headers}.items()]
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    status = int(conn.recv(64).split(b" ", 2)[1])
    return conn, status


def test_a_burst_of_desktop_streams_is_cut_at_the_limit(site: Callable[..., Site]) -> None:
    web = site()
    held = [open_stream(web) for _ in range(STREAMS_PER_CLIENT + 4)]
    try:
        statuses = [status for _, status in held]
        assert statuses[:STREAMS_PER_CLIENT] == [101] * STREAMS_PER_CLIENT
        assert statuses[STREAMS_PER_CLIENT:] == [429] * 4, "past the limit: refused at once, not queued"
        # The page and the probes still answer while the streams stay open.
        assert web.get("/").status == 200
        assert web.get("/healthz").status == 503
    finally:
        for conn, _ in held:
            conn.close()


@pytest.mark.slow
def test_a_half_sent_request_is_dropped_after_the_header_timeout(site: Callable[..., Site]) -> None:
    web = site()
    conn = socket.create_connection(("127.0.0.1", web.port), timeout=HEADER_TIMEOUT + 10)
    conn.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    started = time.monotonic()
    # reset_timedout_connection: a reset, rather than a plain close, is fine too.
    with contextlib.suppress(ConnectionResetError):
        assert conn.recv(1024) == b"", "nginx closes the connection without an answer"
    waited = time.monotonic() - started
    assert HEADER_TIMEOUT - 1 <= waited <= HEADER_TIMEOUT + 3, waited


def test_many_half_sent_requests_leave_the_page_and_the_probe_reachable(site: Callable[..., Site]) -> None:
    web = site()
    stalled = []
    try:
        for _ in range(600):
            conn = socket.create_connection(("127.0.0.1", web.port), timeout=5)
            conn.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            stalled.append(conn)
        started = time.monotonic()
        assert web.get("/healthz").status == 503
        assert web.get("/").status == 200
        assert time.monotonic() - started < 2
    finally:
        for conn in stalled:
            conn.close()


# --- guessing the login ----------------------------------------------------------------------------


def ask(web: Site, path: str = "/", **headers: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
    conn.request("GET", path, headers={"Host": f"127.0.0.1:{web.port}", **headers})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def asked_at_once(web: Site, passwords: list[str]) -> tuple[list[int], float]:
    """The statuses of one request per password, 10 at a time, and the seconds they took."""
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda word: ask(web, Authorization=basic("alice", word)).status, passwords))
    return statuses, time.monotonic() - started


def test_guesses_are_cut_at_the_limit_whatever_they_guess(site: Callable[..., Site]) -> None:
    """nginx's bucket: LOGIN_BURST guesses at once, then LOGIN_RATE a second, whoever is right.

    The refill while the requests run is measured, not assumed, so a slow machine passes as well."""
    web = site(HTTP_AUTH_USER="alice", HTTP_AUTH_PASSWORD="right")
    statuses, seconds = asked_at_once(web, [f"guess{n}" for n in range(LOGIN_BURST + 30)])
    assert set(statuses) == {401, 429}, statuses
    refilled = int(LOGIN_RATE * seconds) + 1
    assert LOGIN_BURST <= statuses.count(401) <= LOGIN_BURST + refilled, (statuses.count(401), seconds)
    # Past the limit even the right password gets 429: a guesser learns nothing from it. Ten at
    # once, so that at most a refill or two can let one through.
    right, seconds = asked_at_once(web, ["right"] * 10)
    assert set(right) <= {200, 429} and right.count(200) <= int(LOGIN_RATE * seconds) + 1, (right, seconds)
    assert ask(web, "/healthz").status == 503, "probes are never limited"


def test_a_browser_that_logged_in_is_never_slowed_down(site: Callable[..., Site]) -> None:
    web = site(HTTP_AUTH_USER="alice", HTTP_AUTH_PASSWORD="right")
    good = basic("alice", "right")
    first = ask(web, Authorization=good)
    cookie = first.headers["Set-Cookie"]
    assert first.status == 200 and cookie.startswith("helios_login=")
    assert "HttpOnly" in cookie and "Path=/" in cookie
    token = cookie.split(";", 1)[0]
    for n in range(130):  # someone at the same address guesses
        ask(web, Authorization=basic("alice", f"guess{n}"))
    assert ask(web, Authorization=good).status == 429
    assert ask(web, Authorization=good, Cookie=token).status == 200
    assert open_stream(web, Authorization=good, Cookie=token)[1] == 101
    # The cookie is no login: without the password it still gets 401.
    assert ask(web, Cookie=token).status == 401


def test_only_an_answer_past_the_login_carries_the_cookie(site: Callable[..., Site]) -> None:
    web = site(HTTP_AUTH_USER="alice", HTTP_AUTH_PASSWORD="right", PREFIX="/desk/")
    wrong = basic("alice", "wrong")
    for path, headers in [
        ("/desk/", {"Authorization": wrong}),
        ("/desk/", {}),
        ("/desk", {"Authorization": wrong}),  # the prefix's redirect comes before the login
        ("/healthz", {"Authorization": wrong}),
        ("/desk/healthz", {}),
        ("/desk/", {"Authorization": basic("alice", "right"), "Origin": "https://evil.example"}),
        ("/other", {"Authorization": basic("alice", "right")}),
    ]:
        answer = ask(web, path, **headers)
        assert "Set-Cookie" not in answer.headers, (path, headers, answer.status)
    assert "Set-Cookie" in ask(web, "/desk/", Authorization=basic("alice", "right")).headers


def test_without_a_login_there_is_no_cookie_and_no_login_limit(site: Callable[..., Site]) -> None:
    web = site()
    statuses = {ask(web).status for _ in range(150)}
    assert statuses == {200}
    assert "Set-Cookie" not in ask(web).headers


def test_the_cookie_is_secure_over_https(site: Callable[..., Site]) -> None:
    web = site(lambda root: make_pair(root / "var/lib/helios/tls"), HTTPS="true", HTTP_AUTH_PASSWORD="pw")
    answer = web.get("/", Authorization=basic("helios", "pw"))
    assert answer.status == 200
    assert answer.headers["Set-Cookie"].endswith("; Secure")


@pytest.mark.slow
def test_a_stalled_tls_handshake_is_dropped_after_the_header_timeout(site: Callable[..., Site]) -> None:
    """nginx's HTTP module times the TLS handshake with client_header_timeout (post_accept_timeout)."""
    web = site(lambda root: make_pair(root / "var/lib/helios/tls"), HTTPS="true")
    conn = socket.create_connection(("127.0.0.1", web.port), timeout=HEADER_TIMEOUT + 10)
    conn.sendall(b"\x16\x03\x01")  # the start of a TLS record, and no more
    started = time.monotonic()
    with contextlib.suppress(ConnectionResetError):
        assert conn.recv(1024) == b""
    waited = time.monotonic() - started
    assert HEADER_TIMEOUT - 1 <= waited <= HEADER_TIMEOUT + 3, waited
