"""README starts where a user starts, and every example in it can be typed as written.

The examples that need no engine are run for real, in order, in a clone-like copy of the
repository; every other `helios` and `dagger call` example is checked against the options the two
front ends really take.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.render import spelling_markdown
from pipeline.spelling import CONSTRUCTOR, Front
from tests.conftest import REPO
from tests.test_module import registered_typedefs

README = (REPO / "README.md").read_text()
ENGINE_FREE = {"distros", "plan", "validate", "--version", "--help"}
SHELL = {"mkdir", "printf", "cat", "ls", "cd", "echo", "test"}


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M)


def commands(block: str) -> list[str]:
    """The block's commands: continued lines joined, comments and blank lines left out."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [
        line.split("  #")[0].strip()
        for line in joined.splitlines()
        if line.strip() and not line.startswith("#")
    ]


def kind(command: str) -> str:
    """engine-free, install, or needs-more (an engine, a registry or the network)."""
    words = shlex.split(command)
    while words and "=" in words[0] and not words[0].startswith("-"):
        words = words[1:]  # VAR=value before the command
    if words[:1] == ["helios"]:
        return "engine-free" if words[1] in ENGINE_FREE else "needs-more"
    if words[:1] in (["pip"], ["python3"], ["python"]) and "pytest" not in command:
        return "install"
    if words and words[0] in SHELL:
        return "engine-free"
    return "needs-more"


def block_kind(block: str) -> str:
    kinds = {kind(command) for command in commands(block)}
    assert len(kinds) == 1, (
        f"a README block mixes {kinds}: keep what needs no engine in a block of its own\n{block}"
    )
    return kinds.pop()


def test_the_quick_start_goes_install_then_engine_free_then_engine():
    headings = re.findall(r"^## (.+)$", README, re.M)
    assert headings[0] == "Quick start"
    assert headings.index("The `helios` CLI") < headings.index("Building with Dagger")
    start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    kinds = [block_kind(block) for block in sh_blocks(start)]
    assert kinds == ["install", "engine-free", "needs-more"], kinds
    first_engine = min(README.find("dagger call"), README.find("helios build"))
    assert README.find("helios distros") < first_engine and README.find("pip install") < first_engine
    assert README.find("pip install") < README.find("python -m pytest")


def clone_like_copy(target: Path) -> Path:
    """The files a fresh clone of this checkout has (tracked and new, not ignored), copied."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard", "-z"],
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.mark.real_versions
def test_every_example_that_needs_no_engine_runs_as_written(tmp_path):
    blocks = [block for block in sh_blocks(README) if block_kind(block) == "engine-free"]
    script = "\n".join(command for block in blocks for command in commands(block))
    ran = {shlex.split(line)[1] for line in script.splitlines() if line.startswith("helios ")}
    assert ran >= {"--version", "distros", "plan", "validate"}, ran
    clone = clone_like_copy(tmp_path / "helios")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("HELIOS_ROOT", None)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{script}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert "rhel" in result.stdout and "ok: " in result.stdout
    assert "9.1  system  user" in result.stdout  # the example's drop-in, planned from ./site


def cli_options(command: str) -> set[str]:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, (command, result.output)
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-z])\b", result.stdout))


def example_commands(*prefixes: str) -> list[list[str]]:
    found = []
    for block in sh_blocks(README):
        for command in commands(block):
            words = shlex.split(command)
            while words and "=" in words[0] and not words[0].startswith("-"):
                words = words[1:]
            if words[: len(prefixes)] == list(prefixes):
                found.append(words)
    return found


def test_every_helios_example_uses_options_its_command_takes():
    examples = example_commands("helios")
    assert {words[1] for words in examples} >= {"build", "publish", "plan", "validate", "distros"}
    for words in examples:
        if words[1].startswith("-"):
            continue
        options = {word.split("=")[0] for word in words[2:] if word.startswith("-")}
        assert options <= cli_options(words[1]), (words, options - cli_options(words[1]))


def test_every_dagger_call_example_uses_functions_and_flags_the_module_registers(tmp_path):
    main = registered_typedefs(tmp_path)
    flags = {
        name.replace("_", "-"): {"--" + a.replace("_", "-") for a in fn["args"]}
        for name, fn in main["functions"].items()
    }
    flags[CONSTRUCTOR] = {"--" + a.replace("_", "-") for a in main["constructor"]["args"]}
    examples = example_commands("dagger", "call")
    assert examples
    for words in examples:
        rest = words[2:]
        function = CONSTRUCTOR
        for word in rest:
            if not word.startswith("-"):
                if function != CONSTRUCTOR:
                    break  # a call on the function's result (export, publish, terminal)
                assert word in flags, (words, word)
                function = word
            else:
                assert word.split("=")[0] in flags[function], (words, word)


def section(heading: str) -> str:
    return README.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_each_front_end_section_carries_its_spelling_table():
    assert spelling_markdown(Front.CLI) in section("The `helios` CLI"), (
        "paste pipeline.render.spelling_markdown(Front.CLI)"
    )
    assert spelling_markdown(Front.MODULE) in section("Building with Dagger"), (
        "paste pipeline.render.spelling_markdown(Front.MODULE)"
    )
