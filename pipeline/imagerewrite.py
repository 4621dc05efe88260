"""Image rewrites: pull every image Helios names from where an air-gapped site keeps it.

An engine behind a registry mirror (Dagger's ``engine.json``) already pulls ``debian:13.2`` from
it under the same name. Sites that keep images under *other* names (an internal registry with a
path per upstream, say) give rules ``FROM=TO``, applied to every image reference a build pulls: the
distros' base images (``--base`` too), the web stage's Node image and the publishing tools.

- ``FROM`` a registry or a repository prefix, ``TO`` another: the matching start is replaced and
  the rest kept, tag and digest included, so a digest pin still holds (the site's copy must be the
  same bytes). ``docker.io=registry.corp/hub`` sends ``debian:13.2`` to
  ``registry.corp/hub/library/debian:13.2``; ``docker.io/library/node=registry.corp/node`` only
  the Node image. The longest matching ``FROM`` wins.
- ``FROM`` with a tag or digest: that one image is replaced by ``TO``, a full reference with its
  own tag or digest (an image the site builds itself). Such rules win over prefix rules.

Names are compared as Docker normalises them: ``debian`` is ``docker.io/library/debian``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.errors import HeliosError
from pipeline.imageref import check_reference

DOCKER_HUB = "docker.io"
_HUB_ALIASES = ("index.docker.io", "registry-1.docker.io")
_REGISTRY = re.compile(r"(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|\[[0-9a-fA-F:]+\])(?::[0-9]+)?")
EXAMPLES = (
    "e.g. docker.io=registry.corp/hub, docker.io/library/node=registry.corp/node, "
    "or debian:13.2=registry.corp/debian:13.2-patched"
)


@dataclass(frozen=True)
class Reference:
    """An image reference split the way registries read it; ``name`` is normalised."""

    name: str
    """registry/path, e.g. docker.io/library/debian."""
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        return self.name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


def parse(text: str) -> Reference:
    """``text`` (a reference that passed :func:`check_reference`) split and normalised."""
    rest, _, digest = text.partition("@")
    slash, colon = rest.rfind("/"), rest.rfind(":")
    name, tag = (rest[:colon], rest[colon + 1 :]) if colon > slash else (rest, None)
    return Reference(normalise_name(name), tag, digest or None)


def normalise_name(name: str) -> str:
    """Docker's normal form of a repository name: registry first, ``library/`` for official images."""
    first, slash, remainder = name.partition("/")
    if slash and (first == "localhost" or "." in first or ":" in first):
        registry, path = first, remainder
    else:
        registry, path = DOCKER_HUB, name
    if registry in _HUB_ALIASES:
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return f"{registry}/{path}"


@dataclass(frozen=True)
class Rewrite:
    """One ``FROM=TO`` rule."""

    text: str
    """The rule as it was given."""
    source: str
    """A registry, a normalised repository prefix, or (exact rules) a normalised reference."""
    target: str
    exact: Reference | None
    """For a rule naming one image (with tag or digest): that image."""

    def apply(self, ref: Reference) -> str | None:
        """What ``ref`` becomes under this rule, or None when the rule does not match it."""
        if self.exact is not None:
            wanted = self.exact
            matches = (
                ref.name == wanted.name
                and (wanted.tag is None or wanted.tag == ref.tag)
                and (wanted.digest is None or wanted.digest == ref.digest)
            )
            return self.target if matches else None
        if ref.name == self.source or ref.name.startswith(self.source + "/"):
            return str(Reference(self.target + ref.name[len(self.source) :], ref.tag, ref.digest))
        return None


def parse_rule(text: str, *, where: str = "--image-rewrite") -> Rewrite:
    """A ``FROM=TO`` rule, checked; a HeliosError naming the rule and what is wrong."""
    source, equals, target = (part.strip() for part in text.partition("="))
    if not equals or not source or not target or "=" in target:
        raise HeliosError(f"{where} {text!r} is not FROM=TO", hint=f"write one rule per option, {EXAMPLES}")
    prefix, one_image = _side(source, f"{where} {text!r}: FROM")
    new_prefix, new_image = _side(target, f"{where} {text!r}: TO")
    if one_image is None and new_image is not None:
        raise HeliosError(
            f"{where} {text!r}: FROM names a registry or repository but TO names one image",
            hint="give FROM a tag or digest to replace one image, or drop TO's to rewrite the repository",
        )
    if one_image is not None and new_image is None:
        raise HeliosError(
            f"{where} {text!r}: FROM names one image, so TO must too",
            hint="give TO a tag or digest, e.g. registry.corp/node:22-bookworm",
        )
    if one_image is not None:
        return Rewrite(text, str(one_image), target, one_image)
    return Rewrite(text, prefix, new_prefix, None)


def _side(text: str, where: str) -> tuple[str, Reference | None]:
    """One side of a rule: its registry or normalised repository, and the image when it names one."""
    if "/" not in text and _REGISTRY.fullmatch(text):
        return (DOCKER_HUB if text in _HUB_ALIASES else text), None
    check_reference(text, where=where, hint=EXAMPLES)
    ref = parse(text)
    return (ref.name, None) if ref.tag is None and ref.digest is None else (str(ref), ref)


class ImageRewrites:
    """Every rule given, applied to each image reference a build pulls."""

    def __init__(self, rules: Iterable[str] = (), *, where: str = "--image-rewrite") -> None:
        self.rules = tuple(parse_rule(rule, where=where) for rule in rules)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def apply(self, reference: str) -> str:
        """``reference`` as the site keeps it; unchanged (as written) when no rule matches."""
        if not self.rules:
            return reference
        ref = parse(reference)
        exact = [rule for rule in self.rules if rule.exact is not None]
        prefixes = sorted((rule for rule in self.rules if rule.exact is None), key=lambda r: -len(r.source))
        for rule in (*exact, *prefixes):
            rewritten = rule.apply(ref)
            if rewritten is not None:
                return rewritten
        return reference


NO_REWRITES = ImageRewrites()
