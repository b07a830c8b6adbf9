"""Energy and chain cuts (planner/solvers/time_cuts.py), re-insertion
(planner/solvers/schedule_reinsert.py) and the list-scheduling rules: valid on random
tiny time-aware problems against brute force over start times, and the two shapes of the
hard benchmark family that the per-period placement could not schedule."""

from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from test_schedule_model import _placements, _pool, timed

from planner.models.problem import IntArray, Problem
from planner.models.timing import Outage, Precedence, Timing
from planner.solvers import schedule_repair
from planner.solvers.base import SolveOptions, SolveStatus
from planner.solvers.feasibility import violations
from planner.solvers.greedy import GreedyBackend
from planner.solvers.options import Deadline
from planner.solvers.schedule_check import schedule_violations
from planner.solvers.schedule_cpsat import Scheduled, solve_schedule
from planner.solvers.schedule_reinsert import reinsert
from planner.solvers.schedule_repair import _moves, greedy_replace
from planner.solvers.schedule_shift import RULES, Stuck, schedule_list
from planner.solvers.time_cuts import start_windows, with_headroom, with_time_cuts

OPTIONS = SolveOptions(time_limit_s=10, workers=1, deterministic=True)


def _schedulable(problem: Problem, timing: Timing, x: IntArray) -> IntArray | None:
    for starts in itertools.product(range(timing.horizon + 1), repeat=problem.n_stages):
        start = np.array(starts, dtype=np.int64)
        if not schedule_violations(problem, timing, x, start):
            return start
    return None


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(timed())
def test_the_cuts_keep_every_placement_that_some_schedule_runs(
        case: tuple[Problem, Timing]) -> None:
    problem, timing = case
    cut = with_time_cuts(problem, timing, points=3)
    assert cut.n_options == problem.n_options
    assert (cut.opt_obj == problem.opt_obj).all()
    assert np.all(np.diff(cut.use_opt) >= 0), "usage rows stay in option order"
    early, late = start_windows(problem, timing)
    for x in _placements(problem):
        start = _schedulable(problem, timing, x)
        if start is None:
            continue
        assert not violations(cut, x), f"a cut removes a schedulable placement {x.tolist()}"
        _each_run_covers_its_windows(problem, timing, cut, x, start)
        for s in range(problem.n_stages):
            if x[problem.options_of(s)].any() and not timing.to_end[s]:
                assert start[s] >= early[s] or timing.late_cost[s]
                end = timing.stage_end(problem, x, start, s)
                assert end <= late[s] or timing.late_cost[s]


def _each_run_covers_its_windows(problem: Problem, timing: Timing, cut: Problem,
                                 x: IntArray, start: IntArray) -> None:
    """Every unit placed on an option runs in each cut's window ``[a, b)`` at least the
    hours its row claims (whatever the capacity left over)."""
    stage_of = np.repeat(np.arange(problem.n_stages), np.diff(problem.stage_ptr))
    for k in np.flatnonzero(cut.use_res >= len(problem.res_cap)):
        name = cut.res_names[int(cut.use_res[k])]
        o = int(cut.use_opt[k])
        if "@[" not in name or not x[o]:
            continue
        a, b = (int(v) for v in name.rsplit("@[", 1)[1].rstrip(")h").split(","))
        s = int(stage_of[o])
        t = int(start[s])
        run_end = timing.horizon if timing.to_end[s] else t + int(timing.opt_hours[o])
        overlap = max(0, min(run_end, b) - max(t, a))
        use = int(timing.use_now[(problem.use_opt == o)
                                 & (problem.use_res == _pool_of(name, problem))].sum())
        assert int(cut.use_amt[k]) <= use * overlap * 1000, (name, o, t)
    # A pool's own row tightened by the whole-horizon cut claims no more than each run holds.
    own = {(int(o), int(r)): int(a) for o, r, a in zip(problem.use_opt, problem.use_res,
                                                       problem.use_amt, strict=True)}
    for o, r, amt in zip(cut.use_opt.tolist(), cut.use_res.tolist(), cut.use_amt.tolist(),
                         strict=True):
        if r >= len(problem.res_cap) or own[(o, r)] == amt or not x[o]:
            continue
        s = int(stage_of[o])
        run = timing.horizon - int(start[s]) if timing.to_end[s] else int(timing.opt_hours[o])
        use = int(timing.use_now[(problem.use_opt == o) & (problem.use_res == r)].sum())
        assert amt <= use * min(run, timing.horizon) * 1000, (problem.res_names[r], o)


