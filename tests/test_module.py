"""The Dagger module: its API surface, and `distros` / `plan` on a stand-in source directory."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from pipeline.main import SOURCE_FILTER, Helios
from pipeline.plan import Planner
from pipeline.render import plan_table
from pipeline.tree import LocalTree
from tests.conftest import REPO

OBJECT = Helios.__dagger_module__.get_object("Helios")


class FakeFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    async def contents(self, *, offset_lines: int | None = None, limit_lines: int | None = None) -> str:
        """As the engine's: the lines after ``offset_lines``, at most ``limit_lines`` of them."""
        lines = self.path.read_text().splitlines(keepends=True)[offset_lines or 0 :]
        return "".join(lines if limit_lines is None else lines[:limit_lines])

    async def size(self) -> int:
        return self.path.stat().st_size

    async def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.path.read_bytes()).hexdigest()


class FakeDirectory:
    """Just the async reads snapshot() makes of a dagger.Directory, served from disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def glob(self, pattern: str) -> list[str]:
        """As the engine's (core/directory.go, Glob): matching paths, folders with a trailing slash."""
        return sorted(
            p.relative_to(self.root).as_posix() + ("/" if p.is_dir() else "") for p in self.root.glob(pattern)
        )

    def file(self, path: str) -> FakeFile:
        return FakeFile(self.root / path)

    def directory(self, path: str) -> FakeFolder:
        return FakeFolder(self.root / path)

    async def export(self, path: str, **_: object) -> str:
        """As the engine's export: the tree written to ``path``, links kept as links."""
        shutil.copytree(self.root, path, symlinks=True, dirs_exist_ok=True)
        return path


class FakeFolder:
    def __init__(self, path: Path) -> None:
        self.path = path

    async def digest(self) -> str:
        return "sha256:" + LocalTree(self.path).digest(".")


def test_the_main_object_has_the_promised_functions_with_docs():
    assert set(OBJECT.functions) == {
        "build",
        "build_all",
        "distros",
        "inputs",
        "packages",
        "plan",
        "publish",
        "publish_all",
        "sign",
        "smoke",
    }
    for name, function in OBJECT.functions.items():
        assert OBJECT.functions[name].doc, f"{name} needs a docstring"
        for parameter in function.parameters.values():
            assert parameter.doc, f"{name}({parameter.name}) needs Doc(...)"


def test_the_source_is_taken_once_with_an_allow_list():
    constructor = OBJECT.get_constructor(Helios.__dagger_module__._converter)
    source = constructor.parameters["source"]
    assert source.default_path == "/"
    assert source.ignore == SOURCE_FILTER and source.doc


MODULE_WIDE = ("hooks", "inputs", "offline", "image_rewrite", "revision", "source_url", "source_date_epoch")


def test_build_arguments_are_optional_except_the_distro():
    parameters = OBJECT.functions["build"].parameters
    assert not parameters["distro"].is_optional
    assert all(parameters[name].is_optional for name in ("platform", "base"))


def test_module_wide_inputs_are_optional_constructor_arguments_with_docs():
    """`dagger call --hooks=./site build --distro=rhel`: given once, before the function."""
    constructor = OBJECT.get_constructor(Helios.__dagger_module__._converter)
    by_api_name = {parameter.name: parameter for parameter in constructor.parameters.values()}
    assert set(by_api_name) == {"source", *MODULE_WIDE}
    for name in MODULE_WIDE:
        assert by_api_name[name].is_optional and by_api_name[name].doc, name
    # The mirror's attribute is `mirror` in Python: `inputs` is also a function of the object.
    assert by_api_name["inputs"].signature.name == "mirror"
    for name, function in OBJECT.functions.items():
        if name == "":  # the constructor itself
            continue
        repeated = set(MODULE_WIDE) & {parameter.name for parameter in function.parameters.values()}
        assert not repeated, f"{name} repeats the constructor's {sorted(repeated)}"


@pytest.mark.real_versions
@pytest.mark.asyncio
async def test_module_plan_matches_the_cli_plan():
    helios = Helios(source=FakeDirectory(REPO))  # type: ignore[arg-type]
    text = await helios.plan("rocky", platform="linux/arm64")
    assert text == plan_table(Planner(LocalTree(REPO)).plan("rhel", "linux/arm64"))


@pytest.mark.asyncio
async def test_module_distros_and_plan_on_a_fixture_tree(make_tree):
    root = make_tree()
    helios = Helios(source=FakeDirectory(root))  # type: ignore[arg-type]
    assert "A child of the fixture distro" in await helios.distros()
    text = await helios.plan("child", platform="linux/amd64", digests=True)
    assert "distros/child/build/system.sh" in text and "DIGEST" in text


