"""Benchmark: the graph of every distro on both platforms, what one edit re-runs, and what it costs.

For the 7 x 2 matrix of the repository's distros and platforms it prints:

- the execs of the lazy graph (per image, and distinct: execs that several images share count once),
  and that the walk saw every exec the graph holds;
- the blast radius of one edit of each hook, drop-in, library part, extra file, overlay and pin: the
  execs whose cache key changes (re-run), against the execs that read the edit and every exec that
  runs after them or on their output (reads);
- the time to plan the matrix, and to build its graph, as a ratio to planning, with the number of
  cattrs converters dagger-io made while building it.

What reads an edit is decided without the pipeline's own bookkeeping: a script is read by the execs
that run it; a library part by the execs whose script calls one of its functions or reads one of its
variables, directly or through other parts, as shfmt's syntax tree shows (tests/shellast.py); a file
beside a hook by the execs that have it mounted, except where the hook's own rule skips it
(:data:`HOOK_RULES`); an overlay by the exec that gives its files the build's time, and by no
script; a pin by the execs whose own environment, base image or files hold the pinned value. Cache keys come from tests/dagwalk.py, which keys files by content as
the engine does. Run from the repository root:

    python tests/benchmarks/graph_matrix.py [--only SUBSTRING] [--rows all|over]
"""

from __future__ import annotations

import argparse
import copy
import fnmatch
import importlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pipeline import graph, shipping  # noqa: E402
from pipeline.plan import Planner  # noqa: E402
from pipeline.platforms import PLATFORMS  # noqa: E402
from pipeline.release import Metadata  # noqa: E402
from pipeline.tree import LocalTree  # noqa: E402
from pipeline.versions import load_versions  # noqa: E402
from tests.dagwalk import Exec, Keyer, reachable, selections, source_directory  # noqa: E402
from tests.shellast import library_calls, read_library  # noqa: E402

HOOK_RULES = {
    "*-file-transfer.patch": ("HELIOS_FILE_TRANSFER", "true"),
    "*webrtc-off*.patch": ("HELIOS_WEBRTC", "false"),
}
"""Files beside a hook that the hook reads only under a setting (the variable and its value):
common/build/kclient.sh applies kclient-*-file-transfer.patch only with HELIOS_FILE_TRANSFER=true,
common/build/novnc.sh the novnc-*webrtc-off*.patch files only with HELIOS_WEBRTC=false."""

METADATA = Metadata("1.0.0", "0123456789abcdef", "https://example.org/helios", 1700000000)
"""Labels and file times as a build from a checkout gets them."""
Image = tuple[str, str]
"""(distro, platform)."""
ExecId = tuple[Image, str]
"""An exec of one image, by its label."""


@dataclass(frozen=True)
class Matrix:
    """The walked graph of every image: each exec by image and label."""

    execs: dict[ExecId, Exec]
    plan_seconds: float
    graph_seconds: float
    converters: int
    selected: int
    """How many withExec selections the graphs hold: what the walk must see."""

    def distinct(self, ids: set[ExecId] | None = None) -> int:
        return len({self.execs[i].key for i in (self.execs if ids is None else ids)})


class ConverterCounter:
    """Counts the cattrs converters dagger-io makes (one per Context, unless shared): its _core
    makes each with cattrs' JSON preset, which it imports as make_json_converter."""

    def __init__(self) -> None:
        from dagger.client import _core

        self.module = _core
        self.count = 0

    def __enter__(self) -> ConverterCounter:
        made = self.module.make_json_converter

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return made(*args, **kwargs)

        self._made = made
        self.module.make_json_converter = counting
        return self

    def __exit__(self, *exc: object) -> None:
        self.module.make_json_converter = self._made


