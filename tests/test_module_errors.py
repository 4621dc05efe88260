"""Engine errors that no hook caused reach the user as one clean line with a hint, module and CLI alike.

The fakes are the SDK's own exceptions, made the way dagger-io makes them: the GraphQL transport
raises gql's TransportQueryError with the engine's error list, and dagger-io turns it into a
QueryError (or, for an `EXEC_ERROR` extension, an ExecError) with `_query_error_from_transport`
(dagger/_exceptions.py, called from dagger/client/_core.py `Context.execute`).
"""

from __future__ import annotations

import contextlib

import dagger
import pytest
from dagger.mod._exceptions import FunctionError
from typer.testing import CliRunner

from pipeline import shipping
from pipeline.cli import app, run
from pipeline.errors import HeliosError
from pipeline.failure import ENGINE_HINT
from pipeline.graph import HOOKS_MOUNT, Sources
from pipeline.plan import Planner
from pipeline.release import Metadata
from pipeline.tree import LocalTree
from tests.helpers import engine_error, module_on

MISSING_BASE = "registry.example/nosuch:1"
# The engine's words when `from` cannot resolve an image (as its CLI prints them).
PULL_FAILED = (
    f'failed to resolve image "{MISSING_BASE}" (platform: "linux/amd64"): failed to resolve source '
    f"metadata for {MISSING_BASE}: {MISSING_BASE}: not found"
)


def failing_sync(error: dagger.QueryError):
    async def sync(self):
        raise error

    return sync


def test_the_fake_is_what_the_sdk_makes():
    error = engine_error(PULL_FAILED, path=["container", "from", "sync"])
    assert type(error) is dagger.QueryError and str(error) == PULL_FAILED
    exec_error = engine_error(
        "process did not complete successfully: exit code: 2",
        path=["container", "withExec", "sync"],
        extensions={"_type": "EXEC_ERROR", "cmd": ["sh", "-c", "exit 2"], "exitCode": 2, "stdout": "",
                    "stderr": "boom"},
    )  # fmt: skip
    assert isinstance(exec_error, dagger.ExecError) and exec_error.command == ["sh", "-c", "exit 2"]


@pytest.mark.asyncio
async def test_a_base_image_that_does_not_exist_is_one_line_with_a_hint_in_the_module(make_tree, monkeypatch):
    monkeypatch.setattr(dagger.Container, "sync", failing_sync(engine_error(PULL_FAILED, path=["sync"])))
    helios = module_on(make_tree(), monkeypatch)
    with pytest.raises(FunctionError) as caught:
        await helios.build("base", platform="linux/amd64", base=MISSING_BASE)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"building base for linux/amd64 failed in the Dagger engine: {PULL_FAILED}")
    assert f"(hint: check that the base image {MISSING_BASE} exists for linux/amd64" in text
    assert caught.value.__suppress_context__  # no chained engine traceback


@pytest.mark.asyncio
async def test_build_all_reports_each_image_instead_of_an_exception_group(make_tree, monkeypatch):
    monkeypatch.setattr(dagger.Container, "sync", failing_sync(engine_error(PULL_FAILED, path=["sync"])))
    helios = module_on(make_tree(), monkeypatch)
    with pytest.raises(FunctionError) as caught:
        await helios.build_all(distros=["base"], platforms=["linux/amd64", "linux/arm64"])
    text = str(caught.value)
    assert text.startswith("2 of 2 images failed:")
    assert "base (linux/arm64): building base for linux/arm64 failed in the Dagger engine" in text
    # Each image keeps its own hint, on its own line.
    lines = text.splitlines()[1:]
    assert [line.split(":", 1)[0] for line in lines] == ["base (linux/amd64)", "base (linux/arm64)"]
    assert all(line.endswith(f"(hint: {ENGINE_HINT})") for line in lines), lines


