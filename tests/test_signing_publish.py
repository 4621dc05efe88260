"""publish with SBOMs and signatures, without an engine: bad signing input fails early in one line
(exit code 2), the tools' output becomes publish's report, and the CLI passes secrets by name only."""

from __future__ import annotations

import json
from pathlib import Path

import dagger
import pytest
from dagger import dag
from dagger.mod._exceptions import FunctionError
from typer.testing import CliRunner

from pipeline import graph, shipping, signing, supply
from pipeline.cli import app
from pipeline.errors import HeliosError
from pipeline.plan import Planner
from pipeline.release import Metadata, Target
from pipeline.tree import LocalTree
from tests.dagwalk import source_directory
from tests.test_module_errors import engine_error, module_on

runner = CliRunner()
KEY = (
    "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nc2VjcmV0\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
)
PUBLIC = "-----BEGIN PUBLIC KEY-----\nMFkwEwYH\n-----END PUBLIC KEY-----\n"
ADDRESS = "ghcr.io/org/helios"
INDEX = "sha256:" + "a" * 64
BOTH = [Target("base", "linux/amd64"), Target("base", "linux/arm64")]


def sbom_digest(platform: str) -> str:
    return "sha256:" + ("1" if platform.endswith("amd64") else "2") * 64


class FakeTools:
    """Stands in for the oras/cosign execs: records what ran and prints what oras 1.3 prints."""

    def __init__(self, fail: str | None = None) -> None:
        self.ran: list[tuple[str, object]] = []
        self.fail = fail

    def install(self, monkeypatch) -> FakeTools:
        monkeypatch.setattr(supply, "tool_image", lambda name, rewrites=None: f"{name}:v1@sha256:" + "9" * 64)
        monkeypatch.setattr(signing, "attach_sbom", self.attach)
        monkeypatch.setattr(signing, "sign", self.sign)
        monkeypatch.setattr(signing, "discover", self.discover)
        return self

    def result(self, kind: str, out: str):
        fail = self.fail

        class Result:
            async def stdout(self) -> str:
                if fail == kind:
                    raise engine_error(
                        "process did not complete successfully: exit code: 1",
                        path=["container", "withExec", "stdout"],
                        extensions={"_type": "EXEC_ERROR", "cmd": ["sh"], "exitCode": 1, "stdout": "",
                                    "stderr": "Error: unauthorized: authentication required\n"},
                    )  # fmt: skip
                return out

            async def sync(self) -> None:
                await self.stdout()

        return Result()

    def attach(self, ctr, subject, platform, document):
        self.ran.append(("attach", (subject, platform)))
        reference = f"{ADDRESS}@{sbom_digest(platform)}"
        return self.result(
            "attach", json.dumps({"reference": reference, "artifactType": "application/spdx+json"})
        )

    def sign(self, ctr, how, subjects):
        self.ran.append(("sign", (how.mode, list(subjects))))
        return self.result("sign", "")

    def discover(self, ctr, subject):
        bundle = {"reference": f"{ADDRESS}@sha256:{subject[-8:] * 8}",
                  "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"}  # fmt: skip
        return self.result("discover", json.dumps({"reference": subject, "referrers": [bundle]}))


def images(root) -> list[shipping.Built]:
    metadata = Metadata("1.2.0", "", "", 0)
    return shipping.plan_images(Planner(LocalTree(root)), graph.Sources(source_directory()), BOTH, metadata)


def pushed() -> list[shipping.Shipped]:
    platforms = "linux/amd64,linux/arm64"
    return [
        shipping.Shipped("base", platforms, f"{ADDRESS}:1.2.0-base", INDEX),
        shipping.Shipped("base", platforms, f"{ADDRESS}:base", INDEX),
    ]


@pytest.mark.asyncio
async def test_each_platform_gets_its_sbom_and_every_pushed_digest_is_signed(make_tree, monkeypatch):
    tools = FakeTools().install(monkeypatch)
    how = signing.Signing(key=dag.secret("env://NONE"))
    extras = supply.Supply(signing.Login(ADDRESS), how)
    attached = await supply.attach_and_sign(images(make_tree()), pushed(), extras, version="1.2.0")
    index = f"{ADDRESS}@{INDEX}"
    # One SBOM per platform image, attached once although the index has two tags.
    assert sorted(args for kind, args in tools.ran if kind == "attach") == [
        (index, "linux/amd64"),
        (index, "linux/arm64"),
    ]
    sboms = [f"{ADDRESS}@{sbom_digest(p)}" for p in ("linux/amd64", "linux/arm64")]
    assert [args for kind, args in tools.ran if kind == "sign"] == [("key", [*sboms, index])]
    lines = supply.report_lines(pushed(), attached)
    assert lines[:2] == [f"{ADDRESS}:1.2.0-base@{INDEX}", f"{ADDRESS}:base@{INDEX}"]
    assert f"sbom linux/amd64 {sboms[0]} of {index}" in lines
    assert f"sbom linux/arm64 {sboms[1]} of {index}" in lines
    signatures = [a for a in attached if a.kind == "signature"]
    assert {a.subject for a in signatures} == {index, *sboms}
    assert {a.distro for a in signatures} == {"base"}


