"""File transfer, opt-in: `file_transfer = true` in distro.toml brings kclient's file manager back.

- The switch: a distro.toml key, given to step 7 only as HELIOS_FILE_TRANSFER.
- The hook: common/build/kclient.sh run for real on the pinned kclient from the input mirror, with
  a stand-in npm (it only puts the pulseaudio2 module the hook checks in place): without the switch
  nothing of the file server ships, with it the file-transfer patch is applied.
- The server: the file-transfer build run under node (tests/runtime_host.py), asked through
  its socket.io as its page does: it serves the desktop user's home and nothing else.
- The proxy: a live nginx with the runtime's rendered configuration in front of that same kclient:
  the file manager and its socket are behind the login and the origin checks like the desktop.
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.catalogue import Catalogue
from pipeline.errors import HeliosError
from pipeline.plan import Planner
from pipeline.tree import LocalTree
from tests.conftest import BASE_DISTRO, TreeFactory
from tests.helpers import COMMON_BUILD, FILE_TRANSFER_SUFFIX, LIB, SHARED_INPUTS, VERSIONS, patched_kclient
from tests.runtime_host import Kclient, basic, free_port, kasmvnc_pair, render, running_kclient, start_nginx
from tests.socketio_polling import SocketIO

pytestmark = pytest.mark.slow

KCLIENT = VERSIONS["kclient"]
FILE_SERVER = ("public/filebrowser.html", "public/js/filebrowser.js", "public/css/filebrowser.css")
CHILD_ON = 'extends = "base"\ndescription = "with file transfer"\nfile_transfer = true\n'

# --- the switch -----------------------------------------------------------------------------------


def test_the_switch_reaches_step_7_only_and_is_off_by_default(make_tree: TreeFactory) -> None:
    off = Planner(LocalTree(make_tree())).plan("base", "linux/amd64")
    switched = {"distros/base/distro.toml": BASE_DISTRO + "file_transfer = true\n"}
    on = Planner(LocalTree(make_tree(switched, name="on"))).plan("base", "linux/amd64")
    assert [p.step.number for p in off.steps if "HELIOS_FILE_TRANSFER" in p.env] == [7]
    assert off.step(7).env["HELIOS_FILE_TRANSFER"] == "false"
    assert on.step(7).env["HELIOS_FILE_TRANSFER"] == "true"
    # Turning it on builds kclient again, and nothing before it nor in the other stages.
    for number in (1, 2, 6, 9, 10):
        assert off.step(number).digest == on.step(number).digest, number
    assert off.step(7).digest != on.step(7).digest


def test_a_child_inherits_the_switch_and_a_bad_value_is_named(make_tree: TreeFactory) -> None:
    catalogue = Catalogue(LocalTree(make_tree({"distros/child/distro.toml": CHILD_ON})))
    assert catalogue.get("child").file_transfer is True
    assert catalogue.get("base").file_transfer is False
    bad = make_tree({"distros/child/distro.toml": 'extends = "base"\nfile_transfer = "yes"\n'}, name="bad")
    with pytest.raises(HeliosError) as caught:
        Catalogue(LocalTree(bad))
    assert "distros/child/distro.toml" in str(caught.value)
    assert "'file_transfer' must be true or false" in str(caught.value)


# --- the hook -------------------------------------------------------------------------------------

STAND_IN_NPM = """#!/bin/sh
# npm ci stand-in: installs only the module the hook loads afterwards.
echo "npm $*" >>"$NPM_LOG"
case $1 in
  --version) echo 10.9.0 ;;
  ci | install) mkdir -p node_modules/pulseaudio2 && echo 'module.exports = {};' >node_modules/pulseaudio2/index.js ;;
esac
"""


def run_hook(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Step 7's hook, executed, on the mirrored kclient; returns its result and where kclient went."""
    bundle = SHARED_INPUTS / "git/linuxserver/kclient" / f"{KCLIENT['commit']}.bundle"
    if not bundle.is_file():
        pytest.skip(f"no input mirror entry {bundle} (set HELIOS_TEST_INPUTS to a mirror that has it)")
    node = shutil.which("node")
    if node is None or not (Path(node).resolve().parents[1] / "include/node/node.h").is_file():
        pytest.skip("node with its headers (<prefix>/include/node) is not installed")
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "npm").write_text(STAND_IN_NPM)
    (tools / "npm").chmod(0o755)
    dest = tmp_path / "opt/helios/kclient"
    result = subprocess.run(
        ["bash", str(COMMON_BUILD / "kclient.sh")],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": f"{tools}:{os.environ['PATH']}",
            "HOME": str(tmp_path),
            "HELIOS_STEP": "7",
            "HELIOS_LIB": str(LIB),
            "HELIOS_HOOKS": str(COMMON_BUILD),
            "HELIOS_INPUTS": str(SHARED_INPUTS),
            "NPM_LOG": str(tmp_path / "npm.log"),
            "DEST": str(dest),
            **{f"KCLIENT_{key.upper()}": str(value) for key, value in KCLIENT.items()},
            **env,
        },
    )
    return result, dest


