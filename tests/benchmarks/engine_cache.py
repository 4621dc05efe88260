"""Benchmark: what a real engine re-runs after one edit, beside what the offline graph walk predicts.

For each edit (one line appended to one file of a copy of the tree), the walk of tests/dagwalk.py
says which execs change their cache key; then `helios build` runs on the engine, and the engine's
own log says which hook execs it started (it logs "starting container" with the exec's arguments
for each one it runs; what it answers from its cache it does not start). Any difference is a bug,
in the graph or in the walk. The engine must be a container of the local Docker
(_EXPERIMENTAL_DAGGER_RUNNER_HOST=docker-container://NAME), whose log the benchmark reads. Run from
the repository root, with the build's own options after ``--``:

    python tests/benchmarks/engine_cache.py --tree TREE [--distro debian] [--edit PATH ...] \\
        -- --inputs MIRROR --offline --image-rewrite RULE

TREE is a checkout to copy (e.g. a stand-ins tree); the edits default to one file of each kind:
a common hook, kclient's hook, a library part and an overlay file. It prints one table row per
edit (and the warm rebuild with nothing changed first), with wall times.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pipeline import graph
from pipeline.graph import Sources
from pipeline.plan import Planner
from pipeline.platforms import host_default
from pipeline.tree import LocalTree
from tests.dagwalk import Keyer, exec_label, source_directory

DEFAULT_EDITS = (
    "common/build/system.sh",
    "common/build/kclient.sh",
    "common/build/lib/xorg.sh",
    "common/root/etc/helios/kasmvnc.yaml",
)
# The hook is the first /helios/hooks/ path of the logged arguments: the exec's only argument after
# the engine's init, or the last one after a wrapper's script (steps 9 and 10 run settled).
STARTED = re.compile(r'msg="starting container" args="\[(?:\\.|[^"\\])*?(/helios/hooks/[^ \]"\\]+)')


def predicted(tree: Path, distro: str, rewrite: Sequence[str]) -> dict[str, str]:
    """Every exec of the image's graph: its label -> its content-aware cache key."""
    from pipeline.imagerewrite import ImageRewrites

    plan = Planner(LocalTree(tree), rewrites=ImageRewrites(rewrite)).plan(distro, host_default())
    return Keyer(LocalTree(tree)).exec_keys(graph.image(Sources(source_directory()), plan))


def engine_reruns(engine_log: str) -> list[str]:
    """The hook execs the engine started, by label ("step 7"), from its log."""
    return sorted({exec_label([found.group(1)]) for found in STARTED.finditer(engine_log)}, key=_order)


def _order(label: str) -> tuple[int, str]:
    return (int(label.split()[1]), label)


def engine_log_since(container: str, since: str) -> str:
    proc = subprocess.run(["docker", "logs", "--since", since, container], capture_output=True, text=True,
                          check=True)  # fmt: skip
    return proc.stdout + proc.stderr


def build(tree: Path, distro: str, options: Sequence[str], container: str) -> tuple[float, list[str]]:
    """`helios build` of ``tree`` on the engine; wall seconds and the hook execs the engine ran."""
    env = {**os.environ, "NO_COLOR": "1"}
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "build", "-d", distro, *options],
        cwd=tree, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"the build failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    seconds = time.monotonic() - started
    return seconds, engine_reruns(engine_log_since(container, since))


def edit(tree: Path, path: str) -> None:
    """Append a comment that no earlier run wrote: the engine keeps the results of every run's edits,
    so a repeated comment would be answered from the cache and measure nothing."""
    target = tree / path
    text = target.read_text()
    comment = f"# edited for the cache benchmark: {uuid.uuid4().hex}\n"
    target.write_text(text + ("" if text.endswith("\n") else "\n") + comment)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tree", type=Path, required=True)
    parser.add_argument("--distro", default="debian")
    parser.add_argument("--edit", action="append", help="a path in the tree; repeatable")
    parser.add_argument("build_options", nargs="*")
    args = parser.parse_args()
    runner = os.environ.get("_EXPERIMENTAL_DAGGER_RUNNER_HOST", "")
    if not runner.startswith("docker-container://"):
        sys.exit(
            "engine_cache: set _EXPERIMENTAL_DAGGER_RUNNER_HOST=docker-container://NAME (the log is read)"
        )
    container = runner.removeprefix("docker-container://")
    rewrite = [args.build_options[i + 1] for i, o in enumerate(args.build_options) if o == "--image-rewrite"]
    work = Path(tempfile.mkdtemp(prefix="helios-cache-bench-"))
    tree = work / "tree"
    shutil.copytree(args.tree, tree, symlinks=True)
    print("| edit | predicted re-runs (walk) | re-ran on the engine | agree | wall |")
    print("|---|---|---|---|---:|")
    try:
        build(tree, args.distro, args.build_options, container)  # the cache now holds this tree
        seconds, ran = build(tree, args.distro, args.build_options, container)
        print(
            f"| (nothing: warm rebuild) | - | {', '.join(ran) or 'nothing'} | {'yes' if not ran else 'NO'} | {seconds:.0f} s |"
        )
        for path in args.edit or DEFAULT_EDITS:
            before = predicted(tree, args.distro, rewrite)
            edit(tree, path)
            after = predicted(tree, args.distro, rewrite)
            changed = {label for label in after if before.get(label) != after[label]}
            walk = sorted((label for label in changed if label.startswith("step")), key=_order)
            seconds, ran = build(tree, args.distro, args.build_options, container)
            agree = "yes" if walk == ran else "NO"
            print(f"| `{path}` | {', '.join(walk) or 'nothing'} | {', '.join(ran) or 'nothing'} | {agree} | {seconds:.0f} s |",
                  flush=True)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
