"""Shipping without an engine: the publish graph, secrets, reproducible metadata, tarballs, the CLI."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from dagger import dag
from typer.testing import CliRunner

from pipeline import graph, shipping
from pipeline.cli import app
from pipeline.families import FAMILIES
from pipeline.plan import Planner
from pipeline.release import Metadata, Target
from pipeline.tree import LocalTree
from tests.dagwalk import Keyer, reachable, selections, source_directory

SECRET_VALUE = "s3cr3t-registry-token-value"
runner = CliRunner()


METADATA = Metadata("1.2.0", "abc", "https://example.org/helios", 981173106)


def images(root, targets, metadata=METADATA):
    planner = Planner(LocalTree(root))
    return shipping.plan_images(planner, graph.Sources(source_directory()), targets, metadata)


BOTH = [Target("base", "linux/amd64"), Target("base", "linux/arm64")]


def platforms_of(container) -> set[str]:
    return {
        str(f.args["platform"])
        for obj in reachable(container)
        for f in selections(obj)
        if f.name == "container" and f.args.get("platform")
    }


def test_the_push_plan_holds_one_variant_per_platform_and_derived_tags(make_tree):
    built = images(make_tree(), [*BOTH, Target("child", "linux/amd64")])
    plan = shipping.push_plan(built, version="1.2.0", tags=None)
    variants, tags = plan["base"]
    assert [platforms_of(v.image) for v in variants] == [{"linux/amd64"}, {"linux/arm64"}]
    assert tags == ["1.2.0-base", "base"]
    assert plan["child"][1] == ["1.2.0-child", "child"]


@pytest.mark.asyncio
async def test_publish_pushes_every_platform_as_one_index_under_each_tag(make_tree, monkeypatch):
    pushed: list[tuple[str, list]] = []

    class FakePusher:
        async def publish(self, address, platform_variants):
            pushed.append((address, platform_variants))
            return f"{address}@sha256:{'a' * 64}"

    async def no_sync(images, progress=None):
        return None

    monkeypatch.setattr(shipping, "publisher", lambda *args: FakePusher())
    monkeypatch.setattr(shipping, "sync_all", no_sync)
    built = images(make_tree(), BOTH)
    shipped = await shipping.publish(
        built, "ghcr.io/org/helios", version="1.2.0", tags=None, username=None, password=None
    )
    assert [address for address, _ in pushed] == ["ghcr.io/org/helios:1.2.0-base", "ghcr.io/org/helios:base"]
    for _, variants in pushed:
        assert [platforms_of(v) for v in variants] == [{"linux/amd64"}, {"linux/arm64"}]
    assert shipped[0] == shipping.Shipped(
        "base", "linux/amd64,linux/arm64", "ghcr.io/org/helios:1.2.0-base", "sha256:" + "a" * 64
    )


def test_the_registry_password_never_appears_in_the_graph_or_labels(make_tree, monkeypatch):
    monkeypatch.setenv("HELIOS_TEST_TOKEN", SECRET_VALUE)
    secret = dag.secret("env://HELIOS_TEST_TOKEN")
    pusher = shipping.publisher("ghcr.io/org/helios", "me", secret)
    auth = next(f for f in selections(pusher) if f.name == "withRegistryAuth")
    assert auth.args["address"] == "ghcr.io/org/helios" and auth.args["username"] == "me"
    root = make_tree()
    rendered = Keyer(LocalTree(root)).key(selections(pusher))
    built = images(root, BOTH)
    rendered += "".join(Keyer(LocalTree(root)).key(selections(b.image)) for b in built)
    assert SECRET_VALUE not in rendered
    assert "env://HELIOS_TEST_TOKEN" in rendered


def test_two_builds_of_one_commit_have_the_same_config_and_labels(make_tree):
    root = make_tree()
    first = [Keyer(LocalTree(root)).key(selections(b.image)) for b in images(root, BOTH)]
    second = [Keyer(LocalTree(root)).key(selections(b.image)) for b in images(root, BOTH)]
    assert first == second
    labels = {
        f.args["name"]: f.args["value"]
        for f in selections(images(root, BOTH)[0].image)
        if f.name == "withLabel"
    }
    assert labels["org.opencontainers.image.created"] == "2001-02-03T04:05:06Z"
    assert labels["org.opencontainers.image.revision"] == "abc"
    assert labels["org.opencontainers.image.version"] == "1.2.0"


def test_copied_files_get_the_source_date_epoch(make_tree):
    image = images(make_tree(), BOTH[:1])[0].image
    copies = [f for f in selections(image) if f.name == "withDirectory"]
    stamps = [[f for f in selections(c.args["source"]) if f.name == "withExec"] for c in copies]
    assert stamps and all(
        execs[-1].args["args"]
        == ["find", graph.STAMPED, "-exec", "touch", "-h", "-d", "@981173106", "{}", "+"]
        for execs in stamps
    ), "every copied folder is stamped, its links' own times included and never followed"
    # Directory.with_timestamps follows links (Dagger 0.21): it failed on step 8's absolute links.
    assert not [f for c in copies for f in selections(c.args["source"]) if f.name == "withTimestamps"]


def test_build_all_returns_one_tarball_per_target(make_tree):
    built = images(make_tree(), [*BOTH, Target("child", "linux/amd64")])
    names = [f.args["path"] for f in selections(shipping.tarballs(built)) if f.name == "withFile"]
    assert names == ["helios-base-amd64.tar", "helios-base-arm64.tar", "helios-child-amd64.tar"]


def test_the_image_records_its_installed_packages(make_tree):
    image = images(make_tree(), BOTH[:1])[0].image
    execs = [f.args["args"] for obj in reachable(image) for f in selections(obj) if f.name == "withExec"]
    recorder = [args for args in execs if graph.PACKAGES_TXT in " ".join(args)]
    assert len(recorder) == 1 and "dpkg-query" in recorder[0][-1]


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="dpkg-query is not installed here")
def test_the_debian_package_query_lists_name_and_version():
    query = FAMILIES["debian"].package_query
    out = subprocess.run(["sh", "-c", f"{query} | LC_ALL=C sort"], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines == sorted(lines) and len(lines) > 10
    assert all(len(line.split(" ")) == 2 for line in lines[:50])


def test_cli_publish_refuses_bad_input_before_anything_runs(make_tree, monkeypatch):
    root = str(make_tree())

    def must_not_run(*args, **kwargs):
        raise AssertionError("the engine must not be reached")

    monkeypatch.setattr("pipeline.cli.run.run_publish", must_not_run)
    cases = [
        (["--address", "ghcr.io/Org/x", "-d", "base"], "not a valid registry address"),
        (["--address", "ghcr.io/org/x:1", "-d", "base"], "holds a tag"),
        (["--address", "ghcr.io/org/x", "-d", "base", "--tag", "bad tag"], "not a valid image tag"),
        (["--address", "ghcr.io/org/x", "--all", "--tag", "edge"], "custom tags were given for 2 distros"),
        (["--address", "ghcr.io/org/x", "-d", "base", "--platform", "linux/s390x"], "unsupported platform"),
        (["--address", "ghcr.io/org/x", "-d", "base", "--username", "me"], "without a password"),
        (
            ["--address", "ghcr.io/org/x", "-d", "base", "--username", "me", "--password-env", "NOPE_UNSET"],
            "--password-env names is not set",
        ),
        (["--address", "ghcr.io/org/x"], "no distro chosen"),
        (["--address", "ghcr.io/org/x", "--all", "-d", "base"], "--all and --distro"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["publish", *args, "--root", root])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.output


def test_cli_publish_passes_the_secret_by_name_and_prints_a_summary(make_tree, monkeypatch):
    monkeypatch.setenv("REGISTRY_TOKEN", SECRET_VALUE)
    calls = {}

    def fake_publish(job, destination):
        calls.update(destination=destination, targets=job.targets)
        return [
            shipping.Shipped("base", "linux/amd64,linux/arm64", "ghcr.io/org/x:base", "sha256:" + "b" * 64)
        ]

    monkeypatch.setattr("pipeline.cli.run.run_publish", fake_publish)
    result = runner.invoke(
        app,
        ["publish", "--address", "ghcr.io/org/x", "-d", "fixture", "--username", "me",
         "--password-env", "REGISTRY_TOKEN", "--root", str(make_tree())],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert calls["destination"].password_env == "REGISTRY_TOKEN" and calls["destination"].username == "me"
    assert [(t.distro, t.platform) for t in calls["targets"]] == [
        ("base", "linux/amd64"),
        ("base", "linux/arm64"),
    ]
    assert "ghcr.io/org/x:base" in result.stdout and "sha256:" + "b" * 64 in result.stdout
    assert SECRET_VALUE not in result.output


def test_cli_build_exports_into_a_folder_it_makes_once_the_build_succeeded(make_tree, tmp_path, monkeypatch):
    """README's `helios build --all --export images/` works as written: images/ need not exist."""
    import contextlib

    import dagger

    from pipeline.cli import run as cli_run

    made: list[bool] = []

    @contextlib.asynccontextmanager
    async def no_engine(config=None):
        yield None

    async def synced(self):
        made.append((tmp_path / "images").exists())  # the folder is not made before the build
        return self

    async def exported(self, path, **kwargs):
        Path(path).write_bytes(b"an OCI tarball")
        return path

    monkeypatch.setattr(cli_run.dagger, "connection", no_engine)
    monkeypatch.setattr(dagger.Container, "sync", synced)
    monkeypatch.setattr(dagger.Container, "export", exported)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["build", "--all", "--export", "images/", "--root", str(make_tree())])
    assert result.exit_code == 0, result.output
    assert made and not any(made)
    tarballs = sorted(p.name for p in (tmp_path / "images").iterdir())
    assert tarballs == sorted(f"helios-{d}-{a}.tar" for d in ("base", "child") for a in [host_arch()])
    one = runner.invoke(app, ["build", "-d", "base", "--export", "one/", "--root", str(make_tree(name="t2"))])
    assert one.exit_code == 0 and (tmp_path / "one" / f"helios-base-{host_arch()}.tar").is_file(), one.output


