"""The `helios build` command end to end on a real engine, with the fixture distro."""

from __future__ import annotations

import tarfile

from typer.testing import CliRunner

from pipeline.cli import app
from tests.engine.conftest import FIXTURE, setting

runner = CliRunner()


def test_helios_build_exports_an_oci_tarball_and_summarizes(tmp_path):
    target = tmp_path / "tiny.tar"
    result = runner.invoke(
        app,
        [
            "build",
            "--distro",
            "tiny",
            "--root",
            str(FIXTURE),
            "--export",
            str(target),
            *setting().cli_args(offline=False),
        ],
    )
    assert result.exit_code == 0, result.output
    assert target.is_file() and not list(tmp_path.glob(".*.partial"))
    with tarfile.open(target) as archive:
        assert "index.json" in archive.getnames()
    assert "tiny" in result.stdout and "sha256:" in result.stdout


def test_a_failing_hook_fails_the_command_with_its_step_and_leaves_no_file(tmp_path):
    import shutil

    root = tmp_path / "tree"
    shutil.copytree(FIXTURE, root)
    (root / "distros/tiny/build/xorg.sh").write_text(
        "#!/bin/sh\necho 'configure: error: no GL' >&2\nexit 4\n"
    )
    target = tmp_path / "tiny.tar"
    result = runner.invoke(
        app,
        [
            "build",
            "--distro",
            "tiny",
            "--root",
            str(root),
            "--export",
            str(target),
            *setting().cli_args(offline=False),
        ],
    )
    assert result.exit_code == 1
    assert "step 5 (kasm · xorg) failed: distros/tiny/build/xorg.sh exited with code 4" in result.stderr
    assert "configure: error: no GL" in result.stderr
    assert not target.exists() and not list(tmp_path.glob(".*.partial"))
