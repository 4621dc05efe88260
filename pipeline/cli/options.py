"""The options of the `helios` commands, each declared once, and the groups several commands share.

A group is a frozen dataclass whose fields are typer options. A command takes a group as one
parameter (``trees: Trees``); :func:`grouped` shows typer the group's options in its place and
hands the command the group, built from them, so every command spells a shared option alike.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from pipeline.choice import Choice
from pipeline.errors import HeliosError
from pipeline.release import check_credentials, check_password_env
from pipeline.spelling import Front

RootOption = Annotated[
    Path | None,
    typer.Option(
        "--root",
        metavar="DIR",
        envvar="HELIOS_ROOT",
        help="The Helios tree (with common/ and distros/). Default: the nearest one above this folder.",
        show_default=False,
    ),
]
HooksOption = Annotated[
    Path | None,
    typer.Option(
        "--hooks",
        metavar="DIR",
        help="Your hooks tree, laid out like ours (common/build, common/root, distros/<d>/...), over ours.",
        show_default=False,
    ),
]
DistroOption = Annotated[
    str, typer.Option("--distro", "-d", metavar="NAME", help="Distro name or alias, e.g. rhel.")
]
PlatformOption = Annotated[
    str | None,
    typer.Option(
        metavar="PLATFORM", help="linux/amd64 or linux/arm64. Default: this machine's.", show_default=False
    ),
]
InputsOption = Annotated[
    Path | None,
    typer.Option(
        "--inputs",
        metavar="DIR",
        help="A local input mirror (sha256/, git/; see docs/inputs.md) to take pinned upstream inputs from.",
        show_default=False,
    ),
]
OfflineOption = Annotated[
    bool,
    typer.Option(
        "--offline",
        help="Never fetch a pinned input from upstream: one the --inputs mirror lacks is an error.",
    ),
]
ImageRewriteOption = Annotated[
    list[str] | None,
    typer.Option(
        "--image-rewrite",
        envvar="HELIOS_IMAGE_REWRITES",
        metavar="FROM=TO",
        help="Pull images from where your site keeps them: FROM=TO, e.g. docker.io=registry.corp/hub "
        "(repeatable; see docs/engine.md). The variable takes rules separated by blanks.",
        show_default=False,
    ),
]
BaseOption = Annotated[
    str | None,
    typer.Option(
        metavar="IMAGE", help="Replace the distro's base image, e.g. almalinux:9.6.", show_default=False
    ),
]
DistrosOption = Annotated[
    list[str] | None,
    typer.Option(
        "--distro", "-d", metavar="NAME", help="Distro name or alias; repeat for several.", show_default=False
    ),
]
AllOption = Annotated[bool, typer.Option("--all", help="Every distro of the catalogue.")]
OnlyDistrosOption = Annotated[
    list[str] | None,
    typer.Option(
        "--distro",
        "-d",
        metavar="NAME",
        help="Only these distros; repeatable. Default: all.",
        show_default=False,
    ),
]
"""For commands that cover every distro unless told otherwise (images, inputs)."""
OnlyPlatformsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--platform",
        metavar="PLATFORM",
        help="Only these platforms; repeatable. Default: linux/amd64 and linux/arm64.",
        show_default=False,
    ),
]
PlatformsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--platform",
        metavar="PLATFORM",
        help="linux/amd64 or linux/arm64; repeat for several.",
        show_default=False,
    ),
]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Trees:
    """The trees a command reads: ours (``--root``) and the user's hooks over it (``--hooks``)."""

    hooks: HooksOption = None
    root: RootOption = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Targets:
    """What `build` and `publish` build: distros (or ``--all``), platforms, and a base image."""

    distro: DistrosOption = None
    every: AllOption = False
    platform: PlatformsOption = None
    base: BaseOption = None

    def choice(self, default_platforms: tuple[str, ...]) -> Choice:
        """The choice these options make; an error when they name no distro, or name it twice over."""
        if self.every and self.distro:
            raise HeliosError("--all and --distro were both given", hint="use one of them")
        if not self.every and not self.distro:
            raise HeliosError("no distro chosen", hint="pass --distro NAME (repeatable) or --all")
        return Choice.of(self.distro, self.platform, default=default_platforms, base=self.base)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Fetching:
    """Where a build takes what it fetches: pinned inputs (``--inputs``, ``--offline``) and images."""

    mirror: InputsOption = None
    offline: OfflineOption = False
    image_rewrite: ImageRewriteOption = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class RegistryLogin:
    """The registry login of `publish`, as `dagger call with-registry` takes it: the password by name."""

    username: Annotated[
        str | None, typer.Option(metavar="NAME", help="Registry username.", show_default=False)
    ] = None
    password_env: Annotated[
        str | None,
        typer.Option(
            metavar="VAR",
            help="Name of the environment variable holding the registry password or token "
            "(never pass the password itself on the command line).",
            show_default=False,
        ),
    ] = None

    def check(self, environ: Mapping[str, str]) -> None:
        """Both or neither, and the variable set: before anything is built."""
        if self.password_env is not None:
            check_password_env(self.password_env, environ)
        check_credentials(self.username, self.password_env is not None, Front.CLI)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SigningKeys:
    """How `publish` signs, as `dagger call with-signing` takes it: a key file, variables by name."""

    cosign_key: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Sign the pushed digests with this cosign private key file.",
            show_default=False,
        ),
    ] = None
    cosign_password_env: Annotated[
        str | None,
        typer.Option(
            metavar="VAR",
            help="Name of the environment variable holding the cosign key's password.",
            show_default=False,
        ),
    ] = None
    oidc_token_env: Annotated[
        str | None,
        typer.Option(
            metavar="VAR",
            help="Sign keyless (Sigstore): name of the environment variable holding an OIDC token "
            "of audience sigstore.",
            show_default=False,
        ),
    ] = None

    def check(self, environ: Mapping[str, str] = os.environ) -> None:
        """The options agree, the key file is a cosign private key, the variables are set."""
        from pipeline.signing import check_key_file, check_signing_options  # imports dagger-io

        check_signing_options(
            key=self.cosign_key is not None,
            password=self.cosign_password_env is not None,
            token=self.oidc_token_env is not None,
        )
        if self.cosign_key is not None:
            check_key_file(self.cosign_key)
        if self.cosign_password_env is not None:
            check_password_env(self.cosign_password_env, environ, option="--cosign-password-env",
                               what="key password", example="COSIGN_PASSWORD")  # fmt: skip
        if self.oidc_token_env is not None:
            check_password_env(self.oidc_token_env, environ, option="--oidc-token-env", what="token",
                               example="SIGSTORE_ID_TOKEN")  # fmt: skip