def walk(root: Path, versions: dict[str, Any]) -> Matrix:
    """Plan, build and walk the graph of every distro on every platform of the tree at ``root``."""
    start = time.perf_counter()
    planner = Planner(LocalTree(root), versions=versions)
    plans = [planner.plan(d, p) for d in planner.catalogue.names() for p in PLATFORMS]
    planned = time.perf_counter()
    with ConverterCounter() as counter:
        images = shipping.images_of(plans, graph.Sources(source_directory()), METADATA)
    built = time.perf_counter()
    keyer = Keyer(LocalTree(root))
    execs: dict[ExecId, Exec] = {}
    selected = 0
    for image in images:
        name = (image.plan.distro.name, image.plan.platform)
        for label, found in keyer.execs(image.image).items():
            execs[(name, label)] = found
        selected += len(
            {keyer.key(selections(obj)[: i + 1])
             for obj in reachable(image.image) for i, f in enumerate(selections(obj)) if f.name == "withExec"}
        )  # fmt: skip
    return Matrix(execs, planned - start, built - planned, counter.count, selected)


@dataclass(frozen=True)
class Edit:
    """One edit: what it is called, how to make it, and which execs read what it changes."""

    name: str
    apply: Callable[[Path, dict[str, Any]], None]
    reads: Callable[[ExecId, Exec], bool]


def scripts_run(found: Exec) -> str | None:
    """The source path of the script an exec runs (hooks only)."""
    return next((path for name, path in found.hook_files.items() if name[:2].isdigit()), None)


def file_edits(root: Path) -> Iterator[Edit]:
    """An edit of every file of every build folder, and of one file per overlay."""
    library = read_library(root / "common/build/lib")

    def append(path: str) -> Callable[[Path, dict[str, Any]], None]:
        def apply(tree: Path, _: dict[str, Any]) -> None:
            with (tree / path).open("ab") as stream:
                stream.write(b"\n# an edit\n")

        return apply

    calls: dict[str, set[str]] = {}

    def parts_of(script: str) -> set[str]:
        if script not in calls:
            calls[script] = library_calls(root / script, library)
        return calls[script]

    build_files = sorted(
        p.relative_to(root).as_posix()
        for p in [*root.glob("common/build/**/*"), *root.glob("distros/*/build/**/*")]
        if p.is_file()
    )
    for path in build_files:
        if path == "common/build/lib.sh":
            yield Edit(path, append(path), lambda _, e: scripts_run(e) is not None)
        elif path.startswith("common/build/lib/"):
            part = Path(path).stem
            yield Edit(path, append(path), lambda _, e, part=part: (s := scripts_run(e)) is not None
                       and part in parts_of(s))  # fmt: skip
        elif path.endswith(".sh"):
            yield Edit(path, append(path), lambda _, e, path=path: scripts_run(e) == path)
        else:
            yield Edit(path, append(path), lambda _, e, path=path: mounted_and_read(e, path))
    for folder in [
        "common/root",
        *sorted(p.relative_to(root).as_posix() for p in root.glob("distros/*/root")),
    ]:
        first = next((p for p in sorted((root / folder).rglob("*")) if p.is_file()), None)
        if first is not None:
            path = first.relative_to(root).as_posix()
            yield Edit(path, append(path), lambda _, e, folder=folder: f"content({folder}:" in e.own)


def mounted_and_read(found: Exec, path: str) -> bool:
    if path not in found.hook_files.values():
        return False
    name = path.rsplit("/", 1)[-1]
    for pattern, (variable, value) in HOOK_RULES.items():
        if fnmatch.fnmatch(name, pattern) and found.env.get(variable) != value:
            return False
    return True


def pin_edits(versions: dict[str, Any]) -> Iterator[Edit]:
    """An edit of the pin of every section of the versions file (its commit, checksum or image)."""
    for section, data in versions.items():
        if not isinstance(data, dict):
            continue
        for key, value in pin_values(section, data):
            old = value

            def apply(_: Path, pinned: dict[str, Any], section=section, key=key, old=old) -> None:
                target = pinned[section]
                for part in key[:-1]:
                    target = target[part]
                target[key[-1]] = flip(old)

            yield Edit(f"versions.toml [{section}] {'.'.join(key)}", apply,
                       lambda _, e, old=old: old in e.own)  # fmt: skip


def pin_values(section: str, data: dict[str, Any]) -> Iterator[tuple[tuple[str, ...], str]]:
    """The values that pin a section: its commit or sha256 (each architecture's), or its images."""
    if section == "images":
        yield from (((name,), value) for name, value in data.items())
        return
    for key in ("commit", "sha256", "sha256_noarch"):
        value = data.get(key)
        if isinstance(value, str):
            yield (key,), value
            return
        if isinstance(value, dict):
            yield from (((key, name), item) for name, item in value.items())
            return


