"""Release rules without an engine: registry addresses, image tags, and the distro x platform matrix.

Everything here is checked before anything runs, so a typo in an address or a tag never costs a build.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from pipeline.catalogue import Catalogue
from pipeline.errors import HeliosError
from pipeline.imageref import NAME, TAG
from pipeline.platforms import PLATFORMS, check_platform
from pipeline.spelling import Front, spell

DEFAULT_PLATFORMS = tuple(PLATFORMS)
LATEST = "latest"
# 9999-12-31T23:59:59Z: the "created" label is RFC 3339 with a four-digit year.
MAX_EPOCH = 253402300799


def helios_version() -> str:
    """The installed version of the ``helios`` project, for tags and labels (0.0.0 when not installed)."""
    # Imported here: reading package metadata costs time the engine-free commands never need.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("helios")
    except PackageNotFoundError:
        return "0.0.0"


def check_address(address: str) -> str:
    """A registry repository address such as ghcr.io/org/helios (without a tag or digest)."""
    text = address.strip()
    if "@" in text:
        raise HeliosError(
            f"address {address!r} holds a digest", hint="give the repository only, e.g. ghcr.io/org/helios"
        )
    last = text.rsplit("/", 1)[-1]
    if ":" in last:
        raise HeliosError(
            f"address {address!r} holds a tag", hint="give the repository only and pass tags with --tag"
        )
    if not NAME.fullmatch(text):
        raise HeliosError(
            f"{address!r} is not a valid registry address",
            hint="use [registry[:port]/]path in lower case, e.g. ghcr.io/org/helios or localhost:5000/helios",
        )
    return text


def check_tag(tag: str) -> str:
    """An image tag: letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-'."""
    if not TAG.fullmatch(tag):
        raise HeliosError(
            f"{tag!r} is not a valid image tag",
            hint="use up to 128 of A-Z a-z 0-9 _ . - (not starting with . or -)",
        )
    return tag


def default_tags(version: str, distro: str, *, is_default: bool, channel: str | None = None) -> list[str]:
    """Release tags ``<version>-<distro>``, ``<distro>`` and ``latest`` for the default distro.

    On a ``channel`` (e.g. "unstable" for builds of main) they are ``<channel>-<distro>`` and,
    for the default distro, ``<channel>``, so such builds never overwrite a release's tags.
    """
    if channel is not None:
        return [f"{channel}-{distro}", *([channel] if is_default else [])]
    tags = [f"{version}-{distro}", distro]
    return [*tags, LATEST] if is_default else tags


def tags_for(
    version: str,
    distro: str,
    *,
    is_default: bool,
    override: Sequence[str] | None,
    channel: str | None = None,
) -> list[str]:
    """The tags to push: the ``override`` list when given, else :func:`default_tags`; all validated."""
    if override and channel is not None:
        raise HeliosError(
            "both custom tags and a channel were given", hint="use --tag or --channel, not both"
        )
    if override:
        chosen = list(override)
    else:
        checked = None if channel is None else check_tag(channel)  # "" is refused, not taken as none
        chosen = default_tags(version, distro, is_default=is_default, channel=checked)
    return [check_tag(tag) for tag in dict.fromkeys(chosen)]


def public_url(url: str) -> str:
    """``url`` without user info (``user:token@``), query or fragment: what may go into a label.

    CI checkouts often carry a job token in the remote (https://ci-token:SECRET@host/repo.git), and
    labels are public. scp-like remotes (``user@host:path``) lose the ``user@`` the same way.
    """
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme and parts.netloc:
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    head, slash, tail = text.partition("/")
    return head.rpartition("@")[2] + slash + tail


@dataclass(frozen=True)
class Metadata:
    """What an image's labels and file times are derived from.

    ``source_url`` is stored without credentials (see :func:`public_url`), whoever builds it.
    """

    version: str
    revision: str = ""
    source_url: str = ""
    epoch: int = 0
    """SOURCE_DATE_EPOCH: the created label and the time of every file the image stage copies."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "source_url", public_url(self.source_url))
        if not 0 <= self.epoch <= MAX_EPOCH:
            raise HeliosError(
                f"SOURCE_DATE_EPOCH {self.epoch} is outside 0..{MAX_EPOCH} (1970 to the year 9999)",
                hint="pass the commit time in seconds since 1970, e.g. git log -1 --format=%ct",
            )


@dataclass(frozen=True)
class Target:
    """One image to build: a distro for one platform."""

    distro: str
    platform: str


def select_distros(catalogue: Catalogue, names: Iterable[str] | None) -> list[str]:
    """Canonical names of the chosen distros (aliases resolved), or all of them; no duplicates."""
    chosen = list(names or [])
    if not chosen:
        return catalogue.names()
    return list(dict.fromkeys(catalogue.get(name).name for name in chosen))


def matrix(
    catalogue: Catalogue, distros: Iterable[str] | None, platforms: Iterable[str] | None
) -> list[Target]:
    """Every chosen distro for every chosen platform (defaults: all distros, amd64 and arm64)."""
    chosen_platforms = list(dict.fromkeys(check_platform(p) for p in (platforms or DEFAULT_PLATFORMS)))
    return [Target(d, p) for d in select_distros(catalogue, distros) for p in chosen_platforms]


def tags_by_distro(
    distros: Sequence[str],
    version: str,
    defaults: Sequence[str],
    override: Sequence[str] | None,
    channel: str | None = None,
) -> dict[str, list[str]]:
    """The tags each distro is pushed under; ``defaults`` names the distros also tagged latest.

    Custom tags (``override``) name one image, so they are refused for several distros.
    """
    unique = list(dict.fromkeys(distros))
    if override and len(unique) > 1:
        raise HeliosError(
            f"custom tags were given for {len(unique)} distros", hint="--tag is for one distro at a time"
        )
    return {
        d: tags_for(version, d, is_default=d in defaults, override=override, channel=channel) for d in unique
    }


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_password_env(
    name: str,
    environ: Mapping[str, str],
    *,
    option: str = "--password-env",
    what: str = "password",
    example: str = "REGISTRY_TOKEN",
) -> None:
    """``name`` names a set, non-empty environment variable; errors never show ``name`` itself.

    A token pasted into --password-env (or another ``option`` naming a secret's variable) by mistake
    would otherwise be printed into CI logs.
    """
    how = f"export the {what} in a variable and pass its name, e.g. {option} {example}"
    if not _ENV_NAME.fullmatch(name):
        raise HeliosError(
            f"{option} takes the NAME of an environment variable, and the value given is not a "
            f"variable name (not shown: it may be the {what} itself)",
            hint=how,
        )
    if not environ.get(name):
        raise HeliosError(
            f"the environment variable {option} names is not set or empty (name not shown: it "
            f"may be the {what} itself)",
            hint=how,
        )


def check_credentials(username: str | None, has_password: bool, front: Front) -> None:
    """A registry login needs both a username and a password secret, or neither.

    The hint names the password option as ``front`` (the module or the CLI) spells it.
    """
    password = spell("the registry password", front)
    if username is not None and not has_password:
        raise HeliosError(
            f"--username {username} was given without a password",
            hint=f"pass the password as a secret, e.g. {password}",
        )
    if has_password and username is None:
        raise HeliosError("a password was given without --username", hint="pass both, or neither")