def host_arch() -> str:
    from pipeline.platforms import arch_of, host_default

    return arch_of(host_default())


@pytest.mark.parametrize(
    ("export", "message"),
    [
        ("a-file", "--export {tmp}/a-file is not a folder, and 2 image(s) are written into one"),
        ("no/such/folder/", "--export {tmp}/no/such/folder/: {tmp}/no/such is not a folder"),
        ("a-file/x.tar", "--export {tmp}/a-file/x.tar: {tmp}/a-file is not a folder"),
    ],
)
def test_cli_build_refuses_an_export_it_could_not_write_before_building(
    make_tree, tmp_path, no_engine, export, message
):
    (tmp_path / "a-file").write_text("x")
    args = ["--all"] if not export.endswith(".tar") else ["-d", "base"]
    result = runner.invoke(
        app, ["build", *args, "--export", f"{tmp_path}/{export}", "--root", str(make_tree())]
    )
    assert result.exit_code == 2, result.output
    assert f"error: {message.format(tmp=tmp_path)}" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "tree"]


@pytest.mark.asyncio
async def test_sync_all_reports_every_failure_with_its_target(make_tree, monkeypatch):
    from pipeline.errors import HeliosError

    async def failing(built):
        platform = built.target.platform
        raise HeliosError(f"step 5 (kasm · xorg) failed for {platform}", hint=f"fix xorg.sh for {platform}")

    monkeypatch.setattr(shipping, "sync_one", failing)
    built = images(make_tree(), BOTH)
    with pytest.raises(HeliosError) as caught:
        await shipping.sync_all(built)
    assert str(caught.value).startswith("2 of 2 images failed:")
    assert "base (linux/amd64): step 5 (kasm · xorg) failed for linux/amd64" in str(caught.value)
    assert "base (linux/arm64)" in str(caught.value)
    # Each image keeps its own hint, in target order, and the failure is a build's (exit code 1).
    assert [(p.message, p.hint) for p in caught.value.problems] == [
        ("base (linux/amd64): step 5 (kasm · xorg) failed for linux/amd64", "fix xorg.sh for linux/amd64"),
        ("base (linux/arm64): step 5 (kasm · xorg) failed for linux/arm64", "fix xorg.sh for linux/arm64"),
    ]
    assert caught.value.exit_code == 1
    with pytest.raises(HeliosError) as single:
        await shipping.sync_all(built[:1])
    assert single.value.message == "step 5 (kasm · xorg) failed for linux/amd64"


