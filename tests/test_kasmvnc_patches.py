"""KasmVNC as step 4 patches it, on the real KasmVNC tree of the pinned commit.

The patches apply in name order, as common/build/kasm.sh applies them; the WebRTC UDP socket's
own code (common/network/webudp/WuNetwork.cpp, which needs nothing but the C library) is compiled
and run to show where it listens. The relay socket's filter needs the whole server: the rehearsal
shows it on the booted image (tests/rehearsal/test_security.py). The tree comes from the input
mirror's bundle (see tests/test_web_client.py); the tests skip without it, saying so.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import COMMON_BUILD, VERSIONS, git_apply, mirrored_tree

KASMVNC = VERSIONS["kasmvnc"]


def kasmvnc_patches() -> list[str]:
    """The patches step 4 applies, in name order (common/build/kasm.sh)."""
    return [str(path) for path in sorted(COMMON_BUILD.glob("kasmvnc-*.patch"))]


@pytest.fixture(scope="module")
def patched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = mirrored_tree(tmp_path_factory.mktemp("kasmvnc"), "kasmtech/KasmVNC", KASMVNC["commit"])
    git_apply(tree, kasmvnc_patches())
    return tree


def test_the_patches_are_the_ones_step_4_applies() -> None:
    names = [Path(patch).name for patch in kasmvnc_patches()]
    assert names == ["kasmvnc-10-internal-socket.patch", "kasmvnc-20-udp-address.patch"]


def test_the_relay_socket_accepts_this_process_only(patched: Path) -> None:
    source = (patched / "common/network/TcpSocket.cxx").read_text()
    constructor = source.split("WebsocketListener::WebsocketListener(", 1)[1].split("\n}\n", 1)[0]
    relay = constructor.split("internalSocket = socket(AF_UNIX", 1)[1]
    assert "listen(internalSocket);\n  setFilter(&sameProcessFilter);" in relay
    assert "SO_PEERCRED" in source and "peer.pid == getpid()" in source
    # The X server's listener handler must survive a connection its filter refused.
    desktop = (patched / "unix/xserver/hw/vnc/XserverDesktop.cc").read_text()
    assert "Socket* sock = (*i)->accept();\n  if (!sock)" in desktop


HARNESS = r"""
#include "WuNetwork.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
  int fd = CreateSocket(inet_addr(argv[1]), 0);
  struct sockaddr_in where;
  socklen_t len = sizeof(where);
  if (fd < 0 || getsockname(fd, (struct sockaddr *) &where, &len) != 0) return 1;
  printf("%s %d\n", inet_ntoa(where.sin_addr), ntohs(where.sin_port));
  return 0;
}
"""


@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0"])
def test_the_udp_socket_listens_on_the_address_it_is_given(
    patched: Path, tmp_path: Path, address: str
) -> None:
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("g++ is not installed")
    webudp = patched / "common/network/webudp"
    (tmp_path / "harness.cpp").write_text(HARNESS)
    binary = tmp_path / "harness"
    subprocess.run(
        [compiler, "-I", str(webudp), str(tmp_path / "harness.cpp"), str(webudp / "WuNetwork.cpp"), "-o", str(binary)],
        check=True, capture_output=True,
    )  # fmt: skip
    bound, port = subprocess.run(
        [str(binary), address], capture_output=True, text=True, check=True
    ).stdout.split()
    assert bound == address and int(port) > 0


def test_the_udp_server_is_given_the_websocket_address(patched: Path) -> None:
    source = (patched / "common/network/TcpSocket.cxx").read_text()
    assert "udp->addr = sa.u.sin.sin_addr.s_addr;" in source
    assert "pthread_create(&tid, NULL, udpserver, udp);" in source
    udp = (patched / "common/network/Udp.cxx").read_text()
    assert "WuHostCreate(rfb::Server::publicIP, where.addr, where.port, 16, &myhost)" in udp
    host = (patched / "common/network/webudp/WuHostEpoll.cpp").read_text()
    assert "ctx->udpfd = CreateSocket(bindAddr, port);" in host
    network = (patched / "common/network/webudp/WuNetwork.cpp").read_text()
    assert "addr.sin_addr.s_addr = INADDR_ANY;" not in network
