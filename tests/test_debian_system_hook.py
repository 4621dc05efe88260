"""Step 9 of the Debian family (distros/debian/build/system.sh): VirtualGL and the desktop defaults.

The hook's ``virtualgl`` function runs for real under bash with stand-ins for the network and
package tools on PATH. Each stand-in answers the way the real tool does for the case at hand:

- curl: ``-f`` failures exit with curl's own codes (6 = could not resolve host) and print
  ``curl: (N) ...`` on stderr; success writes the ``-o`` file.
- gpg: ``--show-keys --with-colons`` prints gpg's colon listing (``pub``, ``fpr`` in field 10,
  ``uid``); ``--verify SIG -`` with ``--status-fd 1`` prints ``[GNUPG:] GOODSIG``/``VALIDSIG`` (the
  primary key's fingerprint last) and exits 0, or ``[GNUPG:] BADSIG`` and exits 1. The stand-in's
  "signature" is the sha256 of the signed bytes, so it verifies only the exact bytes debsigs signs.
- apt-get / apt-cache: ``update`` exits 100 with ``E:`` lines when a source cannot be fetched;
  ``policy`` prints ``Candidate:``; ``download`` leaves ``<name>_<version>_<arch>.deb`` in the
  current directory.

The package is a real .deb built with dpkg-deb, with an ``_gpgorigin`` member appended by ar, as
VirtualGL's release scripts do with ``debsigs --sign=origin`` (which signs ``ar -p DEB
debian-binary control.tar* data.tar*``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HOOK = REPO / "distros/debian/build/system.sh"
LIB = REPO / "common/build/lib.sh"
PINNED = "AE1A7BA4EFFF9A9987E1474C4BACCAB36E7FE9A1"
OTHER = "0123456789ABCDEF0123456789ABCDEF01234567"

CURL = r"""#!/bin/bash
# curl -fsSL [--connect-timeout S] [--speed-limit B --speed-time S] [--retry N] -o DEST URL
dest= url= limits=
while (($#)); do case $1 in
  -o) dest=$2; shift 2 ;;
  --connect-timeout|--speed-limit|--speed-time) limits+=" $1=$2"; shift 2 ;;
  --retry) shift 2 ;;
  -*) shift ;;
  *) url=$1; shift ;;
esac; done
echo "curl $url" >>"$STUB_LOG"
echo "curl-limits$limits" >>"$STUB_LOG"
if [[ ${STUB_CURL:-} == unreachable ]]; then
  echo "curl: (6) Could not resolve host: ${url#https://}" | sed 's#/.*##' >&2
  exit 6
fi
case $url in
  */VGL-GPG-KEY) cp "$STUB_DIR/project.asc" "$dest" ;;
  */gpgkey) cp "$STUB_DIR/index.asc" "$dest" ;;
  *) echo "curl: (22) The requested URL returned error: 404" >&2; exit 22 ;;
esac
"""

GPG = r"""#!/bin/bash
echo "gpg $*" >>"$STUB_LOG"
args=("$@")
case " $* " in
  *" --show-keys "*)
    file=${args[-1]}
    grep -q 'BEGIN PGP PUBLIC KEY BLOCK' "$file" || { echo "gpg: no valid OpenPGP data found." >&2; exit 2; }
    fpr=$STUB_FPR
    echo "pub:-:4096:1:${fpr: -16}:1605647594:::-:::scSC::::::23::0:"
    echo "fpr:::::::::$fpr:"
    echo "uid:-::::1758741215::8C208CADECD6456984E5268D2D70225EABC5DFA3::The VirtualGL Project (Signing key for official binaries) <information@VirtualGL.org>::::::::::0:"
    ;;
  *" --import "*) echo "gpg: key ${STUB_FPR: -16}: public key imported" >&2 ;;
  *" --verify "*)
    sig=${args[-2]}
    actual=$(sha256sum | cut -d' ' -f1)
    if [[ $actual == "$(cat "$sig")" ]]; then
      echo "[GNUPG:] GOODSIG ${STUB_FPR: -16} The VirtualGL Project"
      echo "[GNUPG:] VALIDSIG $STUB_FPR 2025-09-24 1758741215 0 4 0 1 10 00 $STUB_FPR"
    else
      echo "[GNUPG:] BADSIG ${STUB_FPR: -16} The VirtualGL Project"
      exit 1
    fi
    ;;
  *) echo "gpg stand-in: unexpected call: $*" >&2; exit 2 ;;