def test_cli_publish_plans_each_target_once_and_checks_the_address_once(make_tree, monkeypatch):
    """Every target is planned, and the address checked, once per publish: before the engine starts.

    The tree check before it (the checks of `helios validate`) plans every distro with a planner of
    its own; no planner plans the same target twice.
    """
    import collections
    import contextlib
    import sys

    import dagger

    from pipeline import release
    from pipeline.cli import run as cli_run
    from pipeline.plan import Planner

    counts = {"check_address": 0}
    plans: collections.Counter[tuple[int, str, str]] = collections.Counter()
    plan, check_address = Planner.plan, release.check_address

    def counted_plan(self, distro, platform, **kwargs):
        plans[(id(self), distro, platform)] += 1
        return plan(self, distro, platform, **kwargs)

    def counted_check(address):
        counts["check_address"] += 1
        return check_address(address)

    monkeypatch.setattr(Planner, "plan", counted_plan)
    for module in [m for name, m in sys.modules.items() if name.startswith("pipeline")]:
        if getattr(module, "check_address", None) is check_address:  # wherever it was imported to
            monkeypatch.setattr(module, "check_address", counted_check)

    @contextlib.asynccontextmanager
    async def no_engine(config=None):
        yield None

    async def synced(self):
        return self

    async def pushed(self, address, **kwargs):
        return f"{address}@sha256:{'c' * 64}"

    monkeypatch.setattr(cli_run.dagger, "connection", no_engine)
    monkeypatch.setattr(dagger.Container, "sync", synced)
    monkeypatch.setattr(dagger.Container, "publish", pushed)
    result = runner.invoke(
        app, ["publish", "--address", "ghcr.io/org/x", "-d", "base", "--no-sbom", "--root", str(make_tree())]
    )
    assert result.exit_code == 0, result.output
    assert "ghcr.io/org/x:base" in result.stdout
    assert counts == {"check_address": 1}
    assert set(plans.values()) == {1}, plans
    by_planner = collections.defaultdict(set)
    for planner, distro, platform in plans:
        by_planner[planner].add((distro, platform))
    assert {("base", "linux/amd64"), ("base", "linux/arm64")} in by_planner.values()  # the job's targets
