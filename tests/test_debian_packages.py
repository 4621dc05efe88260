"""Resolve the shipped apt package lists for real against the distro archives.

apt runs in simulate mode with a private root in a temporary directory (its own sources, lists
and an empty dpkg status), so nothing on this machine changes and every dependency of a list
must resolve from the archive alone. It needs `apt-get`, the archive's signing keyring and the
network; without one of them the test skips and says which.

The lists of every apt-installing step are resolved, for amd64 and arm64 (Helios builds both):
step 2's build dependencies (distros/debian/build/kasm.sh: `apt-get build-dep` plus its `apt-get
install` list) and its kasm.d drop-in (libcpuid-dev where the archive has it, else the tools of the
static build), step 6's list (distros/debian/build/kclient.sh), step 9's runtime list
(common/packages.toml) and its system.d drop-in, which runs for real here against the archive with
apt in simulate mode (APT::Get::Simulate).

Where the archives are is never written here; it comes from the machine at run time:
- Debian 13 trixie, amd64 and arm64: the Debian archive (and its security archive) of this
  machine's own apt configuration, as `apt-get indextargets` reports it (deb822 .sources and
  one-line lists alike), or the mirror URL in HELIOS_DEBIAN_MIRROR.
- Ubuntu 24.04 noble and 22.04 jammy (the ubuntu list serves both): the mirror URL in
  HELIOS_UBUNTU_MIRROR, else an Ubuntu archive of this machine's apt configuration (amd64, the
  components of the official ubuntu images). It also needs the Ubuntu archive keyring (Debian's
  `ubuntu-keyring` package, which .ci/run installs). Without a mirror or keyring it skips, saying so.
- Kali rolling has no archive reachable from here; the GitHub workflow resolves the lists inside
  the distros' own base images (.github/workflows, job package-lists).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pipeline.packages import PACKAGES_FILE, package_list
from tests.package_lists import step2_packages

pytestmark = pytest.mark.network

REPO = Path(__file__).resolve().parent.parent
STEP2_HOOK = REPO / "distros/debian/build/kasm.sh"
STEP2_LIBCPUID = REPO / "distros/debian/build/kasm.d/60-libcpuid.sh"
STEP6_HOOK = REPO / "distros/debian/build/kclient.sh"
STEP9_DROP_IN = REPO / "distros/debian/build/system.d/50-kasmvnc-libraries.sh"
LIB = REPO / "common/build/lib.sh"
STATIC_BUILD_TOOLS = ("cmake", "gcc", "make", "pkg-config", "curl", "tar")
"""What build_static_library runs (common/build/lib/static.sh), from step 2's own list."""
UBUNTU_COMPONENTS = "main restricted universe multiverse"  # as in the official ubuntu images


@dataclass(frozen=True)
class Archive:
    """Where one release of a distro lives, and how apt checks it."""

    name: str
    list_name: str
    keyring: str
    sources: tuple[tuple[str, str], ...]  # (URI, suites)
    components: str
    architecture: str | None = None  # None: this machine's


@cache
def _configured(origin: str) -> dict[str, str]:
    """The archives of ``origin`` in this machine's apt configuration: {label: URI}."""
    if shutil.which("apt-get") is None:
        return {}
    fields = "$(REPO_URI)|$(ORIGIN)|$(LABEL)|$(TARGET_OF)"
    out = subprocess.run(
        ["apt-get", "indextargets", "--format", fields], capture_output=True, text=True, check=False
    ).stdout
    found: dict[str, str] = {}
    for line in sorted(set(out.splitlines())):
        uri, line_origin, label, target = [*line.split("|"), "", "", ""][:4]
        if line_origin == origin and target == "deb":
            found.setdefault(label, uri.rstrip("/"))
    return found


def _trixie(architecture: str | None = None) -> Archive:
    mirror = os.environ.get("HELIOS_DEBIAN_MIRROR", "").rstrip("/")
    configured = _configured("Debian")
    main = mirror or configured.get("Debian")
    if not main:
        pytest.skip(
            "no Debian archive to resolve against: this machine's apt configuration names none "
            "(apt-get indextargets shows no Origin 'Debian'; run apt-get update) and "
            "HELIOS_DEBIAN_MIRROR is not set"
        )
    sources = [(main, "trixie trixie-updates")]
    if not mirror and configured.get("Debian-Security"):
        sources.append((configured["Debian-Security"], "trixie-security"))
    return Archive(
        f"trixie ({architecture or _architecture()})",
        "debian",
        "/usr/share/keyrings/debian-archive-keyring.gpg",
        tuple(sources),
        "main",
        architecture,
    )


