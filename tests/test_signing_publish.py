"""publish with SBOMs and signatures, without an engine: bad signing input fails early in one line
(exit code 2), the tools' output becomes publish's report, and the CLI passes secrets by name only."""

from __future__ import annotations

from pathlib import Path

import dagger
import pytest
from dagger import dag
from dagger.mod._exceptions import FunctionError
from typer.testing import CliRunner

from pipeline import publishing, signing
from pipeline.cli import app
from pipeline.errors import HeliosError
from tests.helpers import (
    ADDRESS,
    BOTH,
    INDEX,
    FakeTools,
    destination,
    engine_error,
    images_to_publish,
    module_on,
    pushed,
    sbom_digest,
)

runner = CliRunner()
KEY = (
    "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nc2VjcmV0\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
)
PUBLIC = "-----BEGIN PUBLIC KEY-----\nMFkwEwYH\n-----END PUBLIC KEY-----\n"


@pytest.mark.asyncio
async def test_each_platform_gets_its_sbom_and_every_pushed_digest_is_signed(make_tree, monkeypatch):
    tools = FakeTools().install(monkeypatch)
    how = signing.Signing(key=dag.secret("env://NONE"))
    attached = await publishing.attach_and_sign(
        images_to_publish(make_tree()), pushed(), destination(signing=how), version="1.2.0"
    )
    index = f"{ADDRESS}@{INDEX}"
    # One SBOM per platform image, attached once although the index has two tags.
    assert sorted(args for kind, args in tools.ran if kind == "attach") == [
        (index, "linux/amd64"),
        (index, "linux/arm64"),
    ]
    sboms = [f"{ADDRESS}@{sbom_digest(p)}" for p in ("linux/amd64", "linux/arm64")]
    assert [args for kind, args in tools.ran if kind == "sign"] == [("key", [*sboms, index])]
    lines = publishing.Shipment(pushed(), attached).lines()
    assert lines[:2] == [f"{ADDRESS}:1.2.0-base@{INDEX}", f"{ADDRESS}:base@{INDEX}"]
    assert f"sbom linux/amd64 {sboms[0]} of {index}" in lines
    assert f"sbom linux/arm64 {sboms[1]} of {index}" in lines
    signatures = [a for a in attached if a.kind == "signature"]
    assert {a.subject for a in signatures} == {index, *sboms}
    assert {a.distro for a in signatures} == {"base"}