@pytest.mark.parametrize("setting", [None, "false"])
def test_without_the_switch_no_file_server_ships(tmp_path: Path, setting: str | None) -> None:
    result, dest = run_hook(tmp_path, **({"HELIOS_FILE_TRANSFER": setting} if setting else {}))
    assert result.returncode == 0, result.stderr + result.stdout
    assert (dest / "index.js").is_file() and (dest / "public/index.html").is_file()
    for name in (*FILE_SERVER, "public/css/files.svg"):
        assert not (dest / name).exists(), name
    assert "files/socket.io" not in (dest / "index.js").read_text()
    assert "fileButton" not in (dest / "public/index.html").read_text()
    assert f"not applying kclient-30{FILE_TRANSFER_SUFFIX}" in result.stdout + result.stderr
    assert "npm ci" in (tmp_path / "npm.log").read_text(), "the lockfile patch was applied too"


def test_with_the_switch_the_file_server_ships(tmp_path: Path) -> None:
    result, dest = run_hook(tmp_path, HELIOS_FILE_TRANSFER="true")
    assert result.returncode == 0, result.stderr + result.stdout
    for name in (*FILE_SERVER, "public/css/files.svg"):
        assert (dest / name).is_file(), name
    assert "SUBFOLDER + 'files/socket.io'" in (dest / "index.js").read_text()
    assert f"applying kclient-30{FILE_TRANSFER_SUFFIX}" in result.stdout


def test_a_bad_switch_value_stops_the_hook_before_any_work(tmp_path: Path) -> None:
    result, dest = run_hook(tmp_path, HELIOS_FILE_TRANSFER="yes")
    assert result.returncode != 0
    assert "HELIOS_FILE_TRANSFER is 'yes', not true or false" in result.stderr
    assert not dest.exists()


# --- the server -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def file_transfer_tree(kclient_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file-transfer build, sharing the default build's installed (identical) dependencies."""
    tree = patched_kclient(tmp_path_factory.mktemp("kclient-files"), file_transfer=True)
    (tree / "node_modules").symlink_to(kclient_tree / "node_modules")
    return tree


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The desktop user's home, a folder beside it, and a link from the home out to that folder."""
    home = tmp_path / "home/alice"
    (home / "Documents").mkdir(parents=True)
    (home / "Documents/notes.txt").write_text("mine\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not yours\n")
    (home / "escape").symlink_to(outside)
    return home


@pytest.fixture
def files_server(file_transfer_tree: Path, tmp_path: Path, home: Path) -> Iterator[Kclient]:
    with running_kclient(file_transfer_tree, tmp_path, tmp_path / "mic.sock", HOME=str(home)) as server:
        yield server


def listing(socket: SocketIO, event: str, *args: object) -> list[object]:
    socket.emit(event, *args)
    return socket.wait_for("renderfiles")[0]


def test_the_file_manager_opens_the_users_home(files_server: Kclient, home: Path) -> None:
    assert files_server.get("/files")[0] == 200
    interactive = files_server.get("/")[1]
    assert 'id="fileButton"' in interactive and 'src="files"' in interactive
    assert "fileButton" not in files_server.get("/view-only/")[1]
    socket = files_server.socket("/files/socket.io/")
    dirs, files, where = listing(socket, "open", "")
    # A link is listed as a file, as kclient does (lstat); opening it is refused below.
    assert where == str(home) and dirs == ["Documents"] and files == ["escape"]
    assert listing(socket, "getfiles", f"{home}/Documents") == [[], ["notes.txt"], f"{home}/Documents"]


@pytest.mark.parametrize("path", ["/", "/etc", "{home}/..", "{home}/escape", "{home}/../alice2", ""])
def test_no_listing_leaves_the_home(files_server: Kclient, home: Path, path: str) -> None:
    socket = files_server.socket("/files/socket.io/")
    assert listing(socket, "getfiles", path.format(home=home))[2] == str(home)


def test_downloads_come_from_the_home_only(files_server: Kclient, home: Path, tmp_path: Path) -> None:
    socket = files_server.socket("/files/socket.io/")
    for refused in (f"{home}/escape/secret.txt", str(tmp_path / "outside/secret.txt"), "/etc/hostname"):
        socket.emit("downloadfile", refused)
    socket.emit("downloadfile", f"{home}/Documents/notes.txt")
    data, name = socket.wait_for("sendfile")[0]
    assert (data, name) == (b"mine\n", "notes.txt"), "a file from outside the home was sent"


