"""Hostile or mistaken input to the CLI and the module: labels, secrets, epochs, hook trees, image names.

Every refusal is one line (exit code 2 in the CLI, a FunctionError in the module), never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import dagger
import pytest
from dagger.mod._exceptions import FunctionError
from typer.testing import CliRunner

from pipeline import release
from pipeline.cli import app, run
from pipeline.plan import Planner
from pipeline.tree import LocalTree
from tests.conftest import BASE_DISTRO, FIXTURE_FILES, write_files
from tests.test_cli import assert_user_error
from tests.test_module_errors import module_on

TOKEN = "glcbt-64_S3cr3tJobT0ken"
CI_REMOTE = f"https://gitlab-ci-token:{TOKEN}@gitlab.example.com/group/helios.git"
SOURCE_LABEL = "org.opencontainers.image.source"


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def recorded_labels(monkeypatch):
    """Labels the image gets, recorded on the way to the real ``with_label``; sync needs no engine."""
    labels: dict[str, str] = {}
    with_label = dagger.Container.with_label

    def record(self, name, value):
        labels[name] = value
        return with_label(self, name, value)

    async def synced(self):
        return self

    @contextlib.asynccontextmanager
    async def no_engine(config=None):
        yield None

    monkeypatch.setattr(dagger.Container, "with_label", record)
    monkeypatch.setattr(dagger.Container, "sync", synced)
    monkeypatch.setattr(run.dagger, "connection", no_engine)
    return labels


@pytest.mark.parametrize(
    ("remote", "label"),
    [
        (CI_REMOTE, "https://gitlab.example.com/group/helios.git"),
        (f"https://x-access-token:{TOKEN}@github.com/org/helios", "https://github.com/org/helios"),
        (f"https://{TOKEN}@git.example.org/org/helios.git?private_token={TOKEN}#x", "https://git.example.org/org/helios.git"),
        (f"ssh://{TOKEN}@git.example.org:2222/org/helios.git", "ssh://git.example.org:2222/org/helios.git"),
        (f"{TOKEN}@git.example.org:org/helios.git", "git.example.org:org/helios.git"),
        ("https://git.example.org/@scope/helios", "https://git.example.org/@scope/helios"),
        ("/srv/git/helios.git", "/srv/git/helios.git"),
    ],
)  # fmt: skip
def test_user_info_never_reaches_a_url_for_a_label(remote, label):
    assert release.public_url(remote) == label


def test_the_cli_strips_a_ci_job_token_from_the_remote_before_the_label(make_tree, recorded_labels):
    root = make_tree()
    for args in (["init", "-q"], ["remote", "add", "origin", CI_REMOTE]):
        subprocess.run(["git", "-C", str(root), *args], check=True)
    result = invoke("build", "-d", "base", "--platform", "linux/amd64", "--root", str(root))
    assert result.exit_code == 0, result.output
    assert recorded_labels[SOURCE_LABEL] == "https://gitlab.example.com/group/helios.git"
    assert all(TOKEN not in value for value in recorded_labels.values())


@pytest.mark.asyncio
async def test_the_module_strips_user_info_from_source_url(make_tree, monkeypatch, recorded_labels):
    helios = module_on(make_tree(), monkeypatch, source_url=CI_REMOTE)
    await helios.build("base", platform="linux/amd64")
    assert recorded_labels[SOURCE_LABEL] == "https://gitlab.example.com/group/helios.git"


@pytest.mark.parametrize("given", ["ghp_R3alT0kenPastedByMistake", "p@ss w0rd!", "S3CR3T"])
def test_password_env_never_echoes_its_value(make_tree, monkeypatch, given):
    monkeypatch.delenv(given, raising=False)
    result = invoke(
        "publish", "--address", "ghcr.io/org/helios", "-d", "base", "--username", "bot",
        "--password-env", given, "--root", str(make_tree()),
    )  # fmt: skip
    assert_user_error(result, "--password-env", "not shown")
    assert given not in result.output


@pytest.mark.parametrize(
    ("epoch", "message"),
    [
        ("²", "is not a Unix time"),
        ("١٢٣", "is not a Unix time"),
        ("99999999999999", "outside 0..253402300799"),
    ],
)
def test_a_bad_source_date_epoch_is_one_line_before_the_engine(
    make_tree, recorded_labels, monkeypatch, epoch, message
):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    result = invoke("build", "-d", "base", "--platform", "linux/amd64", "--root", str(make_tree()))
    assert_user_error(result, "SOURCE_DATE_EPOCH", message)
    assert not recorded_labels  # refused before any image was made


def test_the_last_label_second_is_accepted(make_tree, recorded_labels, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "253402300799")
    result = invoke("build", "-d", "base", "--platform", "linux/amd64", "--root", str(make_tree()))
    assert result.exit_code == 0, result.output
    assert recorded_labels["org.opencontainers.image.created"] == "9999-12-31T23:59:59Z"


@pytest.mark.asyncio
@pytest.mark.parametrize("epoch", [-1, 10**15])
async def test_the_module_refuses_an_epoch_a_label_cannot_hold_in_one_line(
    make_tree, monkeypatch, recorded_labels, epoch
):
    helios = module_on(make_tree(), monkeypatch, source_date_epoch=epoch)
    with pytest.raises(FunctionError) as caught:
        await helios.build("base", platform="linux/amd64")
    assert f"SOURCE_DATE_EPOCH {epoch} is outside 0..253402300799" in str(caught.value)
    assert "\n" not in str(caught.value)


BAD_REFERENCES = [
    ("https://ghcr.io/org/img:1", "URL scheme"),
    ("Alma/Linux:9", "lower-case components"),
    ("almalinux:9.6:extra", "lower-case components"),
    ("almalinux:.9", "the tag '.9'"),
    ("almalinux@sha256:abc", "64 lower-case hex digits"),
    ("almalinux@9.6", "is not algorithm:hex"),
    ("a" * 256, "longer than 255"),
    ("alma\x1b[31mlinux", "control characters"),
]


@pytest.mark.parametrize(("ref", "message"), BAD_REFERENCES)
def test_base_option_must_be_an_image_reference(make_tree, recorded_labels, ref, message):
    result = invoke(
        "build", "-d", "base", "--platform", "linux/amd64", "--base", ref, "--root", str(make_tree())
    )
    assert_user_error(result, "--base", "is not an image reference", message, "hint: pass an image reference")
    assert not recorded_labels


@pytest.mark.parametrize(("ref", "message"), BAD_REFERENCES[:3])
def test_distro_base_must_be_an_image_reference_before_the_engine(make_tree, recorded_labels, ref, message):
    root = make_tree(
        {"distros/base/distro.toml": BASE_DISTRO.replace('base = "debian:13.2"', f"base = {ref!r}")}
    )
    result = invoke("build", "-d", "base", "--platform", "linux/amd64", "--root", str(root))
    assert_user_error(result, "distro base: base =", message, "distros/base/distro.toml")
    assert not recorded_labels
    validated = invoke("validate", "--root", str(root))
    assert validated.exit_code == 2 and "is not an image reference" in validated.stderr


@pytest.mark.parametrize(
    "ref",
    [
        "almalinux:9.6",
        "kalilinux/kali-rolling:latest",
        "localhost:5000/helios/base:1",
        "[::1]:5000/base",
        "Registry.Example:443/a__b/c-d---e.f:V1_2",
        "docker.io/library/node:22.22.2-bookworm@sha256:" + "ab" * 32,
    ],
)
def test_valid_base_references_pass(make_tree, ref):
    planner = Planner(LocalTree(make_tree()))
    assert planner.plan("base", "linux/amd64", base=f" {ref} ").base == ref


@pytest.mark.asyncio
async def test_the_module_refuses_a_bad_base_in_one_line(make_tree, monkeypatch, recorded_labels):
    helios = module_on(make_tree(), monkeypatch)
    with pytest.raises(FunctionError) as caught:
        await helios.build("base", platform="linux/amd64", base="https://example.org/x")
    assert "--base 'https://example.org/x' is not an image reference" in str(caught.value)
    assert not recorded_labels


def hooks_tree(tmp_path, outside_link: str | None = None, odd_name: bytes | None = None):
    """A user's hooks tree replacing step 3's hook, with a link or an oddly named file added."""
    hooks = tmp_path / "site"
    (hooks / "common" / "build").mkdir(parents=True)
    (hooks / "common" / "root" / "etc").mkdir(parents=True)
    (hooks / "common" / "build" / "turbo.sh").write_text("#!/bin/sh\necho mine\n")
    (hooks / "common" / "root" / "etc" / "inside").symlink_to("../../build/turbo.sh")  # allowed
    if outside_link is not None:
        (tmp_path / "secret.sh").write_text("#!/bin/sh\necho outside\n")
        (hooks / "common" / "root" / "etc" / "motd").symlink_to(outside_link)
    if odd_name is not None:
        (hooks / "common" / "root" / "etc" / os.fsdecode(odd_name)).write_bytes(b"x")
    return hooks


@pytest.mark.parametrize(
    ("link", "odd", "message"),
    [
        (
            "../../../../secret.sh",
            None,
            "common/root/etc/motd is a symlink to '../../../../secret.sh', outside",
        ),
        ("{tmp}/secret.sh", None, "common/root/etc/motd is a symlink to '{tmp}/secret.sh', outside"),
        ("/etc/shadow", None, "is a symlink to '/etc/shadow', outside the tree"),
        (None, b"motd\x1b[2J", "common/root/etc/motd\\x1b[2J': the name holds control characters"),
        (None, b"line\nbreak", "the name holds control characters"),
        (None, b"caf\xe9", "the name is not valid UTF-8"),
    ],
)
def test_hooks_trees_refuse_outside_links_and_odd_names(
    make_tree, tmp_path, recorded_labels, link, odd, message
):
    message = message.format(tmp=tmp_path)
    hooks = hooks_tree(tmp_path, link and link.format(tmp=tmp_path), odd)
    root = str(make_tree())
    validated = invoke("validate", "--root", root, "--hooks", str(hooks))
    assert validated.exit_code == 2, validated.output
    assert message in validated.stderr and "1 problem(s) found" in validated.stderr
    for command in (["build", "-d", "base", "--platform", "linux/amd64"], ["plan", "-d", "base"]):
        result = invoke(*command, "--root", root, "--hooks", str(hooks))
        assert_user_error(result, message, "hint: ")
        assert len(result.stderr.splitlines()) == 2  # one error, one hint
    assert not recorded_labels  # refused before any image was made


def test_links_inside_a_hooks_tree_are_fine(make_tree, tmp_path):
    result = invoke("validate", "--root", str(make_tree()), "--hooks", str(hooks_tree(tmp_path)))
    assert result.exit_code == 0, result.output


def test_a_build_lists_every_problem_validate_lists(make_tree, tmp_path):
    hooks = hooks_tree(tmp_path, "/opt", b"tab\there")  # a linked folder, and a name with a tab
    root = str(make_tree())
    result = invoke("build", "-d", "base", "--root", root, "--hooks", str(hooks))
    assert_user_error(result, "motd is a symlink to '/opt'", "etc/tab\\there': the name holds control")
    assert "\t" not in result.stderr
    validated = invoke("validate", "--root", root, "--hooks", str(hooks))
    assert result.stderr == validated.stderr  # the same checks, reported the same way


@pytest.fixture
def shared_dir():
    """A folder an unprivileged user can reach (pytest's own tmp_path is private to its owner)."""
    folder = Path(tempfile.mkdtemp(prefix="helios-unreadable-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def unprivileged():
    """Run as nobody when the tests run as root, who could read a mode 000 file anyway."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.mark.parametrize(
    ("unreadable", "command"),
    [
        ("common/build/turbo.sh", ["validate"]),
        ("common/build/turbo.sh", ["plan", "-d", "base"]),
        ("common/build/turbo.sh", ["build", "-d", "base", "--platform", "linux/amd64"]),
        ("distros/base/distro.toml", ["validate"]),
        ("distros/base/distro.toml", ["plan", "-d", "base"]),
        ("common/root/etc", ["validate"]),
        ("common/root/etc", ["build", "-d", "base", "--platform", "linux/amd64"]),
    ],
)
def test_an_unreadable_file_in_hooks_is_one_line(shared_dir, recorded_labels, unreadable, command):
    root = write_files(shared_dir / "repo", FIXTURE_FILES)
    hooks = write_files(
        shared_dir / "site",
        {
            "common/build/turbo.sh": "#!/bin/sh\n",
            "common/root/etc/motd": "hello\n",
            "distros/base/distro.toml": BASE_DISTRO,
        },
    )
    readable = invoke(*command, "--root", str(root), "--hooks", str(hooks))  # and imports all it needs
    assert readable.exit_code == 0, readable.output
    recorded_labels.clear()
    (hooks / unreadable).chmod(0)
    with unprivileged():
        result = invoke(*command, "--root", str(root), "--hooks", str(hooks))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr  # found by both walks, reported once
    assert errors[0].startswith(f"error: cannot read {hooks}/{unreadable}: Permission denied")
    assert not recorded_labels


def test_a_distro_toml_that_is_not_utf8_is_one_line(make_tree, tmp_path):
    hooks = write_files(tmp_path / "site", {"distros/base/distro.toml": ""})
    (hooks / "distros/base/distro.toml").write_bytes(b'description = "caf\xe9"\n')
    for command in (["validate"], ["plan", "-d", "base"]):
        result = invoke(*command, "--root", str(make_tree()), "--hooks", str(hooks))
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert (
            f"{hooks}/distros/base/distro.toml is not valid TOML: 'utf-8' codec can't decode" in result.stderr
        )