@pytest.mark.asyncio
async def test_module_plan_takes_a_users_hooks_tree(make_tree, tmp_path):
    user = tmp_path / "site"
    (user / "common/build/system.d").mkdir(parents=True)
    (user / "common/build/system.d/50-firefox.sh").write_text("#!/bin/sh\n")
    helios = Helios(source=FakeDirectory(make_tree()), hooks=FakeDirectory(user))  # type: ignore[arg-type]
    text = await helios.plan("base", platform="linux/amd64")
    row = next(line.split() for line in text.splitlines() if line.startswith("10.1"))
    assert row == ["10.1", "system", "user", "hooks/common/build/system.d/50-firefox.sh"]


@pytest.mark.asyncio
async def test_user_mistakes_become_clean_function_errors(make_tree):
    from dagger.mod._exceptions import FunctionError

    helios = Helios(source=FakeDirectory(make_tree()))  # type: ignore[arg-type]
    with pytest.raises(FunctionError) as caught:
        await helios.plan("chld", platform="linux/amd64")
    assert "unknown distro 'chld'" in str(caught.value) and "did you mean 'child'" in str(caught.value)
    with pytest.raises(FunctionError, match="unsupported platform"):
        await helios.plan("base", platform="linux/s390x")


def test_the_module_runtime_finds_the_main_object_through_the_entry_point():
    """What the Python runtime does on load: entry point, then the main object named after dagger.json."""
    import json
    import subprocess
    import sys

    name = json.loads((REPO / "dagger.json").read_text())["name"]
    main_object = "".join(part.capitalize() for part in name.replace("_", "-").split("-"))
    code = (
        "from dagger.mod.cli import get_entry_point, load_module\n"
        "print(get_entry_point().value)\n"
        "mod = load_module()\n"
        f"print(sorted(mod.get_object({main_object!r}).functions))\n"
    )
    env = {"DAGGER_MODULE": name, "DAGGER_MAIN_OBJECT": main_object, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    entry, functions = out.stdout.splitlines()
    assert entry == f"pipeline.main:{main_object}"
    assert "build" in functions and "publish_all" in functions


def registered_typedefs(tmp_path: Path) -> dict:
    """The type definitions the module runtime registers for the main object (tests/module_typedefs.py)."""
    import json
    import subprocess
    import sys

    env = {
        "DAGGER_MODULE": "helios",
        "DAGGER_MAIN_OBJECT": "Helios",
        "DAGGER_MODULE_FILE": str(tmp_path / "module.json"),
        "PATH": "/usr/bin:/bin",
    }
    script = str(REPO / "tests/module_typedefs.py")
    out = subprocess.run([sys.executable, script], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout)["objects"]["Helios"]


def test_functions_that_must_act_every_time_are_never_served_from_the_function_cache(tmp_path):
    """publish must push and smoke must probe on every call, even on a warm or shared engine."""
    functions = registered_typedefs(tmp_path)["functions"]
    for name in ("publish", "publish_all", "sign", "smoke"):
        assert functions[name]["cache_policy"] == "Never", f"{name} would be served from the function cache"
    assert functions["build"]["cache_policy"] is None  # builds may be cached (the default policy)


def test_the_runtime_registers_the_module_wide_inputs_on_the_constructor(tmp_path):
    main = registered_typedefs(tmp_path)
    assert main["constructor"]["args"] == ["source", *MODULE_WIDE]
    assert main["functions"]["build"]["args"] == ["distro", "platform", "base"]
    assert main["functions"]["publish_all"]["args"] == [
        "address",
        "distros",
        "channel",
        "platforms",
        "username",
        "password",
        "sbom",
        "cosign_key",
        "cosign_password",
        "oidc_token",
    ]


def test_the_guide_tells_which_edits_invalidate_function_caches():
    """`source` is a content-hashed input of every function, so hook edits change every cache key."""
    import json
    import re

    guide = (REPO / "docs/development.md").read_text()
    section = guide.split("## Developing the module", 1)[1].split("\n## ", 1)[0]
    text = " ".join(section.split())
    assert "never invalidates function caches" not in text
    # The folders the `source` argument keeps reach every function's key through it.
    sentences = re.split(r"(?<=\.) ", text)
    kept = sorted({pattern[1:].split("/")[0] for pattern in SOURCE_FILTER if pattern.startswith("!")})
    claim = next((s for s in sentences if "`source`" in s and "content-hashed" in s), "")
    assert claim, "docs/development.md must say that `source` is a content-hashed input of every function"
    assert all(f"`{folder}/`" in claim for folder in kept), claim
    # Folders out of both the module's source and `source` reach no function cache.
    excluded = {p[1:] for p in json.loads((REPO / "dagger.json").read_text())["include"] if p[0] == "!"}
    unseen = sorted(excluded - set(kept))
    reach_neither = next((s for s in sentences if "reach neither" in s), "")
    assert all(f"`{folder}/`" in reach_neither for folder in unseen), (unseen, reach_neither)
