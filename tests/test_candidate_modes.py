"""Candidates with and without pruned options (explain mode / large-portfolio mode) hold
the same options in the same order and give the same problem arrays; pruned records name
their own workload even when the rule results are shared between workloads."""

from __future__ import annotations

import dataclasses
from unittest.mock import patch

import numpy as np
import pytest
from builders import NOW, portfolio, small_catalog, training, workload

from benchmarks.generate import Size, generate_portfolio
from planner import api
from planner.compile import pricing
from planner.compile.arrays import build_problem
from planner.compile.candidates import Rule, generate
from planner.compile.market import Market
from planner.compile.options import sort_per_stage
from planner.compile.resolve import build_world
from planner.errors import InputError


@pytest.fixture(scope="module")
def catalogs():  # type: ignore[no-untyped-def]
    return api.load_catalogs("catalogs")


def _portfolios(catalogs):  # type: ignore[no-untyped-def]
    yield api.load_portfolio("examples/hospital-group.yaml")
    yield api.load_portfolio("examples/carmaker.yaml")
    yield generate_portfolio("smoke", 3, catalogs)
    yield generate_portfolio(Size("tight", 150, 26), 1, catalogs)
    yield generate_portfolio("smoke", 2, catalogs, family="hard")


def test_both_modes_give_the_same_options_and_arrays(catalogs) -> None:  # type: ignore[no-untyped-def]
    for portfolio_ in _portfolios(catalogs):
        world = build_world(portfolio_, catalogs)
        full = generate(portfolio_, world)  # pruned options priced too
        fast = generate(portfolio_, world, keep_pruned_options=False)
        assert [list(r) for r in fast.by_stage] == [list(r) for r in full.by_stage]
        assert list(fast.options) == list(full.options)
        assert len(full.options) > 0
        a, b = build_problem(full, world), build_problem(fast, world)
        for f in dataclasses.fields(a):
            va, vb = getattr(a, f.name), getattr(b, f.name)
            if isinstance(va, np.ndarray):
                assert np.array_equal(va, vb), f.name
                assert va.dtype == vb.dtype, f.name
            else:
                assert repr(va) == repr(vb), f.name


def test_shared_rule_results_keep_each_workloads_name_in_reasons() -> None:
    sites = ["aws:eu-central-1"]
    p = portfolio([workload("alpha", [training()], sites=sites),
                   workload("beta", [training()], sites=sites)])
    world = build_world(p, [small_catalog()], now=NOW)
    for keep in (True, False):
        cands = generate(p, world, keep_pruned_options=keep)
        for stage, wid in ((0, "alpha"), (1, "beta")):
            reasons = {x.reason for x in cands.pruned.of_stage(stage)
                       if x.rule is Rule.RESIDENCY_SITE}
            assert reasons and all(f"for {wid}'s data" in r for r in reasons), reasons


def test_the_first_too_large_option_is_reported_whatever_the_chunk_size() -> None:
    big = training(hours=700, replicas=10**5, nodes=10**5)  # runs within the 730 h period
    p = portfolio([workload("small", [training()]), workload("huge", [big]),
                   workload("huger", [training(hours=700, replicas=10**6, nodes=10**5)])])
    world = build_world(p, [small_catalog()], now=NOW)
    messages = set()
    for chunk in (pricing.CHUNK, 1, 2):
        with patch.object(pricing, "CHUNK", chunk), pytest.raises(InputError) as err:
            generate(p, world)
        messages.add(str(err.value))
    assert len(messages) == 1
    assert next(iter(messages)).startswith("workloads[1].stages[0]: compute cost")


def test_both_sorts_of_the_option_table_agree() -> None:
    """The one-key sort and the three-key fallback (objectives too large to pack with the
    name rank) order options alike: by stage, objective, then names."""
    p = portfolio([workload(f"w{k}", [training(hours=h)]) for k, h in enumerate((10, 3, 7))])
    world = build_world(p, [small_catalog()], now=NOW)
    cands = generate(p, world)
    rank = Market(world).order()
    table = cands.options
    shuffled = np.random.default_rng(0).permutation(len(table))
    packed, fallback = table.take(shuffled), table.take(shuffled)
    sort_per_stage(packed, rank)
    sort_per_stage(fallback, rank * 2**50)  # too wide to pack: lexsort
    assert list(packed) == list(fallback) == list(table)


@pytest.mark.parametrize(("fixed", "gb"), [(10**9, 0), (0, 10**9)])
def test_a_too_large_migration_cost_is_reported(fixed: int, gb: int) -> None:
    """Moving costs the fixed fee plus the moved data's egress, per replica placed apart."""
    stage = {"kind": "inference", "gpu": {"models": {"A100-80GB": 1.0}}, "hours": 1,
             "replicas": 10**6, "split": True}
    p = portfolio([{**workload("w", [stage]), "model": {"size_gb": gb}}],
                  settings={"move_fixed_usd": fixed})
    world = build_world(p, [small_catalog()], now=NOW)
    with pytest.raises(InputError, match=r"^workloads\[0\]\.stages\[0\]: migration cost"):
        generate(p, world, previous={"w/inference": [("aws:eu-west-1", "g.a100")]})
