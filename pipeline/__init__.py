"""Helios: ready-to-run Linux desktop images for many distros, built with Dagger.

The engine-free core (catalogue, order, plan, validate) imports nothing of dagger-io; the
Dagger module lives in :mod:`pipeline.main` and the graph in :mod:`pipeline.graph`.
"""
