"""Image rewrites: every image a build pulls can come from where an air-gapped site keeps it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.errors import HeliosError
from pipeline.imagerewrite import ImageRewrites, normalise_name, parse_rule
from pipeline.main import Helios
from pipeline.plan import Planner
from pipeline.toolpins import tool_image
from pipeline.tree import LocalTree
from tests.test_module import FakeDirectory

NODE = "docker.io/library/node:22.22.2-bookworm@sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("debian", "docker.io/library/debian"),
        ("library/debian", "docker.io/library/debian"),
        ("anchore/syft", "docker.io/anchore/syft"),
        ("index.docker.io/library/node", "docker.io/library/node"),
        ("ghcr.io/org/image", "ghcr.io/org/image"),
        ("localhost/x", "localhost/x"),
        ("registry.corp:5000/a/b", "registry.corp:5000/a/b"),
    ],
)
def test_names_are_compared_as_docker_normalises_them(name: str, normal: str) -> None:
    assert normalise_name(name) == normal


@pytest.mark.parametrize(
    ("rules", "reference", "expected"),
    [
        # a registry: everything from it, tag and digest kept
        (["docker.io=registry.corp/hub"], "debian:13.2", "registry.corp/hub/library/debian:13.2"),
        (
            ["docker.io=registry.corp/hub"],
            NODE,
            "registry.corp/hub/library/node:22.22.2-bookworm@" + NODE.split("@")[1],
        ),
        (
            ["docker.io=127.0.0.1:5000"],
            "rockylinux/rockylinux:9.6",
            "127.0.0.1:5000/rockylinux/rockylinux:9.6",
        ),
        (["docker.io=registry.corp/hub"], "ghcr.io/o/i:1", "ghcr.io/o/i:1"),
        # a repository prefix, at a path boundary only
        (["docker.io/library/node=registry.corp/node"], "node:22", "registry.corp/node:22"),
        (
            ["docker.io/library/node=registry.corp/node"],
            "docker.io/library/nodejs:1",
            "docker.io/library/nodejs:1",
        ),
        # the longest prefix wins, whatever the order given
        (["docker.io=r.corp/hub", "docker.io/library/node=r.corp/node"], "node:22", "r.corp/node:22"),
        (
            ["docker.io/library/node=r.corp/node", "docker.io=r.corp/hub"],
            "debian:13",
            "r.corp/hub/library/debian:13",
        ),
        # one image, by tag and/or digest, replaced whole; it wins over prefixes
        ([f"{NODE}=127.0.0.1:5000/node:22", "docker.io=r.corp/hub"], NODE, "127.0.0.1:5000/node:22"),
        (["node:22.22.2-bookworm=r.corp/node:mine"], NODE, "r.corp/node:mine"),
        (["debian:13.2=r.corp/debian:13.2-patched"], "debian:13.1", "debian:13.1"),
        # no rule: as written
        ([], "debian:13.2", "debian:13.2"),
    ],
)
def test_rules_rewrite_references(rules: list[str], reference: str, expected: str) -> None:
    assert ImageRewrites(rules).apply(reference) == expected


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ("docker.io", "is not FROM=TO"),
        ("=registry.corp", "is not FROM=TO"),
        ("docker.io=", "is not FROM=TO"),
        ("a=b=c", "is not FROM=TO"),
        ("debian:13.2=registry.corp/debian", "FROM names one image, so TO must too"),
        ("docker.io=registry.corp/debian:13", "FROM names a registry or repository but TO names one image"),
        ("Debian=registry.corp/x", "FROM 'Debian' is not an image reference"),
        ("docker.io=https://registry.corp", "TO 'https://registry.corp' is not an image reference"),
        ("debian@sha256:12=x:1", "a sha256 digest is 64 lower-case hex digits"),
    ],
)
def test_bad_rules_are_refused_with_what_and_a_hint(rule: str, says: str) -> None:
    with pytest.raises(HeliosError) as caught:
        parse_rule(rule)
    assert says in caught.value.message and f"--image-rewrite {rule!r}" in caught.value.message
    assert caught.value.hint


@pytest.mark.real_versions
def test_a_plan_pulls_its_base_and_node_image_as_rewritten() -> None:
    from tests.conftest import REPO

    rules = ImageRewrites(["docker.io=registry.corp/hub"])
    plan = Planner(LocalTree(REPO), rewrites=rules).plan("debian", "linux/amd64")
    plain = Planner(LocalTree(REPO)).plan("debian", "linux/amd64")
    assert plan.base == "registry.corp/hub/library/debian:13.2" == rules.apply(plain.base)
    assert plan.web_image.startswith("registry.corp/hub/library/node:") and "@sha256:" in plan.web_image
    assert plan.web_image.split("@")[1] == plain.web_image.split("@")[1], "the digest pin is kept"
    based = Planner(LocalTree(REPO), rewrites=rules).plan("rhel", "linux/amd64", base="almalinux:9.6")
    assert based.base == "registry.corp/hub/library/almalinux:9.6", "--base is rewritten too"
    # The plan's digests name the images as pulled (the engine keys on their manifests, which a
    # faithful mirror keeps: its cache is the same either way).
    assert [s.digest for s in plan.steps] != [s.digest for s in plain.steps]


@pytest.mark.real_versions
def test_the_publishing_tools_are_rewritten_after_their_pin_is_checked() -> None:
    rules = ImageRewrites(["ghcr.io=registry.corp/ghcr", "docker.io=registry.corp/hub"])
    assert tool_image("oras", rewrites=rules).startswith(
        "registry.corp/ghcr/oras-project/oras:v1.3.3@sha256:"
    )
    assert tool_image("syft", rewrites=rules).startswith("registry.corp/hub/anchore/syft:v1.51.0@sha256:")


def test_the_cli_plan_shows_the_rewritten_base(make_tree) -> None:
    root = make_tree()
    result = CliRunner().invoke(
        app, ["plan", "-d", "base", "--platform", "linux/amd64", "--root", str(root),
              "--image-rewrite", "docker.io=registry.corp/hub"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "base registry.corp/hub/library/debian:13.2" in result.stdout


def test_the_cli_reads_rules_from_the_environment(make_tree) -> None:
    result = CliRunner().invoke(
        app, ["plan", "-d", "base", "--platform", "linux/amd64", "--root", str(make_tree())],
        env={"HELIOS_IMAGE_REWRITES": "docker.io=registry.corp/hub ghcr.io=registry.corp/ghcr"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "base registry.corp/hub/library/debian:13.2" in result.stdout


def test_a_bad_cli_rule_is_one_error_line_and_exit_2(make_tree) -> None:
    result = CliRunner().invoke(
        app, ["plan", "-d", "base", "--root", str(make_tree()), "--image-rewrite", "docker.io"]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --image-rewrite 'docker.io' is not FROM=TO")
    assert "Traceback" not in result.output


@pytest.mark.asyncio
async def test_the_module_takes_rules_on_the_constructor(make_tree) -> None:
    helios = Helios(source=FakeDirectory(make_tree()), image_rewrite=["docker.io=registry.corp/hub"])  # type: ignore[arg-type]
    text = await helios.plan("base", platform="linux/amd64")
    assert "base registry.corp/hub/library/debian:13.2" in text


@pytest.mark.real_versions
@pytest.mark.asyncio
async def test_publishing_pulls_the_tools_as_rewritten(make_tree, monkeypatch) -> None:
    from pipeline import sbom, signing, supply
    from tests.test_signing_publish import ADDRESS, FakeTools, images, pushed

    pulled: dict[str, str] = {}
    real_tools, real_sbom = signing.tools, sbom.sbom
    monkeypatch.setattr(signing, "tools", lambda oras, cosign, login: pulled.update(oras=oras, cosign=cosign)
                        or real_tools(oras, cosign, login))  # fmt: skip
    monkeypatch.setattr(sbom, "sbom", lambda image, *, scanner, name, version: pulled.update(syft=scanner)
                        or real_sbom(image, scanner=scanner, name=name, version=version))  # fmt: skip
    monkeypatch.setattr(signing, "attach_sbom", FakeTools().attach)
    rules = ImageRewrites(["ghcr.io=registry.corp/ghcr", "docker.io=registry.corp/hub"])
    extras = supply.Supply(signing.Login(ADDRESS), sbom=True, rewrites=rules)
    await supply.attach_and_sign(images(make_tree()), pushed(), extras, version="1.2.0")
    assert pulled["oras"].startswith("registry.corp/ghcr/oras-project/oras:v1.3.3@sha256:")
    assert pulled["cosign"].startswith("registry.corp/ghcr/sigstore/cosign/cosign:v3.1.2@sha256:")
    assert pulled["syft"].startswith("registry.corp/hub/anchore/syft:v1.51.0@sha256:")


@pytest.mark.real_versions
def test_helios_images_lists_what_a_mirror_must_hold(make_tree) -> None:
    plain = CliRunner().invoke(app, ["images", "--root", str(make_tree())])
    assert plain.exit_code == 0, plain.output
    lines = plain.stdout.splitlines()
    assert lines[0].split() == ["IMAGE", "PULLED", "FOR"]
    assert (
        lines[1].startswith("debian:13.2 ")
        and "base of base (linux/amd64); base of base (linux/arm64)" in lines[1]
    )
    assert any(line.startswith("debian:12 ") and "base of child" in line for line in lines)
    node = [line for line in lines if line.startswith("docker.io/library/node:")]
    assert len(node) == 1 and "@sha256:" in node[0], "one Node image, pinned by digest"
    assert [line.split()[-1] for line in lines[-3:]] == ["syft", "oras", "cosign"]
    rewritten = CliRunner().invoke(
        app, ["images", "-d", "base", "--platform", "linux/amd64", "--root", str(make_tree(name="again")),
              "--image-rewrite", "docker.io=registry.corp/hub", "--image-rewrite", "ghcr.io=registry.corp/ghcr"],
    )  # fmt: skip
    assert rewritten.exit_code == 0, rewritten.output
    images = [line.split()[0] for line in rewritten.stdout.splitlines()[1:]]
    assert all(image.startswith(("registry.corp/hub/", "registry.corp/ghcr/")) for image in images), images
    assert len(images) == 5
