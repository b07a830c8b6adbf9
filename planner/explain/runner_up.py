"""The runner-up of a stage and why it lost, in words that match the solver's status.

``delta_usd`` of a runner-up is one number, used by its ``why_not`` and by the stage's
``why``: the change of the plan's total cost (compute, data-flow and pipeline egress,
migration) if one unit of the stage — the whole stage, or one replica of a split
inference stage — ran on the runner-up instead of the chosen option (the cheapest chosen
one per unit), the rest of the plan unchanged. When that change would lower the plan's
objective, or the runner-up is cheaper per unit, the swap is checked against every side
rule (:mod:`planner.solvers.blockers`) and the rules it breaks are named.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from planner.compile.candidates import Candidates, Option
from planner.explain.conflicts import describe
from planner.explain.schedule_swap import ScheduleSwaps, SwapTime
from planner.models.plan import Alternative
from planner.models.portfolio import Portfolio
from planner.models.problem import IntArray, PEdge, Problem
from planner.models.status import SolveStatus
from planner.models.world import World
from planner.money import micro_to_usd
from planner.solvers.base import Deadline
from planner.solvers.blockers import INVENTORY, Blockers, SwapChecker, edges_by_stage, swap_delta
from planner.solvers.tuning import ANALYSE_MAX_STAGES, PLAN_BUDGET_S, STAGE_BUDGET_S

_LABELS = {"capacity": "capacity", "colocation": "co-location", "spread": "spread",
           "budget": "budget", "concentration": "provider concentration", "moves": "move cap"}


def money(micro: int) -> str:
    """Micro-dollars for a sentence: ``$1,639.94``."""
    return f"${micro / 1_000_000:,.2f}"


def signed(micro: int) -> str:
    """``+$0.20`` / ``-$1.43``."""
    return ("-" if micro < 0 else "+") + money(abs(micro))


def qualifier(status: SolveStatus, gap: float | None) -> str:
    """Where a choice holds: ``at the optimum`` only when the solver proved it."""
    if status is SolveStatus.OPTIMAL:
        return "at the optimum"
    if gap is None:
        return f"in this plan (not proven optimal; status {status.value})"
    return f"in this plan (not proven optimal; gap {gap * 100:.2f} %)"


@dataclass
class Explainer:
    """What the runner-up reasons need: the inputs, the incumbent and the check budget."""

    portfolio: Portfolio
    world: World
    cands: Candidates
    problem: Problem
    x: IntArray
    status: SolveStatus
    gap: float | None
    budget_s: float = field(default_factory=lambda: PLAN_BUDGET_S)
    checker: SwapChecker | None = None
    blocking: set[str] = field(default_factory=set)
    """Rule groups some runner-up was found to break (capacity ones mark binding resources)."""
    edges: dict[int, list[PEdge]] | None = None
    """The pipeline edges touching each stage (built on first use)."""
    deadline: Deadline | None = None
    """The wall-clock end of plan building (None in deterministic mode: the deterministic
    budgets alone decide, so the same input gives the same reasons)."""
    schedule: ScheduleSwaps | None = None
    """The plan's schedule: a swap the rules per period admit must also find an hour where
    the option's pools have room at once (:mod:`planner.explain.schedule_swap`)."""

    def delta(self, option: int, source: int) -> tuple[int, int]:
        """The plan's real cost and objective change of the swap (micro-dollars)."""
        if self.edges is None:
            self.edges = edges_by_stage(self.problem)
        stage = int(self.cands.options[option].stage)
        return swap_delta(self.problem, self.x, option, source, self.edges.get(stage, []))

    @property
    def qual(self) -> str:
        return qualifier(self.status, self.gap)

    def analysable(self) -> bool:
        return self.problem.n_stages <= ANALYSE_MAX_STAGES

    def check(self, option: int, source: int) -> Blockers | None:
        """The swap's blockers, or None when the plan's check budget is spent."""
        if self.deadline is not None and self.deadline.expired():
            return None
        if self.checker is None:
            self.checker = SwapChecker(self.problem, self.x, deadline=self.deadline)
        left = self.budget_s - self.checker.spent_s
        if left <= 0:
            return None
        result = self.checker.check(option, min(STAGE_BUDGET_S, left), source)
        self.blocking.update(result.rules)
        return result

    def rule_text(self, name: str) -> str:
        if name == INVENTORY:
            return "inventory: the offer holds no more units at once"
        kind = name.partition(":")[0]
        text = describe(name, self.portfolio, self.world, self.cands)
        if kind == "budget":
            return text
        return f"{_LABELS.get(kind, kind)}: {text}"


def _used_options(problem: Problem, x: IntArray, stage: int) -> list[int]:
    r = problem.options_of(stage)
    return [r.start + int(i) for i in np.flatnonzero(x[r.start:r.stop])]


