"""Per-pool headroom of the second placement: each pool packed alone tells how much of
its capacity its runs can use (:mod:`planner.solvers.pool_room`)."""

from __future__ import annotations

import numpy as np
import pytest
from test_schedule_model import _pool

from planner.models.timing import Precedence
from planner.solvers.pool_room import FLOOR, headroom, linked_pools, lost_shares
from planner.solvers.time_cuts import with_headroom, with_time_cuts

ALL = np.ones(4, dtype=np.int64)


def _gang_and_job() -> tuple:
    # Pool 0 (2 nodes, 10 h): a 6 h gang of both nodes and a 6 h single-node job — 18 of
    # 20 node-hours, but never both at once. Pool 1 (2 nodes): two 5 h jobs that pack.
    return _pool([1, 1, 1, 1], use_now=[2, 1, 1, 1], cap=2, horizon=10,
                  hours=[6, 5, 6, 5], to_end=[False] * 4, pools=2)


def test_a_pool_loses_what_packing_it_alone_cannot_fit() -> None:
    problem, timing = _gang_and_job()
    # The gang goes first (more node-hours), the job no longer fits: 6 of 20 lost.
    assert lost_shares(problem, timing, ALL).tolist() == pytest.approx([0.3, 0.0])
    room = headroom(problem, timing, ALL, 0.94)
    assert room.tolist() == pytest.approx([max(FLOOR, 0.7), 1.0])


def test_a_pool_with_linked_runs_keeps_the_uniform_share() -> None:
    problem, timing = _gang_and_job()
    timing = type(timing)(**{**timing.__dict__, "precedence": (Precedence(1, 3),)})
    assert linked_pools(problem, timing, ALL).tolist() == [False, True]
    assert headroom(problem, timing, ALL, 0.94).tolist() == pytest.approx([0.8, 0.94])


def test_each_pool_and_its_windows_shrink_by_their_own_share() -> None:
    problem, timing = _gang_and_job()
    cut = with_time_cuts(problem, timing)
    roomy = with_headroom(cut, problem, timing, np.array([0.5, 1.0]))
    for r, name in enumerate(cut.res_names):
        pool = 0 if name.startswith("offer:onprem:dc/pool0") else 1
        largest = int(cut.use_amt[cut.use_res == r].max(initial=0))
        want = max(int(cut.res_cap[r] * 0.5), largest) if pool == 0 else int(cut.res_cap[r])
        assert int(roomy.res_cap[r]) == min(int(cut.res_cap[r]), want), name
    assert roomy.res_cap[0] < cut.res_cap[0] and roomy.res_cap[1] == cut.res_cap[1]