def _pool_of(name: str, problem: Problem) -> int:
    return problem.res_names.index(name.rsplit("@[", 1)[0])


def test_a_pipeline_on_options_too_slow_for_its_window_is_cut() -> None:
    # Training (4 h) then testing (6 h on the pool, or 8 h on a slower option), due at 10 h:
    # only the fast testing option meets the deadline; the chain cut says so, exactly.
    problem, timing = _pool([1, 1], use_now=[1, 1], cap=1, horizon=12, hours=[4, 6],
                            to_end=[False, False], precedence=(Precedence(0, 1),))
    problem = Problem(**{
        **problem.__dict__, "stage_ptr": np.array([0, 1, 3]),
        "opt_cost": np.array([100, 100, 50]), "opt_obj": np.array([100, 100, 50]),
        "opt_compute": np.array([100, 100, 50]), "opt_ub": np.ones(3, dtype=np.int64),
        "opt_site": np.zeros(3, dtype=np.int64), "opt_moved": np.zeros(3, dtype=bool)})
    timing = Timing(**{**timing.__dict__, "opt_hours": np.array([4, 6, 8]),
                       "due": np.array([12, 10])})
    cut = with_time_cuts(problem, timing)
    assert not violations(cut, np.array([1, 1, 0]))
    assert violations(cut, np.array([1, 0, 1]))
    placed = GreedyBackend().solve(cut, OPTIONS)
    assert placed.x.tolist() == [1, 1, 0]  # the cheaper slow option is not taken


def test_services_that_fit_the_period_but_not_the_last_hour_are_cut() -> None:
    # Two 3-node services go live at 365 h on a 4-node pool: 2 × 3 × 365 node-hours fit the
    # period (2,920), but both run in the last hour. The per-period placement accepts
    # them; with the cuts, the placement is refused before any scheduling.
    problem, timing = _pool([1, 1], use_now=[3, 3], cap=4, horizon=730, hours=[365, 365],
                            to_end=[True, True])
    timing = Timing(**{**timing.__dict__, "release": np.array([365, 365]),
                       "due": np.array([365, 365])})
    assert GreedyBackend().solve(problem, OPTIONS).objective is not None
    assert GreedyBackend().solve(with_time_cuts(problem, timing),
                                 OPTIONS).status is SolveStatus.INFEASIBLE
    assert solve_schedule(problem, timing, OPTIONS).solution.status is SolveStatus.INFEASIBLE


def test_two_runs_longer_than_half_the_horizon_on_a_pool_too_small_for_both_are_cut() -> None:
    # Two 3-node jobs of 400 h on a 4-node pool over 730 h: 2 × 3 × 400 node-hours fit the
    # period and every window from either end, but whatever their starts, both run at
    # 365 h. The instant where their compulsory parts meet has its own cut.
    problem, timing = _pool([1, 1], use_now=[3, 3], cap=4, horizon=730, hours=[400, 400],
                            to_end=[False, False])
    cut = with_time_cuts(problem, timing)
    assert any(name.endswith("@[365,366)h") for name in cut.res_names)
    broken = violations(cut, np.array([1, 1]))
    assert len(broken) == 1 and "@[365,366)h" in broken[0], broken
    assert solve_schedule(problem, timing, OPTIONS).solution.status is SolveStatus.INFEASIBLE