@pytest.mark.asyncio
async def test_without_a_key_or_token_the_sbom_is_attached_and_nothing_is_signed(make_tree, monkeypatch):
    tools = FakeTools().install(monkeypatch)
    extras = supply.Supply(signing.Login(ADDRESS))
    attached = await supply.attach_and_sign(images(make_tree()), pushed(), extras, version="1")
    assert [kind for kind, _ in tools.ran] == ["attach", "attach"]
    assert {a.kind for a in attached} == {"sbom"}
    no_sbom = supply.Supply(signing.Login(ADDRESS), sbom=False)
    assert await supply.attach_and_sign(images(make_tree()), pushed(), no_sbom, version="1") == []


@pytest.mark.asyncio
@pytest.mark.parametrize(("fail", "expected", "hint"), [
    ("attach", "attaching the SBOM of base (linux/", "cannot use your docker login"),
    ("sign", "signing ghcr.io/org/helios@", "pushed unsigned"),
])  # fmt: skip
async def test_a_refused_push_is_one_line_naming_what_and_what_to_do(
    make_tree, monkeypatch, fail, expected, hint
):
    FakeTools(fail=fail).install(monkeypatch)
    extras = supply.Supply(signing.Login(ADDRESS), signing.Signing(identity_token=dag.secret("env://NONE")))
    with pytest.raises(HeliosError) as caught:
        await supply.attach_and_sign(images(make_tree()), pushed(), extras, version="1")
    assert (
        expected in caught.value.message and "unauthorized: authentication required" in caught.value.message
    )
    assert "\n" not in caught.value.message and hint in (caught.value.hint or "")


# --- the module ---------------------------------------------------------------------------------------


def no_push(*args, **kwargs):
    raise AssertionError("nothing may be built or pushed after bad signing input")


@pytest.mark.asyncio
@pytest.mark.parametrize(("plaintext", "expected"), [
    (PUBLIC, "--cosign-key is a public key"),
    ("hello", "--cosign-key is not a cosign private key"),
])  # fmt: skip
async def test_the_module_refuses_a_key_that_is_not_a_cosign_key_before_building(
    make_tree, monkeypatch, plaintext, expected
):
    async def fake_plaintext(self):
        return plaintext

    monkeypatch.setattr(dagger.Secret, "plaintext", fake_plaintext)
    monkeypatch.setattr(shipping, "publish", no_push)
    helios = module_on(make_tree(), monkeypatch)
    with pytest.raises(FunctionError) as caught:
        await helios.publish("base", ADDRESS, platforms=["linux/amd64"], cosign_key=dag.secret("env://K"))
    assert expected in str(caught.value) and "hint:" in str(caught.value)
    assert "MFkw" not in str(caught.value)


@pytest.mark.asyncio
async def test_the_module_reports_an_unreadable_key_in_one_line(make_tree, monkeypatch):
    async def missing(self):
        raise engine_error("secret env://NOPE: not found", path=["secret", "plaintext"])

    monkeypatch.setattr(dagger.Secret, "plaintext", missing)
    monkeypatch.setattr(shipping, "publish", no_push)
    helios = module_on(make_tree(), monkeypatch)
    with pytest.raises(FunctionError) as caught:
        await helios.publish("base", ADDRESS, cosign_key=dag.secret("env://NOPE"))
    assert "--cosign-key could not be read: secret env://NOPE: not found" in str(caught.value)


@pytest.mark.asyncio
async def test_the_module_refuses_a_key_and_a_token_together(make_tree, monkeypatch):
    monkeypatch.setattr(shipping, "publish", no_push)
    helios = module_on(make_tree(), monkeypatch)
    with pytest.raises(FunctionError, match="not both"):
        await helios.publish_all(ADDRESS, cosign_key=dag.secret("env://K"), oidc_token=dag.secret("env://T"))


@pytest.mark.asyncio
async def test_module_publish_returns_references_sboms_and_signatures(make_tree, monkeypatch):
    FakeTools().install(monkeypatch)

    async def fake_publish(built, address, **kwargs):
        return pushed()

    async def fake_plaintext(self):
        return KEY

    monkeypatch.setattr(shipping, "publish", fake_publish)
    monkeypatch.setattr(dagger.Secret, "plaintext", fake_plaintext)
    helios = module_on(make_tree(), monkeypatch)
    lines = await helios.publish(
        "base", ADDRESS, platforms=[p.platform for p in BOTH], cosign_key=dag.secret("env://K")
    )
    assert lines[0] == f"{ADDRESS}:1.2.0-base@{INDEX}"
    assert sum(line.startswith("sbom ") for line in lines) == 2
    assert sum(line.startswith("signature ") for line in lines) == 3


