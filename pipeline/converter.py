"""One cattrs converter for building dagger-io queries, instead of a new one for every selection.

dagger-io 0.21 makes a ``Context`` for every selection (``container().from_(...)`` is two), and each
``Context`` builds its own cattrs converter in ``__post_init__``: most of the time it takes to build
a lazy graph goes there. A context uses its converter twice, in ``dagger/client/_core.py``:

- ``Context.select`` unstructures the selection's arguments. Nothing of that depends on the context
  (the JSON preset and the hook that writes enums by name), so one converter serves every context.
- ``Context.get_value`` structures a query's result, and there the converter does depend on its
  context: objects it makes carry it. So each context still gets its own, made as dagger-io makes
  it, but only when a result is structured.

:func:`share_converter` puts that in place by replacing ``make_converter`` of dagger-io's
``_core`` with a factory of :class:`SharedConverter`. Every query stays the same: tests/test_converter.py
builds every graph both ways and compares each selection, and tests/test_module_runtime.py checks
that it takes its place in the SDK the engine vendors. When dagger-io is not shaped as this
expects, or a sample selection built both ways differs, nothing is replaced and dagger-io keeps its
own way: slower, never different.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import dagger
from dagger.client import _core

CORE: Any = _core
"""dagger-io's query core, typed loosely: this module replaces its converter factory."""
ORIGINAL: Callable[[Any], Any] = CORE.make_converter
"""dagger-io's own factory, one converter per context."""


class SharedConverter:
    """A context's converter: one shared converter for arguments, the context's own for results."""

    __slots__ = ("_context", "_own")
    _shared: Any = None

    def __init__(self, context: Any) -> None:
        self._context = context
        self._own: Any = None

    @classmethod
    def shared(cls) -> Any:
        """The converter every context unstructures with, made once (with no context to carry)."""
        if cls._shared is None:
            cls._shared = ORIGINAL(None)
        return cls._shared

    def unstructure(self, obj: Any, unstructure_as: Any = None) -> Any:
        return self.shared().unstructure(obj, unstructure_as)

    def own(self) -> Any:
        """The converter dagger-io makes for this context, made the first time it is needed."""
        if self._own is None:
            self._own = ORIGINAL(self._context)
        return self._own

    def structure(self, obj: Any, cl: Any) -> Any:
        return self.own().structure(obj, cl)

    def __getattr__(self, name: str) -> Any:  # anything else a future SDK asks of it: its own
        return getattr(self.own(), name)


def _fits() -> bool:
    """dagger-io is shaped as this module expects: a factory of one context, a non-init field."""
    field = getattr(CORE.Context, "__dataclass_fields__", {}).get("converter")
    try:
        parameters = list(inspect.signature(ORIGINAL).parameters)
    except (TypeError, ValueError):
        return False
    return field is not None and not field.init and len(parameters) == 1


def _sample(make: Callable[[Any], Any]) -> Any:
    """A selection with the kinds of arguments a graph passes (strings, lists, numbers, booleans,
    enums written by name, scalars, objects), built with converters from ``make``."""
    CORE.make_converter = make
    try:
        client = dagger.Client()
        files = client.directory().with_new_file("a", "b", permissions=0o644)
        return list(
            client.container(platform=dagger.Platform("linux/arm64"))
            .from_("alpine")
            .with_mounted_cache("/c", client.cache_volume("k"), sharing=dagger.CacheSharingMode.LOCKED)
            .with_directory("/", files, exclude=["x"])
            .with_exec(["sh", "-c", "true"], expand=True)
            .as_tarball(media_types=dagger.ImageMediaTypes.DOCKER)
            ._ctx.selections
        )
    finally:
        CORE.make_converter = ORIGINAL


def share_converter() -> bool:
    """Have every dagger-io context unstructure with one converter; whether it is in place."""
    if CORE.make_converter is SharedConverter:
        return True
    if not _fits() or _sample(SharedConverter) != _sample(ORIGINAL):
        return False
    CORE.make_converter = SharedConverter
    return True
