"""Attaching SBOMs and signing pushed digests, with oras and cosign run as pinned containers.

- The SBOM becomes an OCI referrer of its platform image (``oras attach``, artifact type
  application/spdx+json): `oras discover`, Trivy and cosign find it from the image digest, and a
  registry without the referrers API gets the spec's fallback tag, which oras writes for us.
- ``cosign sign --recursive`` signs the multi-arch index, each platform image and each SBOM
  referrer; cosign 3 stores every signature as a Sigstore bundle, itself a referrer of its subject.

Secrets (registry password, cosign key and its password, an OIDC token) reach the tools only as
``dagger.Secret`` mounts or secret variables: never as an argument, a plain variable or a label.
The registry login is written, inside the exec, to a temporary docker config that no layer holds.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagger
from dagger import dag

from pipeline.errors import HeliosError
from pipeline.imageref import NAME
from pipeline.sbom import FILE_NAME, MEDIA_TYPE

AUTH_DIR = "/helios-registry-auth"
KEY_PATH = "/run/helios/cosign.key"
WORKDIR = "/workspace"
COSIGN_BINARY = "/ko-app/cosign"  # where the cosign image (built with ko) keeps its static binary
BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle"  # cosign 3's signatures: ...bundle.v0.3+json
PRIVATE_KEY_TYPES = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")
DOCKER_HUB = "https://index.docker.io/v1/"

# Writes the registry login (when one is given) where oras and cosign read it, then runs the tool.
LOGIN = """set -eu
if [ -n "${REGISTRY_PASSWORD:-}" ]; then
  umask 077
  auth=$(printf '%s:%s' "$REGISTRY_USERNAME" "$REGISTRY_PASSWORD" | base64 | tr -d '\\n')
  printf '{"auths":{"%s":{"auth":"%s"}}}\\n' "$REGISTRY_HOST" "$auth" > "$DOCKER_CONFIG/config.json"
