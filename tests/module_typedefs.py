"""The module's type definitions as the Dagger Python runtime registers them, built without an engine.

The runtime's entry point loads the main object through the `dagger.mod` entry point
(`dagger.mod.cli.load_module`) and calls `Module.register()`, which builds a lazy `dag.module()`
chain of type definitions and sends it with `await mod.id()`. Here `Module.id` is the only thing
replaced: it returns the chain it was called on, summarised, so the rest of the SDK's registration
path runs unchanged.

Run as a script (``python tests/module_typedefs.py``) it prints the summary as JSON, with the env the
runtime sets (DAGGER_MODULE, DAGGER_MAIN_OBJECT, DAGGER_DEFAULT_PYTHON_PACKAGE, DAGGER_MODULE_FILE).
It imports only dagger-io, so it also runs inside a bare module-runtime venv.
"""

from __future__ import annotations

import enum
import json
import os
import sys
from pathlib import Path
from typing import Any

Call = tuple[str, dict[str, Any]]


def chain(obj: Any) -> list[Call]:
    """The lazy query chain behind an SDK object: (field, args) pairs, object args expanded."""
    return [(field.name, {k: _value(v) for k, v in field.args.items()}) for field in obj._ctx.selections]


def _value(value: Any) -> Any:
    from dagger.client.base import Type

    if isinstance(value, Type):
        return chain(value)
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, list):
        return [_value(item) for item in value]
    return value


def _type(calls: list[Call]) -> str:
    """A TypeDef as a word: the object's name, the kind, or "[...]" around a list's element."""
    for name, args in calls:
        if name == "withObject":
            return str(args["name"])
        if name == "withKind":
            return str(args["kind"])
        if name == "withListOf":
            return f"[{_type(args['elementType'])}]"
    return "?"


def _function(calls: list[Call]) -> dict[str, Any]:
    """A Function definition: name, what it returns, cache policy (None when unset), argument names."""
    summary: dict[str, Any] = {"cache_policy": None, "time_to_live": None, "args": []}
    for name, args in calls:
        if name == "function":
            summary["name"] = args["name"]
            summary["returns"] = _type(args["returnType"])
        elif name == "withCachePolicy":
            summary["cache_policy"] = args["policy"]
            summary["time_to_live"] = args.get("timeToLive")
        elif name == "withArg":
            summary["args"].append(args["name"])
        elif name == "withDescription":
            summary["description"] = args["description"]
    return summary


def summarise(module_chain: list[Call]) -> dict[str, Any]:
    """Objects (with their constructor and functions) and enums of a registered module chain."""
    objects: dict[str, Any] = {}
    enums: list[str] = []
    for name, args in module_chain:
        if name == "withObject":
            obj: dict[str, Any] = {"functions": {}, "fields": []}
            for type_call, type_args in args["object"]:
                if type_call == "withObject":
                    obj["name"] = type_args["name"]
                elif type_call == "withFunction":
                    function = _function(type_args["function"])
                    obj["functions"][function["name"]] = function
                elif type_call == "withConstructor":
                    obj["constructor"] = _function(type_args["function"])
                elif type_call == "withField":
                    obj["fields"].append(type_args["name"])
            objects[obj["name"]] = obj
        elif name == "withEnum":
            enums.extend(a["name"] for call, a in args["enum"] if call == "withEnum")
    return {"objects": objects, "enums": enums}


async def register(module: Any) -> dict[str, Any]:
    """Run ``module.register()`` (the runtime's `--register` path) and return what it would send."""
    from dagger.client.gen import Module as ModuleDef

    async def capture(self: Any) -> Any:
        return summarise(chain(self))

    original = ModuleDef.id
    ModuleDef.id = capture  # type: ignore[method-assign]
    try:
        await module.register()  # writes the result to $DAGGER_MODULE_FILE
    finally:
        ModuleDef.id = original  # type: ignore[method-assign]
    return json.loads(Path(os.environ["DAGGER_MODULE_FILE"]).read_text())


def main() -> None:
    import anyio
    from dagger.mod.cli import load_module

    if not (os.environ.get("DAGGER_MAIN_OBJECT") and os.environ.get("DAGGER_MODULE_FILE")):
        sys.exit("set DAGGER_MODULE, DAGGER_MAIN_OBJECT and DAGGER_MODULE_FILE as the module runtime does")
    print(json.dumps(anyio.run(register, load_module()), indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
