"""The shared converter (pipeline/converter.py): every query as dagger-io builds it, built faster.

Results are still structured by each context's own converter, and where dagger-io differs from
what the module expects, dagger-io is left as it is.
"""

from __future__ import annotations

import sys
import time

import dagger
import pytest
from dagger.client import _core

from pipeline import converter, graph
from pipeline.plan import Planner
from pipeline.platforms import PLATFORMS
from pipeline.tree import LocalTree
from tests.conftest import REPO
from tests.dagwalk import Keyer, selections, source_directory


def matrix_images(monkeypatch, make) -> tuple[list[object], float]:
    """Every distro's image on every platform, built with converters from ``make``, and the time."""
    monkeypatch.setattr(_core, "make_converter", make)
    planner = Planner(LocalTree(REPO))
    plans = [planner.plan(d, p) for d in planner.catalogue.names() for p in PLATFORMS]
    start = time.perf_counter()
    images = [graph.image(graph.Sources(source_directory()), plan, labels={"a": "b"}) for plan in plans]
    return images, time.perf_counter() - start


@pytest.mark.real_versions
def test_every_graph_is_the_same_with_the_shared_converter_and_built_far_faster(monkeypatch):
    own, own_time = matrix_images(monkeypatch, converter.ORIGINAL)
    shared, shared_time = matrix_images(monkeypatch, converter.SharedConverter)
    assert len(own) == len(shared) == 14
    keyer = Keyer(LocalTree(REPO))
    for mine, theirs in zip(own, shared, strict=True):
        assert mine == theirs  # dagger-io's equality: the same selections, arguments and objects
        assert keyer.key(selections(mine)) == keyer.key(selections(theirs))
        assert keyer.exec_keys(mine) == keyer.exec_keys(theirs)
    assert shared_time * 10 < own_time, (shared_time, own_time)


def test_the_graph_module_puts_it_in_place():
    assert _core.make_converter is converter.SharedConverter


def test_a_result_is_structured_by_its_own_contexts_converter(monkeypatch):
    monkeypatch.setattr(_core, "make_converter", converter.SharedConverter)
    made: list[object] = []
    monkeypatch.setattr(converter, "ORIGINAL", lambda ctx: made.append(ctx) or _core.make_json_converter())
    first = dagger.Client().container().from_("alpine")._ctx
    second = dagger.Client().directory()._ctx
    assert made == [], "no context makes a converter of its own until it structures a result"
    assert first.converter.structure("x", str) == "x"
    assert made == [first]
    second.converter.structure(1, int)
    first.converter.structure(2, int)
    assert made == [first, second], "each context's own, made once"


def test_an_object_in_a_result_carries_the_context_that_structured_it(monkeypatch):
    monkeypatch.setattr(_core, "make_converter", converter.SharedConverter)
    context = dagger.Client().container()._ctx
    variable = context.converter.structure({"name": "HOME"}, dagger.EnvVariable)
    assert isinstance(variable, dagger.EnvVariable) and variable._ctx is context


def test_dagger_io_is_left_alone_when_a_selection_would_differ(monkeypatch):
    monkeypatch.setattr(_core, "make_converter", converter.ORIGINAL)
    monkeypatch.setattr(converter.SharedConverter, "unstructure", lambda self, obj, _=None: {})
    assert converter.share_converter() is False
    assert _core.make_converter is converter.ORIGINAL


def test_dagger_io_is_left_alone_when_it_is_shaped_otherwise(monkeypatch):
    monkeypatch.setattr(_core, "make_converter", converter.ORIGINAL)
    monkeypatch.setattr(converter, "ORIGINAL", lambda ctx, more: None)
    assert converter.share_converter() is False
    assert _core.make_converter is not converter.SharedConverter


def test_the_benchmark_counts_cattrs_converters(monkeypatch):
    """What tests/benchmarks/graph_matrix.py counts is what dagger-io really builds."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("graph_matrix", REPO / "tests/benchmarks/graph_matrix.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "graph_matrix", bench)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(_core, "make_converter", converter.ORIGINAL)
    with bench.ConverterCounter() as counted:
        dagger.Client().container().from_("alpine").with_exec(["true"])
    assert counted.count == 4  # the root context and one per selection
    monkeypatch.setattr(_core, "make_converter", converter.SharedConverter)
    converter.SharedConverter.shared()
    with bench.ConverterCounter() as counted:
        dagger.Client().container().from_("alpine").with_exec(["true"])
    assert counted.count == 0
