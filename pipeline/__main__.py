"""`python -m pipeline` runs the `helios` CLI."""

from pipeline.cli import main

main()
