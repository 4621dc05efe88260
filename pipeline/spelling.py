"""How each front end spells what the other spells differently: `dagger call` (the module) and `helios`.

Both front ends take the same inputs, but a Dagger function takes secrets as ``env://`` URIs and
lists as ``a,b``, and the CLI takes the names of variables and repeats options. This table is the
one place that knows both spellings: README's two tables are rendered from it (a test checks each
row against ``helios ... --help`` and the module's registered arguments), and an error's hint names
the spelling of the front end the user is typing into.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Front(enum.StrEnum):
    """A front end: the Dagger module (through ``dagger call``) or the ``helios`` CLI."""

    MODULE = "dagger call"
    CLI = "helios"


CONSTRUCTOR = ""
"""Where a module flag is the object's own (``dagger call --hooks=./site build``), not a function's."""


@dataclass(frozen=True)
class Spelled:
    """One front end's spelling: the text users type, the option it uses, and who takes it."""

    text: str
    """As users type it, with an example value: ``--password=env://REGISTRY_TOKEN`` (may be empty)."""
    option: str | None
    """The flag or option name (``--password``); None when the text names functions or nothing."""
    where: tuple[str, ...]
    """Module functions (CONSTRUCTOR for the object's own flags) or CLI commands that take it."""
    note: str = ""
    """Plain words after the text: where it goes, or where the value comes from instead."""


@dataclass(frozen=True)
class Row:
    """One thing users set, as each front end spells it."""

    what: str
    module: Spelled
    cli: Spelled

    def spelled(self, front: Front) -> Spelled:
        return self.module if front is Front.MODULE else self.cli


SEVERAL = ("build-all", "publish-all", "inputs")
SECRETS = ("publish", "publish-all", "sign")
CLI_BUILDS = ("build", "publish")
CLI_SEVERAL = (*CLI_BUILDS, "inputs")

ROWS: tuple[Row, ...] = (
    Row(
        "your hooks tree",
        Spelled("--hooks=./site", "--hooks", (CONSTRUCTOR,), "before the function"),
        Spelled("--hooks ./site", "--hooks", ("distros", "plan", "validate", "build", "publish", "inputs")),
    ),
    Row(
        "an input mirror, and never upstream",
        Spelled("--inputs=./inputs --offline", "--inputs", (CONSTRUCTOR,), "before the function"),
        Spelled("--inputs ./inputs --offline", "--inputs", CLI_BUILDS),
    ),
    Row(
        "the image labels' source and date",
        Spelled("--revision, --source-url, --source-date-epoch", "--revision", (CONSTRUCTOR,)),
        Spelled("", None, (), "reads them from the checkout; SOURCE_DATE_EPOCH wins"),
    ),
    Row(
        "several distros",
        Spelled("--distros=rhel,ubuntu", "--distros", SEVERAL),
        Spelled("-d rhel -d ubuntu", "--distro", CLI_SEVERAL),
    ),
    Row(
        "several platforms",
        Spelled("--platforms=linux/amd64,linux/arm64", "--platforms", (*SEVERAL, "publish")),
        Spelled("--platform linux/amd64 --platform linux/arm64", "--platform", CLI_SEVERAL),
    ),
    Row(
        "every distro",
        Spelled("build-all, publish-all", None, ("build-all", "publish-all")),
        Spelled("--all", "--all", CLI_BUILDS),
    ),
    Row(
        "an OCI tarball",
        Spelled("build --distro=rhel export --path=rhel.tar", None, ("build",)),
        Spelled("--export rhel.tar", "--export", ("build",)),
    ),
    Row(
        "the registry password",
        Spelled("--password=env://REGISTRY_TOKEN", "--password", SECRETS),
        Spelled("--password-env REGISTRY_TOKEN", "--password-env", ("publish",)),
    ),
    Row(
        "no SBOM",
        Spelled("--sbom=false", "--sbom", ("publish", "publish-all")),
        Spelled("--no-sbom", "--no-sbom", ("publish",)),
    ),
    Row(
        "a cosign key",
        Spelled("--cosign-key=file://cosign.key", "--cosign-key", SECRETS),
        Spelled("--cosign-key cosign.key", "--cosign-key", ("publish",)),
    ),
    Row(
        "the cosign key's password",
        Spelled("--cosign-password=env://COSIGN_PASSWORD", "--cosign-password", SECRETS),
        Spelled("--cosign-password-env COSIGN_PASSWORD", "--cosign-password-env", ("publish",)),
    ),
    Row(
        "a keyless signing token",
        Spelled("--oidc-token=env://SIGSTORE_ID_TOKEN", "--oidc-token", SECRETS),
        Spelled("--oidc-token-env SIGSTORE_ID_TOKEN", "--oidc-token-env", ("publish",)),
    ),
)


def row(what: str) -> Row:
    """The row of ``what`` (a KeyError for a name no row has: a typo in the code, not the input)."""
    return next(r for r in ROWS if r.what == what)


def spell(what: str, front: Front) -> str:
    """How ``front`` spells ``what``, with its example value: for hints."""
    return row(what).spelled(front).text


def other_front(option: str, front: Front) -> Row | None:
    """The row whose other front end spells an option ``option`` that ``front`` does not take.

    ``--password`` typed to the CLI is the module's spelling of what the CLI calls --password-env.
    """
    flag = option.split("=", 1)[0]
    other = Front.CLI if front is Front.MODULE else Front.MODULE
    for candidate in ROWS:
        if candidate.spelled(other).option == flag and candidate.spelled(front).option != flag:
            return candidate
    return None