def test_uploads_and_folders_land_in_the_home_only(files_server: Kclient, home: Path, tmp_path: Path) -> None:
    socket = files_server.socket("/files/socket.io/")
    outside = tmp_path / "outside"
    socket.emit("uploadfile", [str(home), str(outside / "dropped.txt"), b"x", False])
    socket.emit("uploadfile", [str(home), f"{home}/escape/dropped.txt", b"x", False])
    socket.emit("createfolder", [f"{home}/../made", str(home)])
    socket.wait_for("renderfiles")
    socket.emit("uploadfile", [str(home), f"{home}/new/deep/upload.bin", b"\x00\x01data", True])
    assert "new" in socket.wait_for("renderfiles")[0][0]
    assert (home / "new/deep/upload.bin").read_bytes() == b"\x00\x01data"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert not (tmp_path / "home/made").exists()


def test_deleting_a_link_removes_the_link_not_what_it_points_to(
    files_server: Kclient, home: Path, tmp_path: Path
) -> None:
    socket = files_server.socket("/files/socket.io/")
    socket.emit("deletefiles", [str(home), str(home)])  # the home itself stays
    socket.wait_for("renderfiles")
    socket.emit("deletefiles", [str(tmp_path / "outside/secret.txt"), str(home)])
    socket.wait_for("renderfiles")
    dirs, _files, _where = listing(socket, "deletefiles", [f"{home}/escape", str(home)])
    assert dirs == ["Documents"]
    assert home.is_dir() and (tmp_path / "outside/secret.txt").read_text() == "not yours\n"


def test_the_default_build_serves_no_files(kclient: Kclient) -> None:
    assert kclient.get("/files")[0] == 404
    assert kclient.get("/files/socket.io/?EIO=4&transport=polling")[0] == 404


# --- behind the proxy -----------------------------------------------------------------------------


@pytest.fixture
def proxied(file_transfer_tree: Path, tmp_path: Path, home: Path) -> Iterator[tuple[int, str]]:
    """nginx with the rendered configuration (login on, PREFIX=/desk/) before the real kclient."""
    shutil.which("nginx") or pytest.skip("nginx is not installed (Debian: apt-get install nginx-light)")
    directory = tempfile.TemporaryDirectory()
    root = Path(directory.name)
    root.chmod(0o755)  # as root, nginx's workers run as an unprivileged account
    port = free_port()
    render(root, HTTP_PORT=str(port), PREFIX="/desk/", HTTP_AUTH_USER="alice", HTTP_AUTH_PASSWORD="pw 1")
    with running_kclient(
        file_transfer_tree, tmp_path, tmp_path / "mic.sock", HOME=str(home), SUBFOLDER="/desk/"
    ) as server:
        # kclient listens on the test's port, not on the unix socket svc-kclient gives it.
        conf = root / "run/helios/nginx/nginx.conf"
        socket = f"unix:{root}/run/helios/kclient/kclient.sock;"
        conf.write_text(conf.read_text().replace(socket, f"127.0.0.1:{server.port};"))
        kasmvnc_pair(root)
        nginx = start_nginx(root, port)
        try:
            yield port, f"http://127.0.0.1:{port}"
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)
            directory.cleanup()


def test_the_file_manager_is_behind_the_same_login_and_origin_checks(proxied: tuple[int, str]) -> None:
    port, own = proxied
    login = basic("alice", "pw 1")

    def status(path: str, **headers: str) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}", **headers})
        answer = conn.getresponse().status
        conn.close()
        return answer

    handshake = "/desk/files/socket.io/?EIO=4&transport=polling"
    for path in ("/desk/files", handshake):
        assert status(path) == 401, path
        assert status(path, Authorization=basic("alice", "wrong")) == 401, path
        assert status(path, Authorization=login, Origin="https://evil.example") == 403, path
        assert status(path, Authorization=login, Origin=own) == 200, path
    assert status("/files", Authorization=login) == 404, "outside PREFIX nothing is served"
    # The page's own socket, through nginx, with the login and its own origin: a working session.
    socket = SocketIO(port, "/desk/files/socket.io/", headers={"Authorization": login, "Origin": own})
    socket.emit("open", "")
    assert socket.wait_for("renderfiles")[0][0] == ["Documents"]
    with pytest.raises(ConnectionError):
        SocketIO(port, "/desk/files/socket.io/", headers={"Origin": own})