@pytest.mark.asyncio
async def test_an_engine_error_outside_a_build_is_one_line_with_a_hint(make_tree, monkeypatch):
    async def synced(self):
        return self

    async def refused(self, address, **kwargs):
        raise engine_error(f"failed to push {address}: unauthorized: authentication required\ndetails",
                           path=["container", "publish"])  # fmt: skip

    monkeypatch.setattr(dagger.Container, "sync", synced)
    monkeypatch.setattr(dagger.Container, "publish", refused)
    helios = module_on(make_tree(), monkeypatch)
    with pytest.raises(FunctionError) as caught:
        await helios.publish("base", "ghcr.io/org/helios", platforms=["linux/amd64"])
    text = str(caught.value)
    assert text.startswith("the Dagger engine failed: failed to push ghcr.io/org/helios:")
    assert "unauthorized: authentication required (hint: " in text and "\n" not in text


@pytest.mark.asyncio
async def test_a_failed_hook_is_still_reported_by_its_step(make_tree, monkeypatch):
    plan = Planner(LocalTree(make_tree())).plan("base", "linux/amd64")
    (built,) = shipping.images_of([plan], Sources(dagger.dag.directory()), Metadata("1", "", "", 0))
    command = f"{HOOKS_MOUNT}/{built.plan.step(5).runs[0].mounted}"
    failed = engine_error(
        "process did not complete successfully: exit code: 3", path=["sync"],
        extensions={"_type": "EXEC_ERROR", "cmd": [command], "exitCode": 3, "stdout": "", "stderr": "no xorg"},
    )  # fmt: skip
    monkeypatch.setattr(dagger.Container, "sync", failing_sync(failed))
    with pytest.raises(HeliosError) as caught:
        await shipping.sync_one(built)
    assert caught.value.message.startswith("step 5 (kasm · ")
    assert "exited with code 3" in caught.value.message and "| no xorg" in caught.value.message


def test_the_cli_reports_an_engine_error_as_one_line_with_a_hint(make_tree, monkeypatch, tmp_path):
    @contextlib.asynccontextmanager
    async def no_engine(config=None):
        yield None

    monkeypatch.setattr(run.dagger, "connection", no_engine)
    monkeypatch.setattr(dagger.Container, "sync", failing_sync(engine_error(PULL_FAILED, path=["sync"])))
    root = make_tree()
    result = CliRunner().invoke(
        app, ["build", "-d", "base", "--platform", "linux/amd64", "--base", MISSING_BASE, "--root", str(root)]
    )
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == [f"error: building base for linux/amd64 failed in the Dagger engine: {PULL_FAILED}"]
    assert f"hint: check that the base image {MISSING_BASE} exists for linux/amd64" in result.stderr
    assert "Traceback" not in result.output


def test_the_cli_keeps_each_images_hint_when_several_fail(make_tree, monkeypatch):
    @contextlib.asynccontextmanager
    async def no_engine(config=None):
        yield None

    monkeypatch.setattr(run.dagger, "connection", no_engine)
    monkeypatch.setattr(dagger.Container, "sync", failing_sync(engine_error(PULL_FAILED, path=["sync"])))
    result = CliRunner().invoke(
        app,
        ["build", "-d", "base", "--platform", "linux/amd64", "--platform", "linux/arm64",
         "--base", MISSING_BASE, "--root", str(make_tree())],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    reports = [line for line in lines if line.startswith(("error: ", "hint: "))]
    assert reports == [
        f"error: base ({platform}): building base for {platform} failed in the Dagger engine: {PULL_FAILED}"
        if kind == "error"
        else f"hint: check that the base image {MISSING_BASE} exists for {platform} and the engine can pull "
        "it (it comes from --base or from `base` in the distro's distro.toml)"
        for platform in ("linux/amd64", "linux/arm64")
        for kind in ("error", "hint")
    ]
    assert lines[-1] == "2 of 2 images failed"
    assert "Traceback" not in result.output
