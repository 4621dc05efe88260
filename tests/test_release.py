"""Release rules without an engine: addresses, tags, the distro x platform matrix, credentials, epochs."""

from __future__ import annotations

import subprocess

import pytest

from pipeline.catalogue import Catalogue
from pipeline.cli.sourceinfo import source_info
from pipeline.errors import HeliosError
from pipeline.release import (
    check_address,
    check_credentials,
    check_tag,
    default_tags,
    matrix,
    tags_by_distro,
    tags_for,
)
from pipeline.spelling import Front
from pipeline.tree import LocalTree
from tests.conftest import BASE_DISTRO, REPO


def test_default_tags_carry_version_and_distro_and_latest_only_for_the_default():
    assert default_tags("1.2.0", "rhel", is_default=False) == ["1.2.0-rhel", "rhel"]
    assert default_tags("1.2.0", "ubuntu", is_default=True) == ["1.2.0-ubuntu", "ubuntu", "latest"]


def test_a_tag_list_overrides_and_is_deduplicated():
    assert tags_for("1", "rhel", is_default=True, override=["edge", "edge", "v2"]) == ["edge", "v2"]


@pytest.mark.parametrize("tag", ["", "-x", ".x", "a b", "a/b", "a:b", "x" * 129, "ü"])
def test_illegal_tags_are_refused(tag):
    with pytest.raises(HeliosError, match="not a valid image tag"):
        check_tag(tag)


@pytest.mark.parametrize("tag", ["latest", "1.2.0-rhel", "v1_2", "A" * 128])
def test_legal_tags_pass(tag):
    assert check_tag(tag) == tag


@pytest.mark.parametrize(
    "address",
    [
        "ghcr.io/org/helios",
        "localhost:5000/helios",
        "helios",
        "docker.io/library/helios",
        "r.example.com/a/b/c",
    ],
)
def test_valid_addresses(address):
    assert check_address(address) == address


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("ghcr.io/org/helios:1.0", "holds a tag"),
        ("ghcr.io/org/helios@sha256:abc", "holds a digest"),
        ("ghcr.io/Org/Helios", "not a valid registry address"),
        ("", "not a valid registry address"),
        ("ghcr.io//x", "not a valid registry address"),
        ("http://ghcr.io/x", "not a valid registry address"),
        ("a b/c", "not a valid registry address"),
    ],
)
def test_invalid_addresses_say_why(address, message):
    with pytest.raises(HeliosError, match=message):
        check_address(address)


@pytest.mark.real_versions
def test_the_matrix_is_every_distro_times_every_platform():
    catalogue = Catalogue(LocalTree(REPO))
    targets = matrix(catalogue, None, None)
    assert len(targets) == len(catalogue.names()) * 2
    assert {t.platform for t in targets} == {"linux/amd64", "linux/arm64"}
    chosen = matrix(catalogue, ["rocky", "rhel", "ubuntu"], ["arm64"])
    assert [(t.distro, t.platform) for t in chosen] == [("rhel", "linux/arm64"), ("ubuntu", "linux/arm64")]


def test_the_matrix_refuses_unknown_platforms_and_distros(make_tree):
    catalogue = Catalogue(LocalTree(make_tree()))
    with pytest.raises(HeliosError, match="unsupported platform"):
        matrix(catalogue, None, ["linux/riscv64"])
    with pytest.raises(HeliosError, match="unknown distro"):
        matrix(catalogue, ["nope"], None)


def test_custom_tags_are_for_one_distro_only():
    assert tags_by_distro(["rhel", "rhel"], "1", [], ["x"]) == {"rhel": ["x"]}
    with pytest.raises(HeliosError, match="custom tags were given for 2 distros"):
        tags_by_distro(["rhel", "ubuntu"], "1", [], ["x"])
    assert tags_by_distro(["rhel", "ubuntu"], "1", ["ubuntu"], None)["ubuntu"][-1] == "latest"


@pytest.mark.parametrize(
    ("front", "spelling"),
    [(Front.MODULE, "--password=env://REGISTRY_TOKEN"), (Front.CLI, "--password-env REGISTRY_TOKEN")],
)
def test_a_username_needs_a_password_and_the_other_way_round(front, spelling):
    check_credentials(None, False, front)
    check_credentials("me", True, front)
    with pytest.raises(HeliosError, match="without a password") as caught:
        check_credentials("me", False, front)
    assert caught.value.hint == f"pass the password as a secret, e.g. {spelling}"
    with pytest.raises(HeliosError, match="without --username"):
        check_credentials(None, True, front)
    with pytest.raises(HeliosError, match="without a password"):
        check_credentials("", False, front)  # an empty name is no name: refused, not ignored


def test_only_one_distro_may_be_the_default(make_tree):
    root = make_tree(
        {
            "distros/base/distro.toml": BASE_DISTRO + "default = true\n",
            "distros/child/distro.toml": 'description = "c"\nextends = "base"\ndefault = true\n',
        }
    )
    with pytest.raises(HeliosError, match="only one distro"):
        Catalogue(LocalTree(root))


def test_the_default_is_not_inherited(make_tree):
    catalogue = Catalogue(
        LocalTree(make_tree({"distros/base/distro.toml": BASE_DISTRO + "default = true\n"}))
    )
    assert catalogue.get("base").is_default and not catalogue.get("child").is_default


@pytest.mark.real_versions
def test_ubuntu_is_published_as_latest():
    assert [n for n, d in Catalogue(LocalTree(REPO)).distros.items() if d.is_default] == ["ubuntu"]


def git(root, *args):
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def test_source_info_takes_the_commit_time_or_source_date_epoch(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "f").write_text("x")
    git(tmp_path, "add", "f")
    env = {"GIT_COMMITTER_DATE": "2001-02-03T04:05:06Z", "GIT_AUTHOR_DATE": "2001-02-03T04:05:06Z"}
    subprocess.run(
        ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
        check=True,
        env={**env, "PATH": "/usr/bin:/bin"},
    )
    info = source_info(tmp_path, environ={})
    assert info.epoch == 981173106 and len(info.revision) == 40
    assert source_info(tmp_path, environ={"SOURCE_DATE_EPOCH": "42"}).epoch == 42
    with pytest.raises(HeliosError, match="not a Unix time"):
        source_info(tmp_path, environ={"SOURCE_DATE_EPOCH": "yesterday"})


def test_outside_git_the_epoch_is_zero(tmp_path):
    assert source_info(tmp_path, environ={}).epoch == 0


def test_a_channel_replaces_release_tags_so_main_never_overwrites_a_release():
    assert default_tags("1.2.0", "rhel", is_default=False, channel="unstable") == ["unstable-rhel"]
    assert default_tags("1.2.0", "ubuntu", is_default=True, channel="unstable") == [
        "unstable-ubuntu",
        "unstable",
    ]
    with pytest.raises(HeliosError, match="both custom tags and a channel"):
        tags_for("1", "rhel", is_default=False, override=["x"], channel="unstable")
    with pytest.raises(HeliosError, match="not a valid image tag"):
        tags_for("1", "rhel", is_default=False, override=None, channel="bad channel")
    assert tags_by_distro(["rhel", "ubuntu"], "1", ["ubuntu"], None, "edge") == {
        "rhel": ["edge-rhel"],
        "ubuntu": ["edge-ubuntu", "edge"],
    }