esac
"""

APT_GET = r"""#!/bin/bash
echo "apt-get $*" >>"$STUB_LOG"
case $1 in
  update)
    if [[ ${STUB_APT_UPDATE:-} == fail ]]; then
      echo "Err:1 https://packagecloud.io/dcommander/virtualgl/any any InRelease"
      echo "  Could not resolve 'packagecloud.io'"
      echo "E: Failed to fetch https://packagecloud.io/dcommander/virtualgl/any/dists/any/InRelease  Could not resolve 'packagecloud.io'" >&2
      exit 100
    fi ;;
  download) cp "$STUB_DIR/package.deb" "$PWD/virtualgl_${2#*=}_amd64.deb" ;;
  install | purge) ;;
  *) echo "E: stand-in got $*" >&2; exit 100 ;;
esac
"""

APT_CACHE = r"""#!/bin/bash
echo "apt-cache $*" >>"$STUB_LOG"
printf 'virtualgl:\n  Installed: (none)\n  Candidate: %s\n  Version table:\n' "${STUB_CANDIDATE:-3.1.4}"
"""

KEY = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nstand-in\n-----END PGP PUBLIC KEY BLOCK-----\n"


def _need(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: needed to build a real .deb fixture")


def _deb(tmp: Path, *, signed_bytes: bytes | None = None, origin: bool = True) -> Path:
    """A real .deb (dpkg-deb) with an _gpgorigin member over what debsigs signs."""
    _need("dpkg-deb", "ar")
    root = tmp / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        "Package: virtualgl\nVersion: 3.1.4\nArchitecture: amd64\nMaintainer: t <t@example.org>\n"
        "Description: stand-in\n"
    )
    (root / "opt/VirtualGL/bin").mkdir(parents=True)
    (root / "opt/VirtualGL/bin/vglrun").write_text("#!/bin/sh\n")
    deb = tmp / "package.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-b", str(root), str(deb)], check=True, capture_output=True
    )
    members = subprocess.run(["ar", "t", str(deb)], check=True, capture_output=True, text=True).stdout.split()
    signed = [m for m in members if m == "debian-binary" or m.startswith(("control.tar", "data.tar"))]
    data = subprocess.run(["ar", "p", str(deb), *signed], check=True, capture_output=True).stdout
    if origin:
        sig = tmp / "_gpgorigin"
        sig.write_text(hashlib.sha256(signed_bytes if signed_bytes is not None else data).hexdigest())
        subprocess.run(["ar", "q", str(deb), str(sig)], check=True, cwd=tmp, capture_output=True)
    return deb


def write_stubs(tmp: Path, tools: dict[str, str]) -> Path:
    """The stand-in ``tools`` in tmp/bin, the two keys curl serves, and a vglserver_config that logs."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    for name, body in tools.items():
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    (tmp / "project.asc").write_text(KEY)
    (tmp / "index.asc").write_text(KEY)
    vgl = tmp / "vgl/bin"
    vgl.mkdir(parents=True)
    (vgl / "vglserver_config").write_text('#!/bin/sh\necho "vglserver_config $*" >>"$STUB_LOG"\n')
    (vgl / "vglserver_config").chmod(0o755)
    return tmp


@pytest.fixture
def stubs(tmp_path: Path):
    return write_stubs(tmp_path, {"curl": CURL, "gpg": GPG, "apt-get": APT_GET, "apt-cache": APT_CACHE})


