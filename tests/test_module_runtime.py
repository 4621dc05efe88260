"""The Dagger Python runtime's own install of this module, replayed step by step without an engine.

What the engine's Python runtime does on every load of a module without uv.lock but with
requirements.lock (dagger/dagger sdk/python/runtime at the engine's tag: main.go `WithSDK`,
`WithUpdates`, `WithInstall`; discovery.go), with the uv version that runtime pins:

1. copy the engine's own SDK into `sdk/`. That copy is stamped `version = "0.0.0"` (only the builds
   published to PyPI carry a real version), and it keeps the `codegen/` workspace member;
2. `uv pip compile -q --universal -o requirements.lock pyproject.toml sdk/pyproject.toml`;
3. `uv pip install -e ./sdk -e . --no-deps -r requirements.lock` (with UV_COMPILE_BYTECODE=1);
4. `uv pip check`;
5. load the main object through the `dagger.mod` entry point and register its type definitions.

Here `sdk/` is rebuilt from the PyPI source release of the engine's version (checksum-pinned),
re-stamped 0.0.0. Two stand-ins, both outside what the install reads: the release leaves out
`codegen/`, so an empty package of that name completes the workspace (only the SDK's dev group names
it, and the runtime never installs dev groups); and the runtime regenerates `gen.py` from the engine's
schema, which for the engine's own version is the release's `gen.py`. Downloads go through pip and uv
with their usual caches, so a warm run takes seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.network

# The uv the engine's Python runtime pins (sdk/python/runtime/images/uv/Dockerfile at the engine's tag).
RUNTIME_UV_VERSION = "0.10.3"
# sha256 of the PyPI source release dagger_io-<version>.tar.gz, per engine version we target.
DAGGER_IO_SDIST_SHA256 = {
    "0.21.8": "f0d2791b748d0157245d33ab30ad636918d7a619f064a08088a1cbeb7ff456e5",
}
# What the runtime takes of the SDK source (the +ignore list of its `sdkSourceDir` argument).
SDK_FILES = ("pyproject.toml", "uv.lock", "LICENSE", "README.md")
SDK_SUFFIXES = (".py", ".typed")
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "helios-tests" / "module-runtime"
NETWORK_ERRORS = re.compile(r"Failed to fetch|dns error|Could not connect|error sending request|timed out")


def engine_version() -> str:
    return json.loads((REPO / "dagger.json").read_text())["engineVersion"].removeprefix("v")


def module_name() -> str:
    return json.loads((REPO / "dagger.json").read_text())["name"]


def uv_binary() -> str:
    try:
        from uv import find_uv_bin
    except ImportError:
        pytest.fail(
            f"uv {RUNTIME_UV_VERSION} is missing: install the dev group (pip install -e '.[cli]' --group dev)"
        )
    uv = find_uv_bin()
    version = subprocess.run([uv, "--version"], capture_output=True, text=True, check=True).stdout.split()[1]
    assert version == RUNTIME_UV_VERSION, (
        f"uv {version} installed; the module runtime uses {RUNTIME_UV_VERSION}"
    )
    return uv


def sdk_release(version: str) -> Path:
    """The verified PyPI source release of dagger-io ``version`` (downloaded once, then cached)."""
    wanted = DAGGER_IO_SDIST_SHA256.get(version)
    assert wanted, f"dagger.json targets engine {version}: add the sha256 of dagger_io-{version}.tar.gz here"
    sdist = CACHE / f"dagger_io-{version}.tar.gz"
    if not sdist.exists():
        download = CACHE / "download"
        shutil.rmtree(download, ignore_errors=True)
        got = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", "dagger-io",
             "-d", str(download), f"dagger-io=={version}"],
            capture_output=True, text=True,
        )  # fmt: skip
        if got.returncode != 0:
            pytest.skip(
                f"cannot download dagger-io {version} from the package index: {got.stderr.strip()[-300:]}"
            )
        (downloaded,) = download.glob("dagger_io-*.tar.gz")
        downloaded.replace(sdist)
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != wanted:
        sdist.unlink()
        pytest.fail(f"{sdist.name} has sha256 {digest}, expected {wanted}")
    return sdist


def vendor_sdk(sdist: Path, version: str, dest: Path) -> None:
    """sdk/ as the engine's copy looks: the runtime's file selection, version 0.0.0, codegen/ member."""
    prefix = f"dagger_io-{version}/"
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            path = member.name.removeprefix(prefix)
            wanted = path in SDK_FILES or (path.startswith("src/") and path.endswith(SDK_SUFFIXES))
            if member.isfile() and wanted:
                target = dest / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(member).read())  # type: ignore[union-attr]
    project = dest / "pyproject.toml"
    stamped, count = re.subn(r'(?m)^version = ".*"$', 'version = "0.0.0"', project.read_text(), count=1)
    assert count == 1, "the SDK's pyproject.toml has no version line to re-stamp"
    project.write_text(stamped)
    codegen = dest / "codegen"
    (codegen / "src/codegen").mkdir(parents=True)
    (codegen / "src/codegen/__init__.py").write_text("")
    (codegen / "pyproject.toml").write_text('[project]\nname = "codegen"\nversion = "0.0.0"\n')


def module_source(dest: Path) -> None:
    """The module's context as the engine loads it: the checkout minus dagger.json's `!` excludes."""
    excluded = {
        p[1:] for p in json.loads((REPO / "dagger.json").read_text()).get("include", []) if p[0] == "!"
    }
    git = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    if git.returncode != 0:  # the engine, too, reads the context through git's ignore rules
        pytest.skip(f"the module context is taken from a git checkout: {git.stderr.strip()}")
    listed = git.stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if name.split("/")[0] in excluded or not source.is_file():
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    # The runtime deletes these from the uploaded source before it vendors its own SDK.
    for stale in ("sdk", ".venv"):
        shutil.rmtree(dest / stale, ignore_errors=True)


def pins(lock: str) -> set[str]:
    return {
        line.split(";")[0].strip() for line in lock.splitlines() if "==" in line and not line.startswith("#")
    }


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """A module context and a fresh Python, prepared the way the runtime prepares its container."""
    uv = uv_binary()
    version = engine_version()
    sdist = sdk_release(version)
    root = tmp_path_factory.mktemp("module-runtime")
    context = root / "src"
    module_source(context)
    vendor_sdk(sdist, version, context / "sdk")
    venv = root / "venv"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    env = {
        **os.environ,
        "VIRTUAL_ENV": str(venv),  # stands for the runtime image's own Python (UV_SYSTEM_PYTHON=1)
        "UV_LINK_MODE": "copy",
        "DAGGER_MODULE": module_name(),
        "DAGGER_MAIN_OBJECT": "".join(p.capitalize() for p in re.split(r"[-_]", module_name())),
        "DAGGER_DEFAULT_PYTHON_PACKAGE": project["name"].replace("-", "_"),
        "DAGGER_MODULE_FILE": str(root / "module.json"),
    }
    for name in ("UV_SYSTEM_PYTHON", "PYTHONPATH", "PYTHONHOME", "UV_PYTHON"):
        env.pop(name, None)

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=context, env={**env, **extra}, capture_output=True, text=True)

    # Step 2: the runtime refreshes requirements.lock against the vendored SDK.
    compiled = run(uv, "pip", "compile", "-q", "--universal", "-o", "requirements.lock",
                   "pyproject.toml", "sdk/pyproject.toml")  # fmt: skip
    if compiled.returncode != 0 and NETWORK_ERRORS.search(compiled.stderr):
        pytest.skip(f"the package index is unreachable: {compiled.stderr.strip()[-300:]}")
    assert compiled.returncode == 0, compiled.stderr
    return uv, context, venv, run


def test_the_committed_lock_is_what_the_runtime_resolves(runtime):
    _, context, _, _ = runtime
    lock = (context / "requirements.lock").read_text()
    assert "-e sdk" in lock.splitlines(), "the runtime's lock must take dagger-io from the vendored sdk/"
    assert pins(lock) == pins((REPO / "requirements.lock").read_text()), (
        "requirements.lock is not what the runtime resolves; regenerate it (see its header)"
    )


def test_the_module_installs_and_registers_in_the_engines_python_runtime(runtime):
    uv, _, venv, run = runtime
    installed = run(uv, "pip", "install", "-e", "./sdk", "-e", ".", "--no-deps", "-r", "requirements.lock",
                    UV_COMPILE_BYTECODE="1")  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    assert "dagger-io==0.0.0" in installed.stderr, "the vendored SDK (0.0.0) must be the one installed"

    checked = run(uv, "pip", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    registered = run(str(venv / "bin/python"), str(REPO / "tests/module_typedefs.py"))
    assert registered.returncode == 0, registered.stderr
    main = json.loads(registered.stdout)["objects"]["Helios"]
    assert main["constructor"]["args"] == [
        "source", "hooks", "inputs", "offline", "image_rewrite", "revision", "source_url", "source_date_epoch"
    ]  # fmt: skip
    assert {"build", "publish", "publish_all", "smoke"} <= set(main["functions"])