GROUPS = (Trees, Targets, Fetching, RegistryLogin, SigningKeys)
Command = TypeVar("Command", bound=Callable[..., Any])


def grouped(command: Command) -> Command:
    """``command`` with each parameter typed as an option group shown to typer as the group's options.

    The command is called with the group, made from those options.
    """
    declared = inspect.signature(command, eval_str=True)
    groups: dict[str, type[Any]] = {}
    parameters: list[inspect.Parameter] = []
    for parameter in declared.parameters.values():
        if parameter.annotation not in GROUPS:
            parameters.append(parameter)
            continue
        group = parameter.annotation
        groups[parameter.name] = group
        hints = typing.get_type_hints(group, include_extras=True)
        parameters += [
            inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=field.default,
                              annotation=hints[field.name])
            for field in dataclasses.fields(group)
        ]  # fmt: skip
    names = [parameter.name for parameter in parameters]
    if len(names) != len(set(names)):
        raise TypeError(f"{command.__name__}: two options share a name among {names}")

    @functools.wraps(command)
    def call(**given: Any) -> Any:
        for name, group in groups.items():
            given[name] = group(**{field.name: given.pop(field.name) for field in dataclasses.fields(group)})
        return command(**given)

    shown = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in parameters]
    call.__signature__ = declared.replace(parameters=shown)  # type: ignore[attr-defined]
    call.__annotations__ = {p.name: p.annotation for p in shown}
    return typing.cast(Command, call)