def run_hook_function(
    hook: Path, function: str, tmp: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Source ``hook`` (its main does not run when sourced) and call ``function``, with the stand-ins
    of ``tmp`` first on PATH and ``env`` over the step's usual variables."""
    base = {
        "PATH": f"{tmp / 'bin'}:/usr/bin:/bin",
        "HELIOS_LIB": str(LIB),
        "HELIOS_STEP": "9",
        "HELIOS_ARCH": "amd64",
        "VGL_PREFIX": str(tmp / "vgl"),
        "STUB_DIR": str(tmp),
        "STUB_LOG": str(tmp / "calls.log"),
        "STUB_FPR": PINNED,
        "TMPDIR": str(tmp),
    }
    return subprocess.run(
        ["bash", "-c", f'source "$1" && {function}', "step9-test", str(hook)],
        env=base | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_virtualgl(tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The Debian hook's VirtualGL function, its apt configuration under ``tmp``."""
    return run_hook_function(HOOK, "virtualgl", tmp, {"APT_ETC": str(tmp / "etc-apt"), **env})


def test_a_stalled_repository_cannot_hang_the_step(stubs: Path) -> None:
    run_virtualgl(stubs, HELIOS_DOWNLOAD_STALL_TIMEOUT="7")
    limits = [line for line in calls(stubs).splitlines() if line.startswith("curl-limits")]
    assert limits, "curl was not called"
    for line in limits:
        assert "--connect-timeout=30" in line and "--speed-limit=1" in line and "--speed-time=7" in line


def calls(tmp: Path) -> str:
    log = tmp / "calls.log"
    return log.read_text() if log.exists() else ""


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("[helios step 9] error:")]
    assert lines, f"no '[helios step 9] error:' line; stderr was:\n{result.stderr}"
    return lines[-1]


def test_an_unreachable_repository_is_the_step_s_own_error_naming_it_and_the_way_out(stubs: Path) -> None:
    result = run_virtualgl(stubs, STUB_CURL="unreachable")
    assert result.returncode == 1
    line = error_line(result)
    assert "packagecloud.io/dcommander/virtualgl" in line and "curl exit 6" in line
    assert "virtualgl = false" in line and "distro.toml" in line


def test_a_key_with_another_fingerprint_is_refused_before_any_source_is_written(stubs: Path) -> None:
    result = run_virtualgl(stubs, STUB_FPR=OTHER)
    assert result.returncode == 1
    line = error_line(result)
    assert OTHER in line and PINNED in line
    assert not (stubs / "etc-apt/sources.list.d/helios-virtualgl.sources").exists()
    assert "apt-get" not in calls(stubs)


def test_virtualgl_false_skips_it_without_touching_the_network(stubs: Path) -> None:
    result = run_virtualgl(stubs, HELIOS_VIRTUALGL="false")
    assert result.returncode == 0, result.stderr
    assert "VirtualGL skipped" in result.stdout
    assert calls(stubs) == ""


def test_a_value_other_than_true_or_false_is_an_error(stubs: Path) -> None:
    result = run_virtualgl(stubs, HELIOS_VIRTUALGL="yes")
    assert result.returncode == 1
    assert "expected true or false" in error_line(result)


def test_a_package_whose_origin_signature_verifies_is_installed_and_configured(stubs: Path) -> None:
    _deb(stubs)
    result = run_virtualgl(stubs)
    assert result.returncode == 0, result.stdout + result.stderr
    log = calls(stubs)
    assert "apt-get download virtualgl=3.1.4" in log
    installed = [line for line in log.splitlines() if line.startswith("apt-get install")]
    assert installed and installed[-1].endswith("virtualgl_3.1.4_amd64.deb")
    assert "vglserver_config +glx +s +f +t" in log
    # The repository's index key only reads the index; the project key is what is checked.
    assert "--verify" in log
    assert not (stubs / "etc-apt/sources.list.d/helios-virtualgl.sources").exists()
    assert not (stubs / "etc-apt/keyrings/helios-virtualgl.asc").exists()


def test_a_tampered_package_is_refused(stubs: Path) -> None:
    _deb(stubs, signed_bytes=b"what the project signed")
    result = run_virtualgl(stubs)
    assert result.returncode == 1
    assert "does not verify against the VirtualGL project key" in error_line(result)
    assert not [line for line in calls(stubs).splitlines() if line.startswith("apt-get install")]


def test_an_unsigned_package_is_refused(stubs: Path) -> None:
    _deb(stubs, origin=False)
    result = run_virtualgl(stubs)
    assert result.returncode == 1
    assert "no origin signature" in error_line(result)


def test_an_index_that_cannot_be_fetched_is_the_step_s_own_error(stubs: Path) -> None:
    result = run_virtualgl(stubs, STUB_APT_UPDATE="fail")
    assert result.returncode == 1
    line = error_line(result)
    assert "VirtualGL repository" in line and "virtualgl = false" in line


def test_the_pinned_fingerprint_is_the_one_the_rhel_hook_trusts() -> None:
    """Both families trust the same VirtualGL project key: the library's, defined nowhere else."""
    part = (REPO / "common/build/lib/virtualgl.sh").read_text()
    assert f"VGL_KEY_FINGERPRINT={PINNED}" in part.splitlines()
    assert any(line.startswith("VGL_KEY_URL=https://") for line in part.splitlines())
    for hook in (REPO / "distros/rhel/build/system.sh", HOOK):
        own = [
            line
            for line in hook.read_text().splitlines()
            if line.startswith(("VGL_KEY_URL=", "VGL_KEY_FINGERPRINT="))
        ]
        assert not own, f"{hook.relative_to(REPO)} pins its own VirtualGL key: {own}"


@pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg is not installed")
def test_the_colon_listing_the_stand_in_prints_matches_real_gpg(tmp_path: Path) -> None:
    """Real gpg on a freshly made key prints the same record layout the stand-in imitates."""
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(
        [
            "gpg",
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "t@example.org",
            "rsa2048",
            "sign",
            "never",
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    exported = subprocess.run(["gpg", "--armor", "--export"], env=env, check=True, capture_output=True).stdout
    (tmp_path / "k.asc").write_bytes(exported)
    script = textwrap.dedent(
        f"""
        source "{HOOK}"
        key_fingerprint "{tmp_path / "k.asc"}"
        """
    )
    out = subprocess.run(
        ["bash", "-c", script], env={**env, "HELIOS_LIB": str(LIB)}, capture_output=True, text=True
    )
    listing = subprocess.run(
        ["gpg", "--list-keys", "--with-colons"], env=env, capture_output=True, text=True
    ).stdout
    fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == fpr


def _plan(root: Path, name: str):
    from pipeline.plan import Planner
    from pipeline.tree import LocalTree

    return Planner(LocalTree(root)).plan(name, "linux/amd64")


NO_VGL = 'description = "base without VirtualGL"\nextends = "base"\nvirtualgl = false\n'


def test_the_virtualgl_switch_reaches_step_9_alone_and_defaults_to_true(make_tree) -> None:
    root = make_tree({"distros/novgl/distro.toml": NO_VGL})
    on, off = _plan(root, "base"), _plan(root, "novgl")
    assert [p.step.number for p in on.steps if "HELIOS_VIRTUALGL" in p.env] == [9]
    assert on.step(9).env["HELIOS_VIRTUALGL"] == "true"
    assert off.step(9).env["HELIOS_VIRTUALGL"] == "false"
    # Turning it off changes what step 9 sees, and nothing any other step sees.
    for number in range(1, 9):
        a, b = (dict(p.step(number).env) for p in (on, off))
        a.pop("HELIOS_DISTRO", None), b.pop("HELIOS_DISTRO", None)
        assert a == b, f"step {number}"


def test_virtualgl_must_be_a_boolean(make_tree) -> None:
    from pipeline.catalogue import Catalogue
    from pipeline.errors import HeliosError
    from pipeline.tree import LocalTree

    root = make_tree({"distros/novgl/distro.toml": NO_VGL.replace("false", '"no"')})
    with pytest.raises(HeliosError, match="virtualgl"):
        Catalogue(LocalTree(root)).get("novgl")
