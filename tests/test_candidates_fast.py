"""The array-native candidate path (large-portfolio mode) builds exactly the options and the
problem arrays of the object path: same options, same order, same integers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks.generate import Size, generate_portfolio
from planner import api
from planner.compile.arrays import build_problem
from planner.compile.candidates import generate
from planner.compile.candidates_fast import LazyOptions
from planner.compile.resolve import build_world


@pytest.fixture(scope="module")
def catalogs():  # type: ignore[no-untyped-def]
    return api.load_catalogs("catalogs")


def _portfolios(catalogs):  # type: ignore[no-untyped-def]
    yield api.load_portfolio("examples/hospital-group.yaml")
    yield api.load_portfolio("examples/carmaker.yaml")
    yield generate_portfolio("smoke", 3, catalogs)
    yield generate_portfolio(Size("tight", 150, 26), 1, catalogs)


def test_lazy_options_equal_the_object_path(catalogs) -> None:  # type: ignore[no-untyped-def]
    for portfolio in _portfolios(catalogs):
        world = build_world(portfolio, catalogs)
        full = generate(portfolio, world)  # object path (pruned options priced too)
        fast = generate(portfolio, world, keep_pruned_options=False)
        assert isinstance(fast.options, LazyOptions)
        assert [list(r) for r in fast.by_stage] == [list(r) for r in full.by_stage]
        assert list(fast.options) == list(full.options)
        key = f"{portfolio.workloads[0].id}/{portfolio.workloads[0].stages[0].label}"
        objects = generate(portfolio, world, keep_pruned_options=False,
                           previous={key: [("nowhere", "none")]})  # forces the object path
        assert not isinstance(objects.options, LazyOptions)
        assert fast.pruned.counts() == objects.pruned.counts()
        a, b = build_problem(full, world), build_problem(fast, world)
        for f in dataclasses.fields(a):
            va, vb = getattr(a, f.name), getattr(b, f.name)
            if isinstance(va, np.ndarray):
                assert np.array_equal(va, vb), f.name
                assert va.dtype == vb.dtype, f.name
            else:
                assert repr(va) == repr(vb), f.name