def _ubuntu(release: str) -> Archive:
    mirror = os.environ.get("HELIOS_UBUNTU_MIRROR", "").rstrip("/") or _configured("Ubuntu").get("Ubuntu")
    if not mirror:
        pytest.skip(
            "no Ubuntu archive to resolve the ubuntu list against: set HELIOS_UBUNTU_MIRROR to the "
            "URL of an Ubuntu archive mirror carrying amd64 (this machine's apt configuration names none)"
        )
    return Archive(
        release,
        "ubuntu",
        "/usr/share/keyrings/ubuntu-archive-keyring.gpg",
        ((mirror, f"{release} {release}-updates {release}-security"),),
        UBUNTU_COMPONENTS,
        architecture="amd64",
    )


ARCHIVES = {
    "debian-trixie": _trixie,
    "debian-trixie-arm64": lambda: _trixie("arm64"),
    "ubuntu-noble": lambda: _ubuntu("noble"),
    "ubuntu-jammy": lambda: _ubuntu("jammy"),
}

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
        f"Types: deb deb-src\nURIs: {uri}\nSuites: {suites}\nComponents: {archive.components}\n"
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


def _simulate_install(conf: Path, names: list[str], what: str, archive: Archive) -> str:
    """apt-get's simulated install of ``names`` (no recommends, as the hooks do); its output.

    Fails naming ``what`` and apt's errors when a name or a hard dependency does not resolve."""
    result = _apt(conf, "-s", "-y", "--no-install-recommends", "install", *names, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, (
        f"{what} does not resolve on {archive.name}:\n"
        + "\n".join(line for line in output.splitlines() if line.startswith(("E:", " ")))[-3000:]
    )
    return output


@pytest.fixture(scope="module", params=sorted(ARCHIVES))
def updated_root(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """An apt root whose package lists are fresh from the archive (one update per archive)."""
    if shutil.which("apt-get") is None:
        pytest.skip("apt-get is not installed on this machine")
    archive = ARCHIVES[request.param]()
    unreachable = [uri for uri, _ in archive.sources if not _reachable(uri)]
    if unreachable:
        pytest.skip(f"{archive.name}'s archive is unreachable from here: {', '.join(unreachable)}")
    if not Path(archive.keyring).is_file():
        pytest.skip(
            f"{archive.keyring} is missing, so apt cannot check {archive.name}'s archive"
            + (" (install the ubuntu-keyring package)" if archive.list_name == "ubuntu" else "")
        )

    conf = _apt_root(tmp_path_factory.mktemp(f"apt-{request.param}"), archive)
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
    output = _simulate_install(conf, names, f"the {archive.list_name} list of {PACKAGES_FILE}", archive)
    installed = {line.split()[1] for line in output.splitlines() if line.startswith("Inst ")}
    missing = [name for name in names if name not in installed]
    assert not missing, f"not installed by the simulation (virtual or unknown?): {missing}"


def test_step2_names_what_kasmvnc_1_5_needs() -> None:
    """KasmVNC 1.5's CMake requires libcpuid, fmt, libva(-drm), libyuv and freetype (TBB optional);
    libcpuid comes from the drop-in, which builds it where the archive lacks it."""
    _, install = step2_packages(STEP2_HOOK.read_text())
    for name in (
        "libfmt-dev",
        "libva-dev",
        "libyuv-dev",
        "libfreetype-dev",
        "libtbb-dev",
        *STATIC_BUILD_TOOLS,
    ):
        assert name in install, f"{STEP2_HOOK.name} does not install {name}"
    assert "apt-get install -y --no-install-recommends libcpuid-dev" in STEP2_LIBCPUID.read_text()


def test_step2_build_dependencies_resolve_against_the_archive(updated_root) -> None:
    archive, conf = updated_root
    build_dep, install = step2_packages(STEP2_HOOK.read_text())
    assert build_dep and install, f"no apt-get lines found in {STEP2_HOOK}"
    result = _apt(conf, "-s", "-y", "build-dep", *build_dep, timeout=600)
    assert result.returncode == 0, (
        f"build-dep {build_dep} fails on {archive.name}:\n{result.stdout[-2000:]}{result.stderr}"
    )
    _simulate_install(conf, install, f"the step-2 list of {STEP2_HOOK.relative_to(REPO)}", archive)


QUOTING_ARCHIVES = ("pipeline/versions.toml", "tests/apt_sources.py", "tests/test_archive_lib.py")
"""Files that name archives without fetching from them: download URLs of pinned inputs, and the apt
sources base images ship, quoted to test what an archive snapshot makes of them."""


def test_no_archive_host_this_machine_uses_is_written_in_the_repository() -> None:
    """Archive locations come from the machine at run time, so no file may spell one out."""
    if shutil.which("apt-get") is None or shutil.which("git") is None:
        pytest.skip("needs apt-get (to learn this machine's archives) and git (to list the files)")
    out = subprocess.run(
        ["apt-get", "indextargets", "--format", "$(REPO_URI)"], capture_output=True, text=True, check=False
    ).stdout
    hosts = {urlsplit(uri).hostname for uri in out.split()} - {None, "", "localhost"}
    if not hosts:
        pytest.skip("this machine's apt configuration names no archive (run apt-get update)")
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True)
    offenders = []
    for rel in files.stdout.split("\0"):
        path = REPO / rel
        if not rel or rel in QUOTING_ARCHIVES or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        offenders += [f"{rel}: {host}" for host in sorted(hosts) if host in text]
    assert not offenders, "archive host names written in the repository:\n" + "\n".join(offenders)


def test_the_icon_package_ships_the_theme_xsettings_names(updated_root, tmp_path: Path) -> None:
    """xsettings.xml names the icon theme; the list's icon package must install it under that name."""
    import xml.etree.ElementTree as ET

    archive, conf = updated_root
    xsettings = REPO / "common/root/etc/xdg/xfce4/xfconf/xfce-perchannel-xml/xsettings.xml"
    theme = next(
        p.get("value")
        for p in ET.parse(xsettings).getroot().iter("property")
        if p.get("name") == "IconThemeName"
    )
    text = (REPO / PACKAGES_FILE).read_text()
    icons = [name for name in package_list(text, archive.list_name) if "icon-theme" in name]
    assert icons, f"the {archive.list_name} list installs no icon theme package"
    download = subprocess.run(
        ["apt-get", "-q", "download", *icons],
        cwd=tmp_path,
        env={"APT_CONFIG": str(conf), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert download.returncode == 0, download.stderr
    shipped = set()
    for deb in tmp_path.glob("*.deb"):
        listing = subprocess.run(
            ["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True
        ).stdout
        shipped |= set(re.findall(r"\./usr/share/icons/([^/\s]+)/index\.theme", listing))
    assert theme in shipped, (
        f"xsettings.xml names {theme!r}; {icons} on {archive.name} ship {sorted(shipped)}"
    )


def _install_list(hook: Path) -> list[str]:
    return step2_packages(hook.read_text())[1]


def _has_candidate(conf: Path, name: str) -> bool:
    """The hook library's own answer (apt_has_candidate), asked of this archive."""
    asked = subprocess.run(
        ["bash", "-c", f'source "{LIB}" && apt_has_candidate "$1"', "apt", name],
        env={"APT_CONFIG": str(conf), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return asked.returncode == 0


def test_step2_drop_in_has_libcpuid_from_the_archive_or_the_tools_to_build_it(updated_root) -> None:
    archive, conf = updated_root
    if _has_candidate(conf, "libcpuid-dev"):
        result = _apt(conf, "-s", "-y", "--no-install-recommends", "install", "libcpuid-dev")
        assert result.returncode == 0, f"libcpuid-dev has a candidate on {archive.name} but does not install"
    else:
        shown = _apt(conf, "-s", "-y", "--no-install-recommends", "install", "libcpuid-dev")
        assert shown.returncode != 0, "apt_has_candidate says no, apt-get would install it"
        missing = [tool for tool in STATIC_BUILD_TOOLS if tool not in _install_list(STEP2_HOOK)]
        assert not missing, f"{archive.name} has no libcpuid-dev and step 2 lacks {missing} to build it"


def test_step6_packages_resolve_against_the_archive(updated_root) -> None:
    archive, conf = updated_root
    install = _install_list(STEP6_HOOK)
    assert install, f"no apt-get install line found in {STEP6_HOOK}"
    _simulate_install(conf, install, f"the step-6 list of {STEP6_HOOK.relative_to(REPO)}", archive)


def test_step9_drop_in_runs_against_the_archive(updated_root, tmp_path: Path) -> None:
    """The drop-in itself, with this archive's real apt-cache, and apt-get in simulate mode."""
    archive, conf = updated_root
    simulate = tmp_path / "simulate.conf"
    # apt reads one APT_CONFIG file: the private root's settings, then simulate mode.
    simulate.write_text(conf.read_text() + 'APT::Get::Simulate "true";\n')
    result = subprocess.run(
        ["bash", str(STEP9_DROP_IN)],
        env={"APT_CONFIG": str(simulate), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C",
             "HELIOS_LIB": str(LIB), "HELIOS_STEP": "9", "HELIOS_ARCH": archive.architecture or _architecture()},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"the step-9 drop-in fails on {archive.name}:\n{output[-3000:]}"
    installed = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("Inst ")}
    assert any(name.startswith("libfmt") for name in installed), sorted(installed)
    assert any("cpuid" in name for name in installed) == _has_candidate(conf, "libcpuid-dev")
