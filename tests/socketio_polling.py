"""A small socket.io client over HTTP long-polling, for talking to kclient's sockets in tests.

It speaks the wire protocol kclient's socket.io 4 server does (Engine.IO protocol 4 and socket.io
protocol 5): an Engine.IO handshake, the CONNECT of the main namespace, EVENT and BINARY_EVENT
packets, binary attachments as base64 "b" packets, packets of one request separated by the record
separator \\x1e, and a pong for every ping. Enough for emitting kclient's events and reading its
answers, nothing more (no reconnection, no acknowledgements, no websocket upgrade).
"""

from __future__ import annotations

import base64
import http.client
import json
from typing import Any

SEPARATOR = "\x1e"


def _deconstruct(value: Any, attachments: list[bytes]) -> Any:
    """``value`` with every bytes object replaced by a placeholder, as socket.io's encoder does."""
    if isinstance(value, bytes):
        attachments.append(value)
        return {"_placeholder": True, "num": len(attachments) - 1}
    if isinstance(value, list | tuple):
        return [_deconstruct(item, attachments) for item in value]
    if isinstance(value, dict):
        return {key: _deconstruct(item, attachments) for key, item in value.items()}
    return value


def _reconstruct(value: Any, attachments: list[bytes]) -> Any:
    if isinstance(value, dict) and value.get("_placeholder") is True:
        return attachments[value["num"]]
    if isinstance(value, list):
        return [_reconstruct(item, attachments) for item in value]
    if isinstance(value, dict):
        return {key: _reconstruct(item, attachments) for key, item in value.items()}
    return value


class SocketIO:
    """One socket.io client connection to ``path`` (e.g. "/audio/socket.io/") on 127.0.0.1:``port``.

    ``headers`` go with every request (a login, an Origin), as a browser sends them.
    """

    def __init__(
        self, port: int, path: str, timeout: float = 10, headers: dict[str, str] | None = None
    ) -> None:
        self.port, self.timeout, self.headers = port, timeout, headers or {}
        status, body = self._request("GET", f"{path}?EIO=4&transport=polling")
        if status != 200 or not body.startswith("0"):
            raise ConnectionError(f"GET {path}: no Engine.IO handshake ({status} {body[:200]!r})")
        self.url = f"{path}?EIO=4&transport=polling&sid={json.loads(body[1:])['sid']}"
        self._send(["40"])
        self.backlog: list[tuple[str, list[Any]]] = []
        self._binary: tuple[str, int, list[bytes]] | None = None
        """A BINARY_EVENT still waiting for attachments, which may come in a later poll."""
        if not any(kind == "connect" for kind, _ in self._poll()):
            raise ConnectionError(f"{path}: the server did not accept the namespace")

    def _request(self, method: str, url: str, body: str | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "text/plain;charset=UTF-8"
        conn.request(method, url, body=body.encode() if body is not None else None, headers=headers)
        response = conn.getresponse()
        answer = response.status, response.read().decode()
        conn.close()
        return answer

    def _send(self, packets: list[str]) -> None:
        status, body = self._request("POST", self.url, SEPARATOR.join(packets))
        if status != 200 or body != "ok":
            raise ConnectionError(f"POST {self.url}: {status} {body[:200]!r}")

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` with ``args``; bytes anywhere in them travel as binary attachments."""
        attachments: list[bytes] = []
        data = json.dumps([event, *_deconstruct(list(args), attachments)], separators=(",", ":"))
        if not attachments:
            self._send([f"42{data}"])
            return
        encoded = [f"b{base64.b64encode(blob).decode()}" for blob in attachments]
        self._send([f"45{len(attachments)}-{data}", *encoded])

    def _poll(self) -> list[tuple[str, list[Any]]]:
        """One long-polling GET: the socket.io packets it carried, as ("connect"|event, args)."""
        status, body = self._request("GET", self.url)
        if status != 200:
            raise ConnectionError(f"GET {self.url}: {status} {body[:200]!r}")
        out: list[tuple[str, list[Any]]] = []
        for packet in body.split(SEPARATOR):
            if self._binary is not None and packet.startswith("b"):
                data, count, blobs = self._binary
                blobs.append(base64.b64decode(packet[1:]))
                if len(blobs) == count:
                    self._binary = None
                    name, *args = _reconstruct(json.loads(data), blobs)
                    out.append((name, args))
            elif packet == "2":  # Engine.IO ping
                self._send(["3"])
            elif packet.startswith("40"):
                out.append(("connect", [json.loads(packet[2:] or "{}")]))
            elif packet.startswith("42"):
                name, *args = json.loads(packet[2:])
                out.append((name, args))
            elif packet.startswith("45"):
                count, data = packet[2:].split("-", 1)
                self._binary = (data, int(count), [])
        return out

    def wait_for(self, event: str, polls: int = 3) -> list[Any]:
        """The arguments of the next ``event`` (other events are kept in ``backlog``)."""
        for attempt in range(polls + 1):
            for index, (name, args) in enumerate(self.backlog):
                if name == event:
                    del self.backlog[index]
                    return args
            if attempt < polls:
                self.backlog += self._poll()
        raise TimeoutError(f"no {event!r} event in {polls} polls; got {[n for n, _ in self.backlog]}")
