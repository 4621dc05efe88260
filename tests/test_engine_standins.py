"""The publishing tools' stand-in images keep their binaries where the pipeline runs them from."""

from __future__ import annotations

from pathlib import Path

from pipeline import sbom, signing
from pipeline.toolpins import TOOLS
from tests.engine.standins import TOOL_LAYOUT, missing_tools


def test_every_publishing_tool_has_a_stand_in_layout() -> None:
    assert set(TOOL_LAYOUT) == set(TOOLS)


def test_syft_is_where_the_sbom_step_runs_it() -> None:
    path, with_shell = TOOL_LAYOUT["syft"]
    assert f"/{path}" == sbom.scan_args("helios", "1")[0] and not with_shell


def test_cosign_is_where_the_signing_tools_copy_it_from() -> None:
    path, _ = TOOL_LAYOUT["cosign"]
    assert f"/{path}" == signing.COSIGN_BINARY


def test_oras_has_a_shell_beside_it_and_is_on_the_path() -> None:
    """signing.py runs its login script with sh in oras's image, and oras by name."""
    path, with_shell = TOOL_LAYOUT["oras"]
    assert with_shell and path.rsplit("/", 1)[0] in {"bin", "usr/bin", "usr/local/bin"}


def test_a_tools_folder_is_checked_for_every_binary_before_anything_is_made(tmp_path: Path) -> None:
    (tmp_path / "oras").write_bytes(b"")
    assert missing_tools(tmp_path) == ["syft", "cosign"]
    for tool in ("syft", "cosign"):
        (tmp_path / tool).write_bytes(b"")
    assert missing_tools(tmp_path) == []
