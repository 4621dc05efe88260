"""Layered hook trees: the repository's tree, and optionally a user's tree on top of it.

A user's tree (``--hooks ./site``) has the same layout as ours. A file it holds at the same path
replaces ours, and its folders are merged with ours. Every file the core hands on is a
:class:`Ref`, which remembers the layer it came from, so plans can say "repo" or "user" and the
Dagger graph can take each file from the right directory.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.tree import Tree

REPO = "repo"
USER = "user"


@dataclass(frozen=True, order=True)
class Ref:
    """A file or folder of one layer."""

    layer: str
    path: str
    label: str = ""
    """How the user names the layer's root (e.g. "./site"); empty for the repository."""

    def __str__(self) -> str:
        return f"{self.label.rstrip('/')}/{self.path}" if self.label else self.path

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Layer:
    name: str
    tree: Tree
    label: str = ""


class Layers:
    """The repository's tree, with a user's tree over it when one is given."""

    def __init__(self, repo: Tree, user: Tree | None = None, *, user_label: str = "hooks") -> None:
        self.layers = [Layer(REPO, repo)]
        if user is not None:
            self.layers.append(Layer(USER, user, user_label))
        self._by_name = {layer.name: layer for layer in self.layers}

    @property
    def has_user(self) -> bool:
        return USER in self._by_name

    def tree(self, layer: str) -> Tree:
        return self._by_name[layer].tree

    def ref(self, layer: str, path: str) -> Ref:
        return Ref(layer, path, self._by_name[layer].label)

    def find_file(self, path: str) -> Ref | None:
        """``path`` from the top-most layer that holds it as a file."""
        for layer in reversed(self.layers):
            if layer.tree.is_file(path):
                return self.ref(layer.name, path)
        return None

    def dirs(self, path: str) -> list[Ref]:
        """``path`` in every layer that holds it as a folder, bottom layer first."""
        return [self.ref(layer.name, path) for layer in self.layers if layer.tree.is_dir(path)]

    def entries(self, path: str) -> dict[str, Ref]:
        """The entries of folder ``path`` merged over all layers (an upper layer's entry wins), by name."""
        merged: dict[str, Ref] = {}
        for layer in self.layers:
            for name in layer.tree.list_dir(path):
                merged[name] = self.ref(layer.name, f"{path}/{name}")
        return dict(sorted(merged.items()))

    def is_file(self, ref: Ref) -> bool:
        return self.tree(ref.layer).is_file(ref.path)

    def read_bytes(self, ref: Ref) -> bytes:
        return self.tree(ref.layer).read_bytes(ref.path)

    def head(self, ref: Ref, count: int) -> bytes:
        return self.tree(ref.layer).head(ref.path, count)

    def size(self, ref: Ref) -> int:
        return self.tree(ref.layer).size(ref.path)

    def digest(self, ref: Ref) -> str:
        return self.tree(ref.layer).digest(ref.path)
