"""Signing and SBOM attachment without an engine: secrets stay secret, keys are checked, the tools
are the pinned ones, the login script works (run with a real sh), oras's output is read right."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from dagger import dag

from pipeline import signing
from pipeline.errors import HeliosError
from pipeline.signing import Login, Signing
from tests.dagwalk import reachable, selections

REGISTRY_PASSWORD = "s3cr3t-registry-token-value"
KEY_PASSWORD = "k3y-passw0rd-value"
ID_TOKEN = "eyJ-oidc-token-value"
KEY_TEXT = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nc2VjcmV0LWtleS1ib2R5\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
ORAS = "ghcr.io/oras-project/oras:v1.3.3@sha256:" + "1" * 64
COSIGN = "ghcr.io/sigstore/cosign/cosign:v3.1.2@sha256:" + "2" * 64
INDEX = "ghcr.io/org/helios@sha256:" + "a" * 64
SBOM_REF = "ghcr.io/org/helios@sha256:" + "b" * 64
# Where a secret may go: mounted as a file, or an env variable the engine fills in at exec time.
SECRET_FIELDS = {"withSecretVariable", "withMountedSecret", "withRegistryAuth"}


@pytest.fixture
def secrets(monkeypatch):
    for name, value in (
        ("T_REGISTRY", REGISTRY_PASSWORD),
        ("T_KEY", KEY_TEXT),
        ("T_KEY_PASSWORD", KEY_PASSWORD),
        ("T_TOKEN", ID_TOKEN),
    ):
        monkeypatch.setenv(name, value)
    return {
        name: dag.secret(f"env://{name}") for name in ("T_REGISTRY", "T_KEY", "T_KEY_PASSWORD", "T_TOKEN")
    }


def graphs(secrets) -> list:
    login = Login("ghcr.io/org/helios", "me", secrets["T_REGISTRY"])
    ctr = signing.tools(ORAS, COSIGN, login)
    keyed = Signing(key=secrets["T_KEY"], password=secrets["T_KEY_PASSWORD"])
    keyless = Signing(identity_token=secrets["T_TOKEN"])
    document = dag.directory().with_new_file("sbom.spdx.json", "{}").file("sbom.spdx.json")
    return [
        signing.attach_sbom(ctr, INDEX, "linux/arm64", document),
        signing.sign(ctr, keyed, [INDEX, SBOM_REF]),
        signing.sign(ctr, keyless, [INDEX]),
        signing.discover(ctr, INDEX),
    ]


def every_field(roots) -> list:
    return [f for root in roots for obj in reachable(root) for f in selections(obj)]


def test_no_secret_value_reaches_an_argument_an_env_value_or_a_label(secrets):
    fields = every_field(graphs(secrets))
    text = repr([(f.name, f.args) for f in fields if not hasattr(f.args, "_ctx")])
    for value in (REGISTRY_PASSWORD, KEY_PASSWORD, ID_TOKEN, "c2VjcmV0LWtleS1ib2R5"):
        assert value not in text
    for f in fields:
        for value in f.args.values():
            if type(value).__name__ == "Secret":
                assert f.name in SECRET_FIELDS, f"a secret went into {f.name}"
    plain_env = {f.args["name"] for f in fields if f.name == "withEnvVariable"}
    assert plain_env.isdisjoint({"REGISTRY_PASSWORD", "COSIGN_PASSWORD", "SIGSTORE_ID_TOKEN"})
    secret_env = {f.args["name"] for f in fields if f.name == "withSecretVariable"}
    assert secret_env == {"REGISTRY_PASSWORD", "COSIGN_PASSWORD", "SIGSTORE_ID_TOKEN"}
    mounted = [f.args["path"] for f in fields if f.name == "withMountedSecret"]
    assert mounted == [signing.KEY_PATH]


def test_cosign_signs_with_the_mounted_key_or_keyless_and_never_prompts(secrets):
    _, keyed, keyless, _ = graphs(secrets)
    keyed_exec = next(f for f in selections(keyed) if f.name == "withExec").args["args"]
    assert keyed_exec[4:] == [
        "cosign",
        "sign",
        "--yes",
        "--recursive",
        "--key",
        signing.KEY_PATH,
        INDEX,
        SBOM_REF,
    ]
    keyless_exec = next(f for f in selections(keyless) if f.name == "withExec").args["args"]
    assert keyless_exec[4:] == ["cosign", "sign", "--yes", "--recursive", INDEX]
    assert "--key" not in keyless_exec and "--identity-token" not in keyless_exec


def test_a_key_without_password_gets_an_empty_one_instead_of_a_prompt(secrets):
    ctr = signing.sign(
        signing.tools(ORAS, COSIGN, Login("ghcr.io/o/h")), Signing(key=secrets["T_KEY"]), [INDEX]
    )
    env = {f.args["name"]: f.args["value"] for f in selections(ctr) if f.name == "withEnvVariable"}
    assert env["COSIGN_PASSWORD"] == ""


def test_the_tools_are_the_pinned_images_and_cosign_is_its_static_binary(secrets):
    ctr = signing.tools(ORAS, COSIGN, Login("ghcr.io/org/helios"))
    fields = selections(ctr)
    assert fields[1].name == "from" and fields[1].args["address"] == ORAS
    copy = next(f for f in fields if f.name == "withFile")
    source = selections(copy.args["source"])
    assert [(f.name, f.args) for f in source[1:]] == [
        ("from", {"address": COSIGN}),
        ("file", {"path": "/ko-app/cosign"}),
    ]
    assert ("withMountedTemp", signing.AUTH_DIR) in [(f.name, f.args.get("path")) for f in fields]
    assert not any(f.name.startswith("withSecret") for f in fields)  # no login given: anonymous


def test_every_push_runs_again_on_the_next_publish(secrets):
    first, second = (signing.discover(signing.tools(ORAS, COSIGN, Login("x/y")), INDEX) for _ in range(2))
    nonce = [
        next(
            f.args["value"]
            for f in selections(c)
            if f.name == "withEnvVariable" and f.args["name"] == "HELIOS_PUSH"
        )
        for c in (first, second)
    ]
    assert nonce[0] != nonce[1]


def test_the_sbom_is_attached_to_the_platform_image_as_an_spdx_referrer(secrets):
    attach = graphs(secrets)[0]
    fields = selections(attach)
    args = next(f for f in fields if f.name == "withExec").args["args"]
    assert args[4:] == [
        "oras", "attach", "--artifact-type", "application/spdx+json", "--platform", "linux/arm64",
        "--format", "json", INDEX, "sbom.spdx.json:application/spdx+json",
    ]  # fmt: skip
    mount = next(f for f in fields if f.name == "withMountedFile")
    assert mount.args["path"] == f"{signing.WORKDIR}/sbom.spdx.json"


# --- the login script, run for real ------------------------------------------------------------------


def run_login(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "auth"
    config.mkdir()
    full = {"PATH": os.environ["PATH"], "DOCKER_CONFIG": str(config), **env}
    return subprocess.run(
        ["sh", "-c", signing.LOGIN, "helios-push", "sh", "-c", 'ls "$DOCKER_CONFIG"; echo "args:$*"', "x", "a b"],
        env=full, capture_output=True, text=True, check=True,
    )  # fmt: skip


def test_the_login_script_writes_a_private_docker_config_and_runs_the_tool(tmp_path):
    password = 'p@ss "word" with \\ and $dollar'
    result = run_login(tmp_path, REGISTRY_HOST="ghcr.io", REGISTRY_USERNAME="me", REGISTRY_PASSWORD=password)
    config = tmp_path / "auth" / "config.json"
    auth = json.loads(config.read_text())["auths"]["ghcr.io"]["auth"]
    assert base64.b64decode(auth).decode() == f"me:{password}"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert result.stdout.splitlines() == ["config.json", "args:a b"]
    assert password not in result.stdout + result.stderr


def test_without_a_login_the_tool_runs_anonymously(tmp_path):
    result = run_login(tmp_path)
    assert result.stdout.splitlines() == ["args:a b"]


@pytest.mark.parametrize(
    ("address", "host"),
    [
        ("ghcr.io/org/helios", "ghcr.io"),
        ("localhost:5000/helios", "localhost:5000"),
        ("registry.example:8443/a/b", "registry.example:8443"),
        ("org/helios", "https://index.docker.io/v1/"),
        ("docker.io/org/helios", "https://index.docker.io/v1/"),
        ("helios", "https://index.docker.io/v1/"),
    ],
)
def test_the_docker_config_key_is_the_registry_of_the_address(address, host):
    assert signing.registry_host(address) == host


# --- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not a key at all", "holds no PEM block"),
        ("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n", "is a public key"),
        ("-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n", "holds a EC PRIVATE KEY"),
    ],
)
def test_a_file_that_is_not_a_cosign_private_key_is_one_line_with_a_hint(text, expected):
    with pytest.raises(HeliosError) as caught:
        signing.check_cosign_key(text, "--cosign-key ./k")
    assert expected in caught.value.message and caught.value.hint
    assert "MFkw" not in str(caught.value) and "MHcC" not in str(caught.value)


@pytest.mark.parametrize("kind", signing.PRIVATE_KEY_TYPES)
def test_cosign_private_keys_old_and_new_are_accepted(kind):
    signing.check_cosign_key(f"-----BEGIN {kind}-----\nx\n-----END {kind}-----\n", "k")


def test_a_key_and_a_token_together_or_a_password_alone_are_refused(secrets):
    with pytest.raises(HeliosError, match="not both"):
        Signing(key=secrets["T_KEY"], identity_token=secrets["T_TOKEN"])
    with pytest.raises(HeliosError, match="without a cosign key"):
        Signing(password=secrets["T_KEY_PASSWORD"])
    assert Signing().mode == "off" and not Signing().enabled


@pytest.mark.parametrize("ref", ["ghcr.io/org/helios:1.0", "ghcr.io/org/helios@sha256:abc", ""])
def test_signing_needs_digest_references(ref):
    with pytest.raises(HeliosError, match="not a digest reference"):
        signing.digest_reference(ref)


def test_a_tag_beside_the_digest_is_dropped():
    assert signing.digest_reference("ghcr.io/org/helios:1.2.0-debian@" + INDEX.split("@")[1]) == INDEX


# --- what oras prints ------------------------------------------------------------------------------------

# `oras attach --format json` (oras 1.3, cmd/oras/internal/display/metadata/model/attach.go): the
# pushed manifest's descriptor plus "reference".
ATTACHED = {
    "reference": SBOM_REF,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": "sha256:" + "b" * 64,
    "size": 790,
    "artifactType": "application/spdx+json",
}


def test_the_referrer_oras_attached_is_read_from_its_json():
    assert signing.attached_reference(json.dumps(ATTACHED, indent=2)) == SBOM_REF
    with pytest.raises(HeliosError, match="printed no JSON"):
        signing.attached_reference("Attached to [registry] ghcr.io/org/helios\n")


def test_signature_referrers_are_picked_from_discover_by_artifact_type():
    bundle = {
        **ATTACHED,
        "reference": "x@sha256:" + "c" * 64,
        "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
    }
    tree = {
        **ATTACHED,
        "reference": INDEX,
        "referrers": [{**ATTACHED, "referrers": []}, {**bundle, "referrers": []}],
    }
    assert signing.referrers(json.dumps(tree), signing.BUNDLE_TYPE) == [bundle["reference"]]
    assert signing.referrers(json.dumps(tree), "application/spdx+json") == [SBOM_REF]
    assert signing.referrers(json.dumps({**tree, "referrers": []}), signing.BUNDLE_TYPE) == []