def flip(value: str) -> str:
    """``value`` with its last character changed: a different pin of the same form."""
    return value[:-1] + ("1" if value[-1] != "1" else "2")


def blast(before: Matrix, after: Matrix, edit: Edit) -> tuple[set[ExecId], set[ExecId]]:
    """The execs ``edit`` re-runs, and the execs that read it or run after (or on) a reader."""
    rerun = {i for i, found in after.execs.items() if before.execs.get(i, found).key != found.key}
    rerun |= set(after.execs) ^ set(before.execs)
    readers = {i for i, found in before.execs.items() if edit.reads(i, found)}
    reads = set(readers)
    for i, found in before.execs.items():
        if any(r[0] == i[0] and found.depends_on(before.execs[r]) for r in readers):
            reads.add(i)
    return rerun, reads


@dataclass(frozen=True)
class Row:
    """One row of the blast-radius table."""

    edit: str
    rerun: set[ExecId]
    reads: set[ExecId]

    @property
    def over(self) -> bool:
        """Whether the edit re-runs an exec that neither reads it nor follows one that does."""
        return bool(self.rerun - self.reads)


def copy_tree(scratch: Path) -> Path:
    """The repository's tree (common/, distros/) copied into ``scratch``, to edit."""
    root = scratch / "tree"
    for folder in ("common", "distros"):
        shutil.copytree(REPO / folder, root / folder)
    return root


def blast_radius(root: Path, base: Matrix, versions: dict[str, Any], only: str = "") -> Iterator[Row]:
    """A row per edit of the tree at ``root`` (walked as ``base``) whose name holds ``only``."""
    for edit in [*file_edits(root), *pin_edits(versions)]:
        if only not in edit.name:
            continue
        tree = root.with_name("edited")
        shutil.copytree(root, tree)
        pinned = copy.deepcopy(versions)
        edit.apply(tree, pinned)
        try:
            rerun, reads = blast(base, walk(tree, pinned), edit)
        finally:
            shutil.rmtree(tree)
        yield Row(edit.name, rerun, reads)


def main() -> None:
    from dagger.client import _core

    shared_factory = getattr(importlib.import_module("pipeline.graph"), "share_converter", None)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="only the edits whose name holds this")
    parser.add_argument("--rows", choices=["all", "over"], default="all", help="every row, or those over")
    args = parser.parse_args()
    versions = copy.deepcopy(load_versions())
    with tempfile.TemporaryDirectory(prefix="helios-bench-") as scratch:
        root = copy_tree(Path(scratch))
        base = walk(root, versions)
        shared = "one per selection" if shared_factory is None else "one, shared"
        if shared_factory is not None and _core.make_converter.__name__ != "SharedConverter":
            shared = "one per selection (the shared one did not take its place)"
        print(f"images                 {len({i[0] for i in base.execs})}")
        print(f"execs                  {len(base.execs)}  (distinct: {base.distinct()})")
        print(f"execs in the graphs    {base.selected}  (the walk saw {len(base.execs)})")
        print(f"planning               {base.plan_seconds:7.3f} s")
        print(f"graph construction     {base.graph_seconds:7.3f} s  "
              f"({base.graph_seconds / base.plan_seconds:.2f} x planning)")  # fmt: skip
        print(f"cattrs converters made {base.converters} while building it (converters: {shared})")
        print()
        print(f"{'edit':<60}  re-run  reads  re-run distinct  reads distinct")
        over = 0
        for row in blast_radius(root, base, versions, args.only):
            over += row.over
            if args.rows == "all" or row.over:
                print(f"{row.edit:<60}  {len(row.rerun):6}  {len(row.reads):5}  "
                      f"{base.distinct(row.rerun & set(base.execs)):15}  {base.distinct(row.reads):14}"
                      + ("  over" if row.over else ""))  # fmt: skip
        print(f"\nrows over what reads the edit: {over}")


if __name__ == "__main__":
    main()
