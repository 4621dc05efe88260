"""Resolve the shipped apt package lists for real against the distro archives.

apt runs in simulate mode with a private root in a temporary directory (its own sources, lists
and an empty dpkg status), so nothing on this machine changes and every dependency of the list
must resolve from the archive alone. It needs `apt-get`, the archive's signing keyring and the
network; without one of them the test skips and says which.

The debian list is resolved against Debian 13 trixie. The ubuntu list serves 24.04 noble and
22.04 jammy, so it is resolved against both (amd64, the components of the official ubuntu
images); that needs an Ubuntu mirror and the Ubuntu archive keyring (Debian's `ubuntu-keyring`
package), and skips with that reason where either is missing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pipeline.packages import PACKAGES_FILE, package_list

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Archive:
    """Where one release of a distro lives, and how apt checks it."""

    name: str
    list_name: str
    keyring: str
    sources: tuple[tuple[str, str], ...]  # (URI, suites)
    components: str
    architecture: str | None = None  # None: this machine's


ARCHIVES = (
    Archive(
        "trixie",
        "debian",
        "/usr/share/keyrings/debian-archive-keyring.gpg",
        (
            ("http://deb.debian.org/debian", "trixie trixie-updates"),
            ("http://deb.debian.org/debian-security", "trixie-security"),
        ),
        "main",
    ),
    # archive.ubuntu.com carries amd64 only (arm64 is on ports.ubuntu.com).
    *(
        Archive(
            release,
            "ubuntu",
            "/usr/share/keyrings/ubuntu-archive-keyring.gpg",
            (
                (
                    "http://archive.ubuntu.com/ubuntu",
                    f"{release} {release}-updates {release}-security",
                ),
            ),
            "main restricted universe multiverse",  # as in the official ubuntu images
            architecture="amd64",
        )
        for release in ("noble", "jammy")
    ),
)

NETWORK_ERRORS = (
    "Could not resolve",
    "Temporary failure resolving",
    "Could not connect",
    "Connection timed out",
    "Connection failed",
    "Network is unreachable",
    "No route to host",
)


def _reachable(uri: str) -> bool:
    parts = urlsplit(uri)
    try:
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=5):
            return True
    except OSError:
        return False


def _architecture() -> str:
    dpkg = shutil.which("dpkg")
    if dpkg:
        out = subprocess.run([dpkg, "--print-architecture"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    return "amd64"


def _apt_root(root: Path, archive: Archive) -> Path:
    """Lay out a private apt root and return its apt.conf."""
    for sub in (
        "etc/apt/sources.list.d",
        "etc/apt/apt.conf.d",
        "etc/apt/preferences.d",
        "var/lib/apt/lists/partial",
        "var/cache/apt/archives/partial",
        "var/lib/dpkg",
    ):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "var/lib/dpkg/status").write_text("")
    stanzas = [
        f"Types: deb\nURIs: {uri}\nSuites: {suites}\nComponents: {archive.components}\n"
        f"Signed-By: {archive.keyring}\n"
        for uri, suites in archive.sources
    ]
    (root / "etc/apt/sources.list.d/archive.sources").write_text("\n".join(stanzas))
    arch = archive.architecture or _architecture()
    conf = root / "apt.conf"
    conf.write_text(
        f'Dir "{root}/";\n'
        f'Dir::State::status "{root}/var/lib/dpkg/status";\n'
        'Dir::Etc::sourcelist "/dev/null";\n'
        f'APT::Architecture "{arch}";\n'
        f'APT::Architectures {{ "{arch}"; }};\n'
        'APT::Sandbox::User "root";\n'
        'Acquire::Languages "none";\n'
        'Acquire::Retries "2";\n'
    )
    return conf


def _apt(conf: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", "-q", *args],
        env={"APT_CONFIG": str(conf), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module", params=ARCHIVES, ids=lambda a: f"{a.list_name}-{a.name}")
def updated_root(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """An apt root whose package lists are fresh from ``archive`` (one update per archive)."""
    archive: Archive = request.param
    if shutil.which("apt-get") is None:
        pytest.skip("apt-get is not installed on this machine")
    unreachable = [uri for uri, _ in archive.sources if not _reachable(uri)]
    if unreachable:
        pytest.skip(f"{archive.name}'s archive is unreachable from here: {', '.join(unreachable)}")
    if not Path(archive.keyring).is_file():
        pytest.skip(
            f"{archive.keyring} is missing, so apt cannot check {archive.name}'s archive"
            + (" (install the ubuntu-keyring package)" if archive.list_name == "ubuntu" else "")
        )

    conf = _apt_root(tmp_path_factory.mktemp(f"apt-{archive.name}"), archive)
    update = _apt(conf, "update")
    output = update.stdout + update.stderr
    if update.returncode != 0 or "\nErr:" in f"\n{output}" or "W: Failed to fetch" in output:
        if any(error in output for error in NETWORK_ERRORS):
            pytest.skip(f"{archive.name}'s archive could not be fetched: network error")
        if "NO_PUBKEY" in output:
            pytest.skip(f"{archive.keyring} lacks the key that signs {archive.name}")
        pytest.fail(f"apt-get update for {archive.name} failed:\n{output[-3000:]}")
    return archive, conf


def test_package_list_resolves_against_the_archive(updated_root) -> None:
    archive, conf = updated_root
    names = package_list((REPO / PACKAGES_FILE).read_text(), archive.list_name)
    assert names, f"the {archive.list_name} list is empty"
    # The same flags as system.sh: recommends stay out, every hard dependency must resolve.
    result = _apt(conf, "-s", "-y", "--no-install-recommends", "install", *names, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, (
        f"the {archive.list_name} list of {PACKAGES_FILE} does not resolve on {archive.name}:\n"
        + "\n".join(line for line in output.splitlines() if line.startswith(("E:", " ")))[-3000:]
    )
    installed = {line.split()[1] for line in output.splitlines() if line.startswith("Inst ")}
    missing = [name for name in names if name not in installed]
    assert not missing, f"not installed by the simulation (virtual or unknown?): {missing}"