fi
exec "$@"
"""

KEY_HINT = "create one with `cosign generate-key-pair` and pass cosign.key (cosign.pub is for verifying)"


def check_key_file(path: Path) -> None:
    """``path`` is a readable cosign private key file (for the CLI, before anything is built)."""
    where = f"--cosign-key {path}"
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        raise HeliosError(f"{where}: no such file", hint=KEY_HINT) from None
    except OSError as error:
        raise HeliosError(f"{where} cannot be read: {error.strerror}", hint=KEY_HINT) from None
    check_cosign_key(text, where)


def check_cosign_key(text: str, where: str) -> None:
    """``text`` is a cosign private key; the error names ``where`` and never shows the key."""
    match = re.search(r"-----BEGIN ([A-Z0-9 ]+)-----", text)
    if match is None:
        raise HeliosError(f"{where} is not a cosign private key: it holds no PEM block", hint=KEY_HINT)
    kind = match.group(1)
    if "PUBLIC KEY" in kind:
        raise HeliosError(f"{where} is a public key, not the private key cosign signs with", hint=KEY_HINT)
    if kind not in PRIVATE_KEY_TYPES:
        raise HeliosError(
            f"{where} holds a {kind} PEM block, not a cosign private key",
            hint="convert it with `cosign import-key-pair --key FILE` and pass the cosign.key it writes",
        )


def check_signing_options(*, key: bool, password: bool, token: bool) -> None:
    """A key or a token (not both); a key password only with a key."""
    if key and token:
        raise HeliosError(
            "both a cosign key and an OIDC token were given", hint="sign with a key or keyless, not both"
        )
    if password and not key:
        raise HeliosError(
            "a cosign key password was given without a cosign key", hint="pass the key too, or neither"
        )


@dataclass(frozen=True)
class Signing:
    """How to sign: with a cosign key (and its password), keyless with an OIDC token, or not at all."""

    key: dagger.Secret | None = None
    password: dagger.Secret | None = None
    identity_token: dagger.Secret | None = None

    def __post_init__(self) -> None:
        check_signing_options(
            key=self.key is not None,
            password=self.password is not None,
            token=self.identity_token is not None,
        )

    @property
    def enabled(self) -> bool:
        return self.key is not None or self.identity_token is not None

    @property
    def mode(self) -> str:
        return "key" if self.key is not None else "keyless" if self.identity_token is not None else "off"


@dataclass(frozen=True)
class Login:
    """The registry login the tools push with; without one they push anonymously."""

    address: str
    username: str | None = None
    password: dagger.Secret | None = None


def digest_reference(ref: str) -> str:
    """``repo@sha256:...`` from a digest reference (a tag beside the digest is dropped: it can move)."""
    name, at, digest = ref.strip().partition("@")
    if name.rfind(":") > name.rfind("/"):
        name = name[: name.rfind(":")]
    if not at or not re.fullmatch(r"sha256:[0-9a-f]{64}", digest) or not NAME.fullmatch(name):
        raise HeliosError(
            f"{ref!r} is not a digest reference (name@sha256:<64 hex>)",
            hint="sign what was pushed, by digest: pass the references publish printed",
        )
    return f"{name}@{digest}"


def registry_host(address: str) -> str:
    """The docker config key of the registry ``address`` lives on (Docker Hub has its own)."""
    first, slash, _ = address.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return DOCKER_HUB if first in ("docker.io", "index.docker.io") else first
    return DOCKER_HUB


def tools(oras: str, cosign: str, login: Login) -> dagger.Container:
    """oras's image (Alpine, with a shell) with cosign's static binary beside it, logged in."""
    ctr = (
        dag.container()
        .from_(oras)
        .with_file("/usr/local/bin/cosign", dag.container().from_(cosign).file(COSIGN_BINARY))
        .with_mounted_temp(AUTH_DIR)
        .with_env_variable("DOCKER_CONFIG", AUTH_DIR)
        .with_workdir(WORKDIR)
    )
    if login.username and login.password is not None:
        ctr = (
            ctr.with_env_variable("REGISTRY_HOST", registry_host(login.address))
            .with_env_variable("REGISTRY_USERNAME", login.username)
            .with_secret_variable("REGISTRY_PASSWORD", login.password)
        )
    return ctr


def push_exec(ctr: dagger.Container, args: list[str], nonce: str | None = None) -> dagger.Container:
    """Run a tool that talks to the registry: logged in, and never answered from the cache."""
    return ctr.with_env_variable("HELIOS_PUSH", nonce or uuid.uuid4().hex).with_exec(
        ["sh", "-c", LOGIN, "helios-push", *args]
    )


def attach_sbom(
    ctr: dagger.Container, subject: str, platform: str, document: dagger.File
) -> dagger.Container:
    """Attach ``document`` to the ``platform`` image of ``subject`` (an index digest) as a referrer."""
    args = ["oras", "attach", "--artifact-type", MEDIA_TYPE, "--platform", platform, "--format", "json"]
    return push_exec(
        ctr.with_mounted_file(f"{WORKDIR}/{FILE_NAME}", document),
        [*args, subject, f"{FILE_NAME}:{MEDIA_TYPE}"],
    )


def sign(ctr: dagger.Container, signing: Signing, subjects: list[str]) -> dagger.Container:
    """``cosign sign`` every subject (digest references), and each platform image of an index."""
    args = ["cosign", "sign", "--yes", "--recursive"]
    if signing.key is not None:
        ctr = ctr.with_mounted_secret(KEY_PATH, signing.key)
        if signing.password is not None:
            ctr = ctr.with_secret_variable("COSIGN_PASSWORD", signing.password)
        else:  # an unencrypted-password key: an empty password, never a prompt
            ctr = ctr.with_env_variable("COSIGN_PASSWORD", "")
        args += ["--key", KEY_PATH]
    elif signing.identity_token is not None:
        ctr = ctr.with_secret_variable("SIGSTORE_ID_TOKEN", signing.identity_token)
    else:
        raise HeliosError("nothing to sign with", hint="pass a cosign key or an OIDC token")
    return push_exec(ctr, [*args, *subjects])


def discover(ctr: dagger.Container, subject: str) -> dagger.Container:
    """List the direct referrers of ``subject`` as JSON (``oras discover``)."""
    return push_exec(ctr, ["oras", "discover", "--format", "json", "--depth", "1", subject])


def _json(stdout: str, what: str) -> dict[str, Any]:
    start = stdout.find("{")
    try:
        value, _ = json.JSONDecoder().raw_decode(stdout[start:]) if start >= 0 else (None, 0)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise HeliosError(f"{what} printed no JSON object", hint="check the pinned oras version")
    return value


def attached_reference(stdout: str) -> str:
    """The digest reference of the referrer ``oras attach --format json`` pushed."""
    reference = _json(stdout, "oras attach").get("reference")
    if not isinstance(reference, str) or "@sha256:" not in reference:
        raise HeliosError("oras attach reported no digest reference", hint="check the pinned oras version")
    return reference


def referrers(stdout: str, artifact_type: str) -> list[str]:
    """Digest references of the direct referrers whose artifact type starts with ``artifact_type``."""
    found = _json(stdout, "oras discover").get("referrers") or []
    return [
        item["reference"]
        for item in found
        if isinstance(item, dict)
        and str(item.get("artifactType", "")).startswith(artifact_type)
        and isinstance(item.get("reference"), str)
    ]