@pytest.mark.asyncio
async def test_sign_signs_digest_references_and_refuses_tags(monkeypatch):
    tools = FakeTools().install(monkeypatch)

    async def fake_plaintext(self):
        return KEY

    monkeypatch.setattr(dagger.Secret, "plaintext", fake_plaintext)
    helios = module_on(Path("/nonexistent"), monkeypatch)
    lines = await helios.sign([f"{ADDRESS}:base@{INDEX}"], cosign_key=dag.secret("env://K"))
    assert tools.ran[0] == ("sign", ("key", [f"{ADDRESS}@{INDEX}"]))
    assert lines and all(line.startswith("signature ") for line in lines)
    with pytest.raises(FunctionError, match="not a digest reference"):
        await helios.sign([f"{ADDRESS}:base"], cosign_key=dag.secret("env://K"))
    with pytest.raises(FunctionError, match="nothing to sign with"):
        await helios.sign([f"{ADDRESS}@{INDEX}"])


# --- the CLI --------------------------------------------------------------------------------------------


def publish_cli(root, *extra: str):
    return runner.invoke(app, ["publish", "--address", ADDRESS, "-d", "fixture", "--root", str(root), *extra])


@pytest.mark.parametrize(("make_args", "expected"), [
    (lambda tmp: ["--cosign-key", str(tmp / "missing.key")], "missing.key: no such file"),
    (lambda tmp: ["--cosign-key", str(tmp / "cosign.pub")], "cosign.pub is a public key"),
    (lambda tmp: ["--cosign-key", str(tmp / "cosign.key"), "--oidc-token-env", "T"], "a cosign key and an OIDC token"),
    (lambda tmp: ["--cosign-password-env", "P"], "password was given without a cosign key"),
    (lambda tmp: ["--oidc-token-env", "UNSET_TOKEN_VAR"], "--oidc-token-env names is not set"),
    (lambda tmp: ["--oidc-token-env", "eyJ.pasted-token"], "--oidc-token-env takes the NAME"),
])  # fmt: skip
def test_cli_bad_signing_input_exits_2_with_one_line_and_a_hint(
    make_tree, tmp_path, monkeypatch, make_args, expected
):
    (tmp_path / "cosign.pub").write_text(PUBLIC)
    (tmp_path / "cosign.key").write_text(KEY)
    monkeypatch.setenv("T", "token")
    monkeypatch.setenv("P", "password")
    monkeypatch.setattr("pipeline.cli.run.run_publish", no_push)
    result = publish_cli(make_tree(), *make_args(tmp_path))
    assert result.exit_code == 2, result.output
    error, hint = result.stderr.splitlines()
    assert error.startswith("error: ") and expected in error and hint.startswith("hint: ")
    assert "eyJ.pasted-token" not in result.output and "MFkw" not in result.output


def test_cli_publish_passes_the_key_by_path_and_tokens_by_name_and_lists_what_it_attached(
    make_tree, tmp_path, monkeypatch
):
    key = tmp_path / "cosign.key"
    key.write_text(KEY)
    monkeypatch.setenv("COSIGN_PASSWORD", "pw-value")
    calls = {}

    def fake_publish(job, destination):
        calls["destination"] = destination
        attached = [
            supply.Attached(
                "base", "linux/amd64", "sbom", f"{ADDRESS}@{INDEX}", f"{ADDRESS}@{sbom_digest('amd64')}"
            )
        ]
        return [pushed()[0], *supply.as_rows(attached)]

    monkeypatch.setattr("pipeline.cli.run.run_publish", fake_publish)
    result = publish_cli(make_tree(), "--cosign-key", str(key), "--cosign-password-env", "COSIGN_PASSWORD")
    assert result.exit_code == 0, result.output
    destination = calls["destination"]
    assert destination.cosign_key == key and destination.cosign_password_env == "COSIGN_PASSWORD"
    assert destination.sbom is True and destination.oidc_token_env is None
    assert f"sbom of {ADDRESS}@{INDEX[:19]} " in result.stdout and sbom_digest("amd64") in result.stdout
    assert "pw-value" not in result.output and "c2VjcmV0" not in result.output
    assert publish_cli(make_tree(name="t2"), "--no-sbom").exit_code == 0
    assert calls["destination"].sbom is False


def test_the_cli_hands_the_engine_secret_references_never_values(tmp_path, monkeypatch):
    from pipeline.cli import run

    monkeypatch.setenv("OIDC", "token-value")
    how = run._signing(run.Destination(ADDRESS, oidc_token_env="OIDC"))
    assert how.mode == "keyless" and how.key is None
    text = repr([(f.name, f.args) for f in how.identity_token._ctx.selections])
    assert "env://OIDC" in text and "token-value" not in text
    keyed = run._signing(run.Destination(ADDRESS, cosign_key=tmp_path / "cosign.key"))
    assert f"file://{tmp_path / 'cosign.key'}" in repr([f.args for f in keyed.key._ctx.selections])
