"""The s6-overlay stand-in: built from the mirrored sources, laid out as the release tarballs unpack."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.rehearsal.s6 import S6BuildError, s6_overlay_tree

REPO = Path(__file__).resolve().parents[2]
INPUTS = Path(os.environ.get("HELIOS_INPUTS_MIRROR", REPO.parent / "shared" / "inputs"))

pytestmark = [
    pytest.mark.rehearsal,
    pytest.mark.skipif(os.geteuid() != 0, reason="the rehearsal needs root (its cache is /var/cache)"),
    pytest.mark.skipif(shutil.which("gcc") is None, reason="building s6 from source needs gcc and make"),
    pytest.mark.skipif(
        not (INPUTS / "git" / "skarnet").is_dir(),
        reason=f"no input mirror with the skarnet sources at {INPUTS} (set HELIOS_INPUTS_MIRROR)",
    ),
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return s6_overlay_tree(tmp_path_factory.mktemp("s6"), INPUTS)


def test_tree_has_the_release_layout(tree: Path) -> None:
    assert os.access(tree / "init", os.X_OK)
    assert "/package/admin/s6-overlay-3.2.3.0/libexec/stage0" in (tree / "init").read_text()
    assert (tree / "package/admin/s6-overlay").readlink() == Path("s6-overlay-3.2.3.0")
    contenv = tree / "package/admin/s6-overlay/command/with-contenv"
    assert contenv.read_text().startswith("#!/command/execlineb"), "the @SHEBANGDIR@ placeholder is filled"
    # The runtime's own needs too: health.sh (s6-svdt, s6-clock), user.sh (s6-applyuidgid).
    for command in ("s6-overlay-suexec", "s6-svscan", "s6-rc", "s6-linux-init-maker", "execlineb",
                    "s6-setuidgid", "s6-notifyoncheck", "with-contenv", "s6-svstat",
                    "s6-svdt", "s6-clock", "s6-applyuidgid"):  # fmt: skip
        assert os.access(tree / "command" / command, os.X_OK), command
        assert str((tree / "usr/bin" / command).readlink()) == f"../../command/{command}"
    assert not list(tree.glob("package/*/*/include")), "headers are not part of the release"
    assert not list(tree.rglob(".empty"))


def test_s6_rc_compiles_the_helios_service_graph(tree: Path, tmp_path: Path) -> None:
    """s6-overlay's own sources plus the image's s6-rc.d, merged as in the image, compile with s6-rc."""
    sources = tmp_path / "s6-rc.d"
    shutil.copytree(tree / "etc/s6-overlay/s6-rc.d", sources)
    for root in ("common/root", "distros/debian/root"):
        own = REPO / root / "etc/s6-overlay/s6-rc.d"
        if own.is_dir():
            shutil.copytree(own, sources, dirs_exist_ok=True)
    db = tmp_path / "compiled"
    proc = subprocess.run(
        [str(tree / "command/s6-rc-compile"), str(db),
         str(tree / "package/admin/s6-overlay/etc/s6-rc/sources"), str(sources)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    listing = subprocess.run(
        [str(tree / "command/s6-rc-db"), "-c", str(db), "all-dependencies", "svc-health"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert {"helios-ready", "svc-desktop", "svc-xvnc", "legacy-cont-init"} <= set(listing)


def test_a_source_that_is_not_the_pinned_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(S6BuildError, match=r"s6-overlay source is version 3\.2\.3\.0, the pin says 9\.9"):
        s6_overlay_tree(tmp_path, INPUTS, version="9.9")
