"""The verifier's checks of what a plan says about itself: its inputs, status and solver report.

* inputs: a plan records digests of its portfolio and catalogs (``inputs``) and the
  portfolio's name (``portfolio``); a plan made from other inputs, or naming another
  portfolio, is recognised as such instead of failing every rule;
* status: optimal/feasible plans place every stage (checked with coverage) and list
  no conflicts; partial plans place every stage of every workload they do not list as
  dropped, and nothing of those; infeasible/unknown plans place nothing;
* solver report: the objective is cost + spot risk + preference surcharge, the bound
  is not above it, the gap is (objective − bound) / objective, and "optimal" means
  the bound meets the objective.
"""

from __future__ import annotations

from decimal import Decimal

from planner.errors import API_SPELLING, Spelling
from planner.inputs.digest import catalogs_sha256, portfolio_sha256
from planner.models.plan import Plan
from planner.models.portfolio import Portfolio
from planner.models.status import SolveStatus
from planner.models.world import World
from planner.verify.base import Violation
from planner.verify.document import check_document

_GAP_TOLERANCE = 1e-6


def check_objective(plan: Plan, objective: Decimal) -> list[Violation]:
    """Objective, bound and gap agree with the costs and with each other."""
    out = []
    s = plan.solver
    if not plan.feasible:
        if s.objective_usd is not None:
            out.append(Violation("solver.objective", "solver.objective_usd",
                                 f"{plan.status.value} plan has no objective"))
        return out
    if s.objective_usd is not None and s.objective_usd != objective:
        out.append(Violation("totals", "solver.objective_usd",
                             f"{s.objective_usd} ≠ cost + spot risk + preference {objective}"))
    if s.bound_usd is not None and s.bound_usd > objective:
        out.append(Violation("solver.bound", "solver.bound_usd",
                             f"bound {s.bound_usd} above the objective {objective}"))
    if s.objective_usd is None or s.bound_usd is None:
        if s.gap is not None:
            out.append(Violation("solver.gap", "solver.gap",
                                 f"gap {s.gap} without both an objective and a bound"))
        return out
    obj, bound = s.objective_usd, s.bound_usd
    gap = float((obj - bound) / obj) if obj else 0.0
    if s.gap is None or abs(s.gap - gap) > _GAP_TOLERANCE:
        out.append(Violation("solver.gap", "solver.gap",
                             f"plan says {s.gap}; (objective − bound) / objective = {gap:.6f}"))
    if plan.status is SolveStatus.OPTIMAL and bound != obj:
        out.append(Violation("solver.gap", "status",
                             f"optimal, but the bound {bound} is below the objective {obj}"))
    return out


def check_status(plan: Plan) -> list[Violation]:
    """A plan places every stage exactly when it claims to be optimal or feasible; a
    partial plan leaves out the workloads it lists as dropped (and only those) and
    reports how well its solver did (optimal or feasible)."""
    out = []
    partial = plan.status is SolveStatus.PARTIAL
    found = (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    if partial and plan.solver.status not in found:
        out.append(Violation("status", "solver.status",
                             f"a partial plan's solver status is {plan.solver.status.value}, "
                             "not optimal or feasible"))
    if not partial and plan.solver.status is not plan.status:
        out.append(Violation("status", "solver.status",
                             f"{plan.solver.status.value} ≠ the plan's {plan.status.value}"))
    if partial != bool(plan.dropped):
        out.append(Violation("status", "dropped",
                             f"{plan.status.value} plan lists {len(plan.dropped)} dropped "
                             "workload(s)" if plan.dropped else
                             "partial plan lists no dropped workload"))
    if not plan.feasible and plan.placements:
        out.append(Violation("status", "status",
                             f"{plan.status.value} plan must not place stages"))
    if plan.feasible and not partial and (plan.conflicts or plan.unplaced):
        out.append(Violation("status", "status",
                             f"{plan.status.value} plan lists conflicts or unplaced stages"))
    dropped = {d.workload for d in plan.dropped}
    for u in plan.unplaced:
        if partial and u.workload not in dropped:
            out.append(Violation("status", f"unplaced ({u.workload}/{u.stage})",
                                 "unplaced stage of a workload the plan does not drop"))
    if plan.status is not SolveStatus.INFEASIBLE and plan.conflicts:
        out.append(Violation("status", "conflicts", f"{plan.status.value} plan lists conflicts"))
    seen: set[str] = set()
    for i, c in enumerate(plan.conflicts):  # a rule listed twice was "confirmed" twice
        if c.rule in seen:
            out.append(Violation("conflicts", f"conflicts[{i}]",
                                 f"rule {c.rule[:60]!r} is listed twice"))
        seen.add(c.rule)
    return out


def foreign_plan(portfolio: Portfolio, world: World, plan: Plan,
                 spelling: Spelling = API_SPELLING) -> str | None:
    """Why the plan was not made from these inputs, or None if it was (or cannot tell).

    A plan of another portfolio (its ``portfolio`` names another one, whatever its
    ``inputs`` say: as ``planner diff`` refuses two plans of different portfolios), of
    another version of this one, or priced with other catalogs is foreign. A plan the
    verifier cannot check at all raises :class:`~planner.errors.InputError` first
    (:func:`planner.verify.document.check_document`). ``spelling``: how the message names
    the catalogs argument (``catalogs=`` in Python, ``--catalogs`` on the command line)."""
    check_document(plan)
    if plan.inputs is not None and plan.inputs.scenario is not None:
        return (f"the plan was made under the what-if scenario {plan.inputs.scenario[:60]!r}, "
                "whose prices, capacity, sites or rules are not the portfolio's; verify the "
                "base plan, or write the scenario into the portfolio and re-plan")
    mine = portfolio_sha256(portfolio)
    if plan.inputs is not None and plan.inputs.portfolio_sha256 != mine:
        which = (f"another version of portfolio {portfolio.name!r}"
                 if plan.portfolio == portfolio.name
                 else f"portfolio {plan.portfolio!r}, not {portfolio.name!r}")
        return (f"the plan was made from {which} (portfolio_sha256 "
                f"{plan.inputs.portfolio_sha256[:12]}… ≠ {mine[:12]}…); verify it against the "
                "portfolio it was made from, or re-plan this one")
    if plan.portfolio != portfolio.name:
        return _other_name(portfolio, plan)
    if plan.inputs is not None and plan.inputs.catalogs_sha256 != catalogs_sha256(world):
        files = ", ".join(f"{c.file} ({c.sha256[:12]}…)" for c in plan.catalogs) or "none"
        return ("the plan was priced with other catalogs than these (it used "
                f"{files}); verify with those ({spelling('catalogs', 'DIR')}), or re-plan with "
                "these")
    return None


def _other_name(portfolio: Portfolio, plan: Plan) -> str:
    """The plan's ``portfolio`` names another portfolio (its digests, if any, match)."""
    stages = {(w.id, s.label) for w in portfolio.workloads for s in w.stages}
    none = plan.placements and not any((p.workload, p.stage) in stages
                                       for p in plan.placements)
    why = ": none of its stages is in this portfolio" if none else " (its `portfolio`)"
    return (f"the plan is for portfolio {plan.portfolio!r}, not {portfolio.name!r}{why}; "
            "verify it against the portfolio it was made from, or re-plan this one")
