"""Benchmark: `helios plan` against a bare `python -c 'import typer'` and a minimal typer app.

The engine-free commands must answer at the speed of a plain typer CLI, which means they must
not import dagger-io. A bare import leaves out what every typer app pays when it runs (typer
builds its commands with pydantic's help), so the minimal two-command app is shown too. Run from
the repository root:

    python tests/benchmarks/cli_startup.py [--runs 20] [--distro rhel]

It prints the median wall time of each command and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MINIMAL_APP = """
import typer
app = typer.Typer()
@app.command()
def plan(distro: str = typer.Option(...)) -> None:
    print(distro)
@app.command()
def other() -> None:
    pass
app()
"""


def median_seconds(command: list[str], runs: int) -> float:
    """Median wall time of ``command`` over ``runs`` runs, after one warm-up run."""
    subprocess.run(command, check=True, capture_output=True, cwd=REPO)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=REPO)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--distro", default="rhel")
    args = parser.parse_args()
    typer_only = [sys.executable, "-c", "import typer"]
    plan = [
        sys.executable,
        "-m",
        "pipeline",
        "plan",
        "--distro",
        args.distro,
        "--platform",
        "linux/amd64",
    ]
    minimal = [sys.executable, "-c", MINIMAL_APP, "plan", "--distro", args.distro]
    dagger_import = [sys.executable, "-c", "import dagger"]
    base = median_seconds(typer_only, args.runs)
    app = median_seconds(minimal, args.runs)
    helios = median_seconds(plan, args.runs)
    dagger = median_seconds(dagger_import, args.runs)
    print(f"python -c 'import typer'   {base * 1000:7.1f} ms")
    print(f"minimal typer app          {app * 1000:7.1f} ms")
    print(f"helios plan --distro {args.distro:<5} {helios * 1000:7.1f} ms")
    print(f"python -c 'import dagger'  {dagger * 1000:7.1f} ms  (what the CLI avoids)")
    print(f"ratio helios plan / import typer:       {helios / base:.2f}")
    print(f"ratio helios plan / minimal typer app:  {helios / app:.2f}")


if __name__ == "__main__":
    main()