@pytest.mark.asyncio
async def test_without_a_key_or_token_the_sbom_is_attached_and_nothing_is_signed(make_tree, monkeypatch):
    tools = FakeTools().install(monkeypatch)
    attached = await publishing.attach_and_sign(
        images_to_publish(make_tree()), pushed(), destination(), version="1"
    )
    assert [kind for kind, _ in tools.ran] == ["attach", "attach"]
    assert {a.kind for a in attached} == {"sbom"}
    no_sbom = destination(sbom=False)
    assert (
        await publishing.attach_and_sign(images_to_publish(make_tree()), pushed(), no_sbom, version="1") == []
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(("fail", "expected", "hint"), [
    ("attach", "attaching the SBOM of base (linux/", "cannot use your docker login"),
    ("sign", "signing ghcr.io/org/helios@", "pushed unsigned"),
])  # fmt: skip
async def test_a_refused_push_is_one_line_naming_what_and_what_to_do(
    make_tree, monkeypatch, fail, expected, hint
):
    FakeTools(fail=fail).install(monkeypatch)
    keyless = destination(signing=signing.Signing(identity_token=dag.secret("env://NONE")))
    with pytest.raises(HeliosError) as caught:
        await publishing.attach_and_sign(images_to_publish(make_tree()), pushed(), keyless, version="1")
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
    monkeypatch.setattr(publishing, "push", no_push)
    helios = await module_on(make_tree(), monkeypatch).with_signing(cosign_key=dag.secret("env://K"))
    with pytest.raises(FunctionError) as caught:
        await helios.publish("base", ADDRESS, platforms=["linux/amd64"])
    assert expected in str(caught.value) and "hint:" in str(caught.value)
    assert "MFkw" not in str(caught.value)


@pytest.mark.asyncio
async def test_the_module_reports_an_unreadable_key_in_one_line(make_tree, monkeypatch):
    async def missing(self):
        raise engine_error("secret env://NOPE: not found", path=["secret", "plaintext"])

    monkeypatch.setattr(dagger.Secret, "plaintext", missing)
    monkeypatch.setattr(publishing, "push", no_push)
    helios = await module_on(make_tree(), monkeypatch).with_signing(cosign_key=dag.secret("env://NOPE"))
    with pytest.raises(FunctionError) as caught:
        await helios.publish("base", ADDRESS)
    assert "--cosign-key could not be read: secret env://NOPE: not found" in str(caught.value)


@pytest.mark.asyncio
async def test_the_module_refuses_a_key_and_a_token_together(make_tree, monkeypatch):
    helios = module_on(make_tree(), monkeypatch)
    with pytest.raises(FunctionError, match="not both"):
        await helios.with_signing(cosign_key=dag.secret("env://K"), oidc_token=dag.secret("env://T"))
    with pytest.raises(FunctionError, match="with-signing: nothing to sign with"):
        await helios.with_signing()


@pytest.mark.asyncio
async def test_module_publish_returns_references_sboms_and_signatures(make_tree, monkeypatch):
    FakeTools().install(monkeypatch)

    async def fake_push(built, publication, login, progress=None):
        return pushed()

    async def fake_plaintext(self):
        return KEY

    monkeypatch.setattr(publishing, "push", fake_push)
    monkeypatch.setattr(dagger.Secret, "plaintext", fake_plaintext)
    helios = await module_on(make_tree(), monkeypatch).with_signing(cosign_key=dag.secret("env://K"))
    lines = await helios.publish("base", ADDRESS, platforms=[platform for _, platform in BOTH])
    assert lines[0] == f"{ADDRESS}:1.2.0-base@{INDEX}"
    assert sum(line.startswith("sbom ") for line in lines) == 2
    assert sum(line.startswith("signature ") for line in lines) == 3


@pytest.mark.asyncio
async def test_sign_signs_digest_references_and_refuses_tags(monkeypatch):
    tools = FakeTools().install(monkeypatch)

    async def fake_plaintext(self):
        return KEY

    monkeypatch.setattr(dagger.Secret, "plaintext", fake_plaintext)
    unsigned = module_on(Path("/nonexistent"), monkeypatch)
    helios = await unsigned.with_signing(cosign_key=dag.secret("env://K"))
    lines = await helios.sign([f"{ADDRESS}:base@{INDEX}"])
    assert tools.ran[0] == ("sign", ("key", [f"{ADDRESS}@{INDEX}"]))
    assert lines and all(line.startswith("signature ") for line in lines)
    with pytest.raises(FunctionError, match="not a digest reference"):
        await helios.sign([f"{ADDRESS}:base"])
    with pytest.raises(FunctionError, match="sign: nothing to sign with"):
        await module_on(Path("/nonexistent"), monkeypatch).sign([f"{ADDRESS}@{INDEX}"])


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

    def fake_publish(job, push):
        calls["push"] = push
        attached = [
            publishing.Attached(
                "base", "linux/amd64", "sbom", f"{ADDRESS}@{INDEX}", f"{ADDRESS}@{sbom_digest('amd64')}"
            )
        ]
        return publishing.Shipment([pushed()[0]], attached).rows()

    monkeypatch.setattr("pipeline.cli.run.run_publish", fake_publish)
    result = publish_cli(make_tree(), "--cosign-key", str(key), "--cosign-password-env", "COSIGN_PASSWORD")
    assert result.exit_code == 0, result.output
    keys = calls["push"].signing
    assert keys.cosign_key == key and keys.cosign_password_env == "COSIGN_PASSWORD"
    assert calls["push"].sbom is True and keys.oidc_token_env is None
    assert f"sbom of {ADDRESS}@{INDEX[:19]} " in result.stdout and sbom_digest("amd64") in result.stdout
    assert "pw-value" not in result.output and "c2VjcmV0" not in result.output
    assert publish_cli(make_tree(name="t2"), "--no-sbom").exit_code == 0
    assert calls["push"].sbom is False


def test_the_cli_hands_the_engine_secret_references_never_values(tmp_path, monkeypatch):
    from pipeline.cli import run
    from pipeline.cli.options import SigningKeys

    monkeypatch.setenv("OIDC", "token-value")
    how = run._signing(SigningKeys(oidc_token_env="OIDC"))
    assert how.mode == "keyless" and how.key is None
    text = repr([(f.name, f.args) for f in how.identity_token._ctx.selections])
    assert "env://OIDC" in text and "token-value" not in text
    keyed = run._signing(SigningKeys(cosign_key=tmp_path / "cosign.key"))
    assert f"file://{tmp_path / 'cosign.key'}" in repr([f.args for f in keyed.key._ctx.selections])