def runner_up(ex: Explainer, stage: int) -> Alternative | None:
    """The cheapest option of the stage the plan does not use, its cost delta and why not."""
    used = _used_options(ex.problem, ex.x, stage)
    if not used:
        return None
    source = min(used, key=lambda o: (int(ex.problem.opt_obj[o]), o))
    chosen = [ex.cands.options[o] for o in used]
    for i in ex.cands.by_stage[stage]:
        alt = ex.cands.options[i]
        if any(_same(alt, c) for c in chosen):
            continue
        cost, objective = ex.delta(i, source)
        why, rules = _why_not(ex, i, source, alt, ex.cands.options[source], cost, objective)
        return Alternative(site=alt.site_id, offer=alt.offer_id, purchase=alt.purchase,
                           total_usd=micro_to_usd(alt.cost_micro),
                           delta_usd=micro_to_usd(cost), why_not=why,
                           rule=", ".join(rules) or None)
    return None


def _same(a: Option, b: Option) -> bool:
    return (a.site_id, a.offer_id, a.purchase) == (b.site_id, b.offer_id, b.purchase)


def _why_not(ex: Explainer, option: int, source: int, alt: Option, best: Option, cost: int,
             objective: int) -> tuple[str, list[str]]:
    if alt.objective_micro < best.objective_micro:
        lead = ("cheaper per unit" if alt.cost_micro < best.cost_micro else
                "cheaper per unit after the spot-risk uplift and the preference surcharge")
        return _blocked(ex, option, source, cost, objective, lead)
    if objective < 0:
        return _blocked(ex, option, source, cost, objective, "cheaper in the plan")
    if objective == 0:
        return "same cost; tie broken by site and offer name", []
    if cost > 0:
        return f"costs {money(cost)} more", []
    return (f"no cheaper, but {money(objective)} worse after the spot-risk uplift or the "
            "preference surcharge"), []


def _blocked(ex: Explainer, option: int, source: int, cost: int, objective: int,
             lead: str) -> tuple[str, list[str]]:
    """A runner-up that is cheaper per unit (or would lower the objective): which rules it
    breaks, or that it loses on total cost."""
    if not ex.analysable():
        return (f"{lead}, but blocked by capacity or side constraints "
                "(not analysed for large portfolios)"), []
    found = ex.check(option, source)
    if found is None:
        return (f"{lead}; the rules that block it were not analysed "
                "(the explanation time budget is spent)"), []
    if found.rules:
        broken = "; ".join(ex.rule_text(n) for n in found.rules)
        text = f"{lead}, but with the rest of the plan unchanged it breaks {broken}"
        if not found.decided:
            text += " (analysis stopped at its time budget; there may be more)"
        return text, found.rules
    if not found.decided:
        return f"{lead}; the rules that block it were not found within the time budget", []
    when = _in_time(ex, option, source)
    if when is not None and when.start is None:
        return (f"{lead}, but with the rest of the plan unchanged it cannot run in time: "
                f"{when.reason}"), list(when.rules)
    late = 0 if when is None else when.late_delta
    return _loses_on_cost(ex, cost + late, objective + late, lead, late), []


def _in_time(ex: Explainer, option: int, source: int) -> SwapTime | None:
    """When the swapped stage could run with every other stage where and when it runs
    (None for a plan without a schedule)."""
    if ex.schedule is None:
        return None
    return ex.schedule.check(int(ex.cands.options[option].stage), source, option)


def _loses_on_cost(ex: Explainer, cost: int, objective: int, lead: str, late: int = 0) -> str:
    """No rule blocks the swap: it costs more in total (late penalties included), or the
    plan is not optimal."""
    penalty = f" (it would pay {money(late)} more in late penalties)" if late > 0 else ""
    return f"{lead} and allowed by every rule{penalty}{_cost_verdict(ex, cost, objective)}"


def _cost_verdict(ex: Explainer, cost: int, objective: int) -> str:
    if objective >= 0 and cost > 0:
        return (", but it loses on total cost: with pipeline egress (model artifact moves) "
                f"the plan would cost {money(cost)} more")
    if objective >= 0:
        return (f" ({money(-cost)} cheaper), but {signed(objective)} in the objective after "
                "the spot-risk uplift or the preference surcharge")
    found = (f"the solver did not find this improvement "
             f"({ex.qual.removeprefix('in this plan (').removesuffix(')')})"
             if ex.status is not SolveStatus.OPTIMAL
             else "yet the solver reported the plan optimal: this is a planner bug")
    return f": it would lower the plan's cost by {money(-cost)}; {found}"


def stay_reason(ex: Explainer, stage: int, option: int) -> str:
    """Why a moved stage left its previous option although that option is still offered
    and no dearer per unit: the rules staying would break, or what staying would cost."""
    used = _used_options(ex.problem, ex.x, stage)
    fallback = f"the previous option does not fit capacity or the other rules {ex.qual}"
    if not used or ex.problem.units[stage] != 1 or not ex.analysable():
        return fallback
    source = min(used, key=lambda o: (int(ex.problem.opt_obj[o]), o))
    cost, objective = ex.delta(option, source)
    found = ex.check(option, source)
    if found is None or not found.decided:
        return fallback
    if found.rules:
        return ("staying, with the rest of the plan unchanged, would break "
                + "; ".join(ex.rule_text(n) for n in found.rules))
    when = _in_time(ex, option, source)
    if when is not None and when.start is None:
        return f"staying, with the rest of the plan unchanged, cannot run in time: {when.reason}"
    late = 0 if when is None else when.late_delta
    return "staying is allowed by every rule" + _cost_verdict(ex, cost + late, objective + late)