def test_the_whole_horizon_cut_tightens_the_pools_own_row_instead_of_copying_it() -> None:
    # Two runs of 5.5 h on a 1-node pool over 11 h: the period's capacity (11 node-hours)
    # holds both, but a schedule runs whole hours, 6 + 6 > 11. The whole-horizon cut says
    # so in the pool's own row (amounts no smaller, capacity no larger than the period's)
    # rather than in a copy of every row of the pool.
    problem, timing = _pool([1, 1], use_now=[1, 1], cap=1, horizon=11, hours=[6, 6],
                            to_end=[False, False])
    problem = dataclasses.replace(problem, use_amt=np.array([5500, 5500]))
    assert not violations(problem, np.array([1, 1]))
    cut = with_time_cuts(problem, timing)
    assert not any(name.endswith("@[0,11)h") for name in cut.res_names), cut.res_names
    assert cut.use_amt[cut.use_res == 0].tolist() == [6000, 6000]
    assert int(cut.res_cap[0]) == 11_000
    broken = violations(cut, np.array([1, 1]))
    assert "capacity:offer:onprem:dc/pool0: uses 12000 of 11000" in broken
    assert problem.use_amt.tolist() == [5500, 5500], "the problem itself is unchanged"


def test_headroom_shrinks_the_pools_and_their_windows_and_nothing_else() -> None:
    problem, timing = _pool([1, 1], use_now=[1, 1], cap=3, horizon=12, hours=[4, 6],
                            to_end=[False, False], precedence=(Precedence(0, 1),))
    timing = Timing(**{**timing.__dict__, "due": np.array([12, 9])})
    full = with_time_cuts(problem, timing)
    roomy = with_headroom(full, problem, timing, 0.5)
    assert full.res_names == roomy.res_names
    assert roomy.n_options == full.n_options and (roomy.use_amt == full.use_amt).all()
    for r, (name, a, b) in enumerate(zip(full.res_names, full.res_cap.tolist(),
                                         roomy.res_cap.tolist(), strict=True)):
        largest = int(full.use_amt[full.use_res == r].max(initial=0))
        pool = "@[" in name or name in problem.res_names
        assert b == (min(a, max(a // 2, largest)) if pool else a), name
    assert roomy.res_cap[0] == full.res_cap[0] // 2  # 18 node-hours of 36
    assert any(name.startswith("chain:") for name in full.res_names)


def test_headroom_leaves_room_for_a_stage_that_fills_the_pool_alone() -> None:
    # One 2-node job for the whole horizon on a 2-node pool: with 6 % of the pool held
    # back it would no longer fit anywhere.
    problem, timing = _pool([1], use_now=[2], cap=2, horizon=100, hours=[100],
                            to_end=[False])
    roomy = with_headroom(with_time_cuts(problem, timing), problem, timing, 0.94)
    assert not violations(roomy, np.array([1]))


@pytest.mark.parametrize(("use_now", "hours", "release", "rule"), [
    ([1, 1, 1], [5, 5, 10], [0, 0, 0], "longest"),
    ([1, 1, 2], [5, 5, 5], [0, 2, 0], "wide"),
], ids=["a job as long as the horizon", "a gang of the whole pool"])
def test_a_stage_stuck_by_deadline_order_runs_first_under_the_rule_made_for_it(
        use_now: list[int], hours: list[int], release: list[int], rule: str) -> None:
    # A 2-node pool over 10 h and three jobs. Longest: two 5 h jobs and a 10 h one, one
    # node each; by deadline (ties in index order) the short jobs run side by side and the
    # long one no longer fits. Wide: two 5 h single-node jobs (the second released at
    # 2 h) and a 5 h gang of both nodes; by deadline the single jobs run offset and the
    # gang never finds both nodes free in time. Under its rule, the third job runs at 0.
    problem, timing = _pool([1, 1, 1], use_now=use_now, cap=2, horizon=10, hours=hours,
                            to_end=[False, False, False])
    timing = dataclasses.replace(timing, release=np.array(release))
    x = np.ones(3, dtype=np.int64)
    with pytest.raises(Stuck) as stuck:
        schedule_list(problem, timing, x, rule="deadline")
    assert stuck.value.stage == 2
    _, start = schedule_list(problem, timing, x, rule=rule)
    assert start[2] == 0
    assert not schedule_violations(problem, timing, x, start)
    got = greedy_replace(problem, timing, x)
    assert got is not None and (got[0] == x).all()
    assert not schedule_violations(problem, timing, got[0], got[1])


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(timed())
def test_reinsertion_keeps_the_schedule_valid_and_never_costs_more(
        case: tuple[Problem, Timing]) -> None:
    problem, timing = case
    greedy = GreedyBackend().solve(problem, OPTIONS)
    if greedy.objective is None:
        return
    got = greedy_replace(problem, timing, greedy.x)
    if got is None:
        return
    x, start = got
    # from the costliest start: every stage on its most expensive option that schedules
    x2, start2, moved = reinsert(problem, timing, x, start, _moves(problem, timing))
    assert not violations(problem, x2)
    assert not schedule_violations(problem, timing, x2, start2)
    before = problem.objective(x) + timing.late_penalty(problem, x, start)
    after = problem.objective(x2) + timing.late_penalty(problem, x2, start2)
    assert after <= before
    assert moved == 0 or after < before


def _two_jobs() -> tuple[Problem, Timing]:
    """Two 10 h jobs on a 2-node pool over 20 h; the second may also run on an unlimited
    option at 9 × the price."""
    problem, timing = _pool([1, 1], use_now=[2, 2], cap=2, horizon=20, hours=[10, 10],
                            to_end=[False, False])
    problem = Problem(**{
        **problem.__dict__, "stage_ptr": np.array([0, 1, 3]),
        "opt_cost": np.array([100, 100, 900]), "opt_obj": np.array([100, 100, 900]),
        "opt_compute": np.array([100, 100, 900]), "opt_ub": np.ones(3, dtype=np.int64),
        "opt_site": np.zeros(3, dtype=np.int64), "opt_moved": np.zeros(3, dtype=bool)})
    timing = Timing(**{**timing.__dict__, "opt_hours": np.array([10, 10, 10])})
    return problem, timing


def test_reinsertion_moves_a_stage_back_to_the_cheap_pool_once_it_is_free() -> None:
    # The schedule has the second job on the expensive option though the pool is free
    # after the first job.
    problem, timing = _two_jobs()
    x = np.array([1, 0, 1])
    start = np.array([0, 0])
    assert not schedule_violations(problem, timing, x, start)
    x2, start2, moved = reinsert(problem, timing, x, start, _moves(problem, timing))
    assert moved == 1 and x2.tolist() == [1, 1, 0]
    assert start2.tolist() == [0, 10]
    assert not schedule_violations(problem, timing, x2, start2)


def test_reinsertion_past_its_deadline_leaves_the_schedule_as_it_is() -> None:
    # The same schedule, but the time is up: nothing moves (setting up a pass is itself
    # seconds at 200 k stages), and the answer is still the valid schedule given.
    problem, timing = _two_jobs()
    x, start = np.array([1, 0, 1]), np.array([0, 0])
    late = SolveOptions(time_limit_s=0.0, deadline=Deadline.after(0.0))
    x2, start2, moved = reinsert(problem, timing, x, start, _moves(problem, timing), late)
    assert moved == 0 and x2.tolist() == [1, 0, 1] and start2.tolist() == [0, 0]


def test_a_stage_that_would_be_late_moves_when_that_costs_less_than_the_late_hours() -> None:
    # The pool is busy until 10 h (the first job's hard deadline); the second job's soft
    # deadline is 10 h too. On the pool it ends at 20 h, 10 h late; its other option runs
    # at once for 800 more.
    problem, timing = _two_jobs()
    x = np.array([1, 1, 0])
    for rate, moved in ((100, True), (50, False)):  # 10 h late: 1,000 or 500 of penalty
        t = Timing(**{**timing.__dict__, "due": np.array([10, 10]),
                      "late_cost": np.array([0, rate])})
        gx, start = schedule_list(problem, t, x, _moves(problem, t))
        assert not schedule_violations(problem, t, gx, start)
        assert (gx.tolist() == [1, 0, 1]) is moved
        assert start.tolist() == ([0, 0] if moved else [0, 10])


def test_a_soft_deadline_orders_the_list_as_a_hard_one_would() -> None:
    # Both jobs on the pool: the first's hard deadline is the horizon (20 h), the
    # second's soft deadline 10 h. Ordered by hard limits only, the second went last and
    # ran 10 h late; its deadline puts it first, and both end in time.
    problem, timing = _two_jobs()
    t = Timing(**{**timing.__dict__, "due": np.array([20, 10]),
                  "late_cost": np.array([0, 100])})
    x, start = schedule_list(problem, t, np.array([1, 1, 0]))
    assert start.tolist() == [10, 0]
    assert not schedule_violations(problem, t, x, start)
    assert t.late_penalty(problem, x, start) == 0


def test_a_placement_nothing_can_schedule_falls_back_to_the_greedy_placement(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Two 2-node services go live at 10 h on a 2-node pool; the second may also run on an
    # unlimited option. A backend that puts both on the pool (capacity per period holds:
    # 2 × 2 × 10 node-hours of 40) cannot be scheduled, and here the repair finds nothing;
    # greedy's placement (the last-hour cut keeps one service off the pool) runs as placed.
    import planner.solvers.schedule_plan as sp
    from planner.solvers.base import Solution

    problem, timing = _two_jobs()
    timing = Timing(**{**timing.__dict__, "to_end": np.array([True, True]),
                       "release": np.array([10, 10]), "due": np.array([10, 10]),
                       "opt_hours": np.array([10, 10, 10])})

    class Packed:
        name = "packed"

        def solve(self, p: Problem, options: SolveOptions) -> Solution:
            x = np.array([1, 1, 0])
            return Solution("packed", SolveStatus.FEASIBLE, x, p.objective(x), 150, 0.0)

    monkeypatch.setattr(sp, "repair", lambda *a, **k: None)
    done = sp.place_and_schedule(problem, timing, Packed(), OPTIONS)  # type: ignore[arg-type]
    assert done.solution.x.tolist() == [1, 0, 1]
    assert "the packed placement could not be scheduled; greedy's instead" \
        in done.solution.detail
    # the larger of the two valid bounds: greedy proved its placement optimal on the cuts
    assert done.solution.bound == max(150, problem.objective(np.array([1, 0, 1])))
    assert not schedule_violations(problem, timing, done.solution.x, done.start)


def _placed_twice(monkeypatch: pytest.MonkeyPatch, second: list[int]
                  ) -> tuple[Problem, Timing, Scheduled, list[Problem]]:
    """Two 10 h jobs of a whole 2-node pool in a 15 h horizon: the backend's first
    placement puts both on the pool (per period it fits), the repair sends the second job
    to a $900 option; asked again, the backend answers ``second``."""
    import planner.solvers.schedule_plan as sp
    from planner.solvers.base import Solution

    problem, timing = _pool([1, 1], use_now=[2, 2], cap=2, horizon=20, hours=[10, 10],
                            to_end=[False, False])
    problem = Problem(**{
        **problem.__dict__, "stage_ptr": np.array([0, 1, 4]),
        "opt_cost": np.array([100, 100, 900, 500]), "opt_obj": np.array([100, 100, 900, 500]),
        "opt_compute": np.array([100, 100, 900, 500]), "opt_ub": np.ones(4, dtype=np.int64),
        "opt_site": np.zeros(4, dtype=np.int64), "opt_moved": np.zeros(4, dtype=bool)})
    timing = Timing(**{**timing.__dict__, "horizon": 15, "due": np.array([15, 15]),
                       "opt_hours": np.array([10, 10, 10, 10])})
    asked: list[Problem] = []

    class TwoPlacements:
        name = "two"

        def solve(self, p: Problem, options: SolveOptions) -> Solution:
            asked.append(p)
            x = np.array([1, 1, 0, 0] if len(asked) == 1 else second)
            return Solution("two", SolveStatus.FEASIBLE, x, p.objective(x),
                            150 if len(asked) == 1 else 10_000, 0.0)

    def repaired(p: Problem, t: Timing, x: IntArray, *args: object) -> Scheduled:
        xr = np.array([1, 0, 1, 0])
        return Scheduled(Solution("repair", SolveStatus.FEASIBLE, xr, p.objective(xr), None,
                                  0.0, "greedy re-placement"), np.zeros(2, dtype=np.int64),
                         np.zeros(2, dtype=np.int64))

    monkeypatch.setattr(sp, "repair", repaired)
    monkeypatch.setattr(sp, "CORES_SHARE", 0.0)  # no Benders cuts (tests/test_pool_cores.py)
    monkeypatch.setattr(sp, "_searched", lambda p, t, done, *a: done)
    monkeypatch.setattr(sp, "_polished", lambda p, t, done, *a: done)
    options = SolveOptions(time_limit_s=5, workers=1, deterministic=True)
    done = sp._solve(problem, timing, TwoPlacements(), options.started(),  # type: ignore[arg-type]
                     None, lambda _m: None)
    return problem, timing, done, asked


@pytest.mark.parametrize("second_cheaper", [True, False])
def test_a_placement_with_headroom_is_kept_when_its_schedule_costs_less(
        monkeypatch: pytest.MonkeyPatch, second_cheaper: bool) -> None:
    # The second placement, asked with headroom, leaves the pool to the first job and
    # takes the $500 option for the second (or, when it is no better, the repaired plan
    # stays). Either way the bound is the first placement's. (One pass of the repair
    # costs $600 against $200 placed: both are repaired only below HEADROOM_ALONE.)
    import planner.solvers.schedule_plan as sp

    monkeypatch.setattr(sp, "HEADROOM_ALONE", 10.0)
    want = [1, 0, 0, 1] if second_cheaper else [1, 0, 1, 0]
    problem, timing, done, asked = _placed_twice(monkeypatch, want)
    assert len(asked) == 2
    assert asked[1].res_cap[0] < asked[0].res_cap[0]
    assert asked[1].res_names == asked[0].res_names
    assert done.solution.x.tolist() == want
    assert ("left for packing" in done.solution.detail) is second_cheaper
    assert done.solution.bound == 150
    assert not schedule_violations(problem, timing, done.solution.x, done.start)


def _repairs_seen(monkeypatch: pytest.MonkeyPatch) -> list[IntArray]:
    """The placements the decomposed path schedules (and repairs), in order."""
    import planner.solvers.schedule_plan as sp

    repairs: list[IntArray] = []
    real = sp._decomposed

    def counted(p: Problem, t: Timing, placement: object, *a: object) -> Scheduled:
        repairs.append(placement.x)  # type: ignore[attr-defined]
        return real(p, t, placement, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(sp, "_decomposed", counted)
    return repairs


def test_without_time_for_two_repairs_one_pass_decides_and_only_the_second_is_scheduled(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The first placement used its whole share: one pass of the repair (the second job to
    # its $500 option, $600 against $200 placed) says the placement costs much to
    # schedule; the repair is never run on it, the second placement is scheduled.
    import planner.solvers.schedule_plan as sp

    monkeypatch.setattr(sp, "PLACEMENT_SHARE", 1e-9)
    repairs = _repairs_seen(monkeypatch)
    problem, timing, done, asked = _placed_twice(monkeypatch, [1, 0, 0, 1])
    assert len(asked) == 2
    assert [x.tolist() for x in repairs] == [[1, 0, 0, 1]]
    assert done.solution.x.tolist() == [1, 0, 0, 1]
    assert done.solution.bound == 150
    assert not schedule_violations(problem, timing, done.solution.x, done.start)


def test_when_one_pass_costs_much_only_the_placement_with_headroom_is_repaired(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Time for both, but one pass of the repair ($600 against $200 placed) costs more
    # than HEADROOM_ALONE over the first placement: the first is not repaired, the second
    # is scheduled and kept (no cheaper than the first's repair would be: the repair is
    # what a failed second falls back to).
    repairs = _repairs_seen(monkeypatch)
    problem, timing, done, asked = _placed_twice(monkeypatch, [1, 0, 1, 0])
    assert len(asked) == 2
    assert [x.tolist() for x in repairs] == [[1, 0, 1, 0]]
    assert "left for packing" in done.solution.detail
    assert done.solution.bound == 150
    assert not schedule_violations(problem, timing, done.solution.x, done.start)


def test_no_second_placement_when_the_repair_costs_little(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import planner.solvers.schedule_plan as sp

    monkeypatch.setattr(sp, "HEADROOM_TRIGGER", 0.9)  # $1,000 against $200: 80 % more
    _problem, _timing, done, asked = _placed_twice(monkeypatch, [1, 0, 0, 1])
    assert len(asked) == 1
    assert done.solution.x.tolist() == [1, 0, 1, 0]


def test_each_component_keeps_the_schedule_that_is_less_late() -> None:
    # Two independent stages (one on the pool, one on the unlimited option), both 10 h
    # late. CP-SAT's answer for the first is on time, for the second later still: the
    # first is taken, the second left as it was.
    from planner.solvers.schedule_plan import _less_late
    from planner.solvers.schedule_sub import SubResult

    problem, timing = _two_jobs()
    timing = Timing(**{**timing.__dict__, "due": np.array([10, 10]),
                       "late_cost": np.array([5, 5])})
    x, start = np.array([1, 0, 1]), np.array([10, 10])
    subs = [SubResult([0], True, np.array([0])), SubResult([1], True, np.array([12])),
            SubResult([1], False, np.array([0]))]
    got = _less_late(problem, timing, x, start, subs)
    assert got.tolist() == [0, 10]
    assert not schedule_violations(problem, timing, x, got)


def one_node_two_jobs(due: list[int]) -> tuple[Problem, Timing]:
    """One node over 10 h (10 node-hours per period) and two 6 h jobs, each on the node
    (100) or the cloud (A: 110, B: 1000), due at ``due``."""
    problem = Problem(
        n_stages=2, stage_ptr=np.array([0, 2, 4]), units=np.ones(2, dtype=np.int64),
        opt_cost=np.array([100, 110, 100, 1000]), opt_obj=np.array([100, 110, 100, 1000]),
        opt_compute=np.array([100, 110, 100, 1000]), opt_ub=np.ones(4, dtype=np.int64),
        opt_site=np.array([0, 1, 0, 1]), opt_moved=np.zeros(4, dtype=bool),
        use_opt=np.array([0, 2]), use_res=np.array([0, 0]), use_amt=np.array([6000, 6000]),
        res_cap=np.array([10_000]), res_names=("offer:onprem:dc/pool0",),
        site_names=("onprem:dc", "aws:us-east-1"), site_provider=("onprem", "aws"),
        site_cloud=(False, True), stage_keys=("w/a", "w/b"))
    timing = Timing(horizon=10, opt_hours=np.full(4, 6), release=np.zeros(2, dtype=int),
                    due=np.array(due), late_cost=np.zeros(2, dtype=int),
                    to_end=np.zeros(2, dtype=bool), use_now=np.array([1, 1]),
                    res_now=np.array([1]))
    return problem, timing


def test_the_regret_rule_keeps_on_the_pool_the_stage_that_costs_most_to_move() -> None:
    # One node over 10 h; two 6 h jobs, each with the node (100) or the cloud. A is due at
    # 6 h and moves for 10 more, B is due at 10 h and moves for 900 more. By deadline A
    # takes the node first and B, stuck, goes to the cloud; under the regret rule B runs
    # first and A, the cheap mover, goes. The repair keeps the cheaper answer.
    problem, timing = one_node_two_jobs(due=[6, 10])
    x = np.array([1, 0, 1, 0])
    moves = _moves(problem, timing)
    by_deadline, _ = schedule_list(problem, timing, x, moves, rule="deadline")
    by_regret, start = schedule_list(problem, timing, x, moves, rule="regret")
    assert np.flatnonzero(by_deadline).tolist() == [0, 3]  # B on the cloud: +900
    assert np.flatnonzero(by_regret).tolist() == [1, 2]  # A on the cloud: +10
    assert start[1] == 0
    got = greedy_replace(problem, timing, x)
    assert got is not None and np.flatnonzero(got[0]).tolist() == [1, 2]
    assert not schedule_violations(problem, timing, got[0], got[1])


def test_an_option_that_meets_an_outage_at_every_start_is_cut() -> None:
    # Two nodes; one is down over [3, 5) h and one over [8, 10) h. The job holds both
    # nodes for 4 h and starts between 2 and 7 h: each start meets one outage, though
    # some start misses each (so no energy window sees it), and no stretch with both
    # nodes up is 4 h long. Only its cloud option is left.
    problem = Problem(
        n_stages=1, stage_ptr=np.array([0, 2]), units=np.ones(1, dtype=np.int64),
        opt_cost=np.array([100, 400]), opt_obj=np.array([100, 400]),
        opt_compute=np.array([100, 400]), opt_ub=np.ones(2, dtype=np.int64),
        opt_site=np.array([0, 1]), opt_moved=np.zeros(2, dtype=bool),
        use_opt=np.array([0]), use_res=np.array([0]), use_amt=np.array([8000]),
        res_cap=np.array([24_000]), res_names=("offer:onprem:dc/pool0",),
        site_names=("onprem:dc", "aws:us-east-1"), site_provider=("onprem", "aws"),
        site_cloud=(False, True), stage_keys=("w/a",))
    outages = (Outage(0, 3, 5, 1), Outage(0, 8, 10, 1))
    timing = Timing(horizon=12, opt_hours=np.full(2, 4), release=np.array([2]),
                    due=np.array([11]), late_cost=np.zeros(1, dtype=int),
                    to_end=np.zeros(1, dtype=bool), use_now=np.array([2]),
                    res_now=np.array([2]), outages=outages)
    assert _schedulable(problem, timing, np.array([1, 0])) is None
    cut = with_time_cuts(problem, timing)
    assert violations(cut, np.array([1, 0]))
    assert not violations(cut, np.array([0, 1]))
    assert GreedyBackend().solve(cut, OPTIONS).x.tolist() == [0, 1]
    # With no other option the job keeps its own (the scheduler says it cannot run).
    alone, times = _pool([1], use_now=[2], cap=2, horizon=12, hours=[4], to_end=[False],
                         outages=outages)
    times = dataclasses.replace(times, release=np.array([2]), due=np.array([11]))
    assert not violations(with_time_cuts(alone, times), np.array([1]))
    # A window that reaches a 4 h stretch with both nodes up keeps the pool.
    roomy = dataclasses.replace(timing, outages=(Outage(0, 3, 5, 1),))
    assert not violations(with_time_cuts(problem, roomy), np.array([1, 0]))
    # A run of 0 hours holds the pool at no hour: it is never cut, even asking more nodes
    # than the pool has (found by the property test above: 2 nodes of a 1-node pool).
    instant = dataclasses.replace(timing, opt_hours=np.array([0, 4]), use_now=np.array([3]))
    assert _schedulable(problem, instant, np.array([1, 0])) is not None
    assert not violations(with_time_cuts(problem, instant), np.array([1, 0]))


def test_a_rule_whose_passes_keep_getting_stuck_leaves_the_next_rule_its_turn(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The first rule's passes keep getting stuck until its time is up (hard xl: 122 s of
    # the 116 s left, no schedule); the next rule must still get time of its own.
    problem, timing = one_node_two_jobs(due=[6, 10])
    x = np.array([1, 0, 1, 0])
    real = schedule_repair._replace
    left: dict[str, float] = {}

    def stuck_first(problem_: Problem, timing_: Timing, x_: IntArray, moves: object,
                    options: SolveOptions | None, rule: str) -> tuple[IntArray, IntArray] | None:
        assert options is not None
        left[rule] = options.remaining_s()
        if rule == RULES[0]:
            while not options.expired():
                time.sleep(0.01)
            return None
        return real(problem_, timing_, x_, moves, options, rule)  # type: ignore[arg-type]

    monkeypatch.setattr(schedule_repair, "_replace", stuck_first)
    options = SolveOptions(time_limit_s=0.8, workers=1).started()
    got = greedy_replace(problem, timing, x, options)
    assert left[RULES[0]] <= 0.8 / len(RULES) + 0.05
    assert left[RULES[1]] > 0.1  # its turn came before the deadline
    assert got is not None and not schedule_violations(problem, timing, *got)
