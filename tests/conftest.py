"""Shared fixtures: small Helios trees written into tmp_path, and the repository's own tree."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HOOK = "#!/bin/sh\necho fixture hook\n"

BASE_DISTRO = """\
description = "A fixture distro"
base = "debian:13.2"
family = "debian"
xorg_version = "1.20.14"
webrtc = true
aliases = ["fixture"]
"""
CHILD_DISTRO = """\
description = "A child of the fixture distro"
extends = "base"
base = "debian:12"
webrtc = false
"""

FIXTURE_FILES: dict[str, str] = {
    **{f"common/build/{name}": HOOK for name in ("novnc.sh", "turbo.sh", "kasm.sh", "kclient.sh",
                                                  "package.sh", "system.sh")},
    "common/build/novnc-10-ui.patch": "--- a\n+++ b\n",
    "common/build/splash.jpg": "not really a jpeg",
    "common/build/kclient-10-audio.patch": "--- a\n+++ b\n",
    "common/root/etc/helios/common.conf": "from common\n",
    "common/root/etc/helios/shared.conf": "common wins nothing\n",
    "common/packages.toml": 'lists = ["debian", "ubuntu", "rhel", "alpine"]\n[base]\nbash = "bash"\n',
    "common/image.toml": '[env]\nHTTP_PORT = "3000"\nDISPLAY = ":1"\n',
    "distros/base/distro.toml": BASE_DISTRO,
    **{f"distros/base/build/{name}": HOOK for name in ("kasm.sh", "xorg.sh", "kclient.sh", "system.sh")},
    "distros/base/root/etc/helios/shared.conf": "from base\n",
    "distros/child/distro.toml": CHILD_DISTRO,
    "distros/child/build/system.sh": "#!/bin/sh\necho child system\n",
    "distros/child/root/etc/helios/shared.conf": "from child\n",
}  # fmt: skip

TreeFactory = Callable[..., Path]


def write_files(root: Path, files: Mapping[str, str | None]) -> Path:
    """Write ``files`` under ``root``; a value of None deletes that path."""
    for rel, text in files.items():
        path = root / rel
        if text is None:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if rel.endswith(".sh"):
            path.chmod(0o755)
    return root


@pytest.fixture
def make_tree(tmp_path: Path) -> TreeFactory:
    """Write the fixture tree, with ``changes`` applied (path -> text, or None to delete)."""

    def make(changes: Mapping[str, str | None] | None = None, *, name: str = "tree") -> Path:
        return write_files(tmp_path / name, {**FIXTURE_FILES, **(changes or {})})

    return make


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A throw-away copy of the repository's hook tree (common/ and distros/)."""
    target = tmp_path / "repo"
    for folder in ("common", "distros"):
        shutil.copytree(REPO / folder, target / folder)
    return target


FIXTURE_VERSIONS = """\
[images]
node = "node:22-bookworm@sha256:1111111111111111111111111111111111111111111111111111111111111111"
[kasmweb]
commit = "bed156c565f7646434563d2deddd3a6c945b7727"
url = "https://git.example.org/kasmtech/noVNC.git"
[libjpeg_turbo]
version = "3.1.3"
sha256 = "3a13a5ba767dc8264bc40b185e41368a80d5d5f945944d1dbaa4b2fb0099f4e5"
url = "https://files.example.org/libjpeg-turbo-3.1.3.tar.gz"
[kasmvnc]
version = "1.3.4"
commit = "e647af5e281735d1c7fc676ca089201aeae7130a"
url = "https://git.example.org/kasmtech/KasmVNC.git"
[xorg]
url = "https://files.example.org/xorg-server-{version}.tar.gz"
[xorg.sha256]
"1.20.14" = "54b199c9280ff8bf0f73a54a759645bd0eeeda7255d1c99310d5b7595f3ac066"
[nodejs]
version = "22.22.2"
url = { amd64 = "https://files.example.org/node-x64.tar.xz", arm64 = "https://files.example.org/node-arm64.tar.xz" }
sha256 = { amd64 = "88fd1ce767091fd8d4a99fdb2356e98c819f93f3b1f8663853a2dee9b438068a", arm64 = "e9e1930fd321a470e29bb68f30318bf58e3ecb4acb4f1533fb19c58328a091fe" }
[kclient]
commit = "0000000000000000000000000000000000000001"
url = "https://git.example.org/linuxserver/kclient.git"
[orchis_theme]
commit = "0000000000000000000000000000000000000002"
url = "https://git.example.org/vinceliuice/Orchis-theme.git"
[cmake]
version = "3.31.6"
url = { amd64 = "https://files.example.org/cmake-x86_64.tar.gz", arm64 = "https://files.example.org/cmake-aarch64.tar.gz" }
sha256 = { amd64 = "5656565656565656565656565656565656565656565656565656565656565656", arm64 = "7878787878787878787878787878787878787878787878787878787878787878" }
[libcpuid]
version = "0.8.1"
url = "https://files.example.org/libcpuid-0.8.1.tar.gz"
sha256 = "9191919191919191919191919191919191919191919191919191919191919191"
[libwebp]
version = "1.5.0"
url = "https://files.example.org/libwebp-1.5.0.tar.gz"
sha256 = "9292929292929292929292929292929292929292929292929292929292929292"
[cascadia_code]
version = "2407.24"
sha256 = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
url = "https://files.example.org/CascadiaCode.zip"
[s6_overlay]
version = "3.2.1.0"
url = "https://files.example.org/s6-overlay/v3.2.1.0"
arch = { amd64 = "x86_64", arm64 = "aarch64" }
sha256_noarch = "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
sha256_symlinks_noarch = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
sha256_symlinks_arch = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
sha256 = { amd64 = "1212121212121212121212121212121212121212121212121212121212121212", arm64 = "3434343434343434343434343434343434343434343434343434343434343434" }
"""


@pytest.fixture
def no_engine(monkeypatch):
    """Fails the test if a command reaches for a Dagger engine: what it refuses, it refuses before."""
    import contextlib

    from pipeline.cli import run

    @contextlib.asynccontextmanager
    async def connection(config=None):
        raise AssertionError("the engine was reached")
        yield

    monkeypatch.setattr(run.dagger, "connection", connection)


@pytest.fixture(autouse=True)
def fixture_versions(request, tmp_path_factory, monkeypatch):
    """Fixture trees plan against fixed versions, so their tests do not follow the real pins.

    Tests about the repository's own tree opt out with the ``real_versions`` marker.
    """
    if request.node.get_closest_marker("real_versions"):
        return
    path = tmp_path_factory.mktemp("versions") / "versions.toml"
    path.write_text(FIXTURE_VERSIONS)
    monkeypatch.setattr("pipeline.versions.VERSIONS_FILE", path)


def pytest_configure(config):
    config.addinivalue_line("markers", "real_versions: plan against pipeline/versions.toml itself")
