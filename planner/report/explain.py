"""Explanations of a plan as plain data: per stage, where it runs, why, and the runner-up.

Shared by ``planner explain`` (table and ``--json``) and the HTML report. Fields a
newer Plan model adds to placements are passed through unchanged, so richer
explanations show up without changes here.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from numbers import Integral
from typing import Any

from pydantic import BaseModel

from planner.errors import InputError
from planner.inputs.checked import check_optional, checked_plan
from planner.models.plan import Alternative, Dropped, Placement, Plan
from planner.models.status import SolveStatus
from planner.report.fmt import plain, usd

_JUST_DEARER = re.compile(r"^costs \$[\d,.]+ more$")  # already said by the delta
# Placement fields rendered explicitly; any other field is shown as "more".
KNOWN_PLACEMENT_FIELDS = frozenset(
    {
        "workload",
        "stage",
        "kind",
        "team",
        "site",
        "provider",
        "region",
        "country",
        "offer",
        "purchase",
        "gpu_model",
        "gpus_per_instance",
        "instances",
        "replicas",
        "nodes_per_replica",
        "hours",
        "cost",
        "why",
        "runner_up",
        "cheaper_rejected",
        "moved",
        "start",
        "end",
        "start_at",
        "end_at",
        "late_hours",
    }
)
# Placement fields of the timeline, in every JSON explanation (null when the plan makes no
# claim about when).
TIMELINE_FIELDS = {"nodes_per_replica", "start", "end", "start_at", "end_at", "late_hours"}
KNOWN_ALTERNATIVE_FIELDS = frozenset(
    {"site", "offer", "purchase", "total_usd", "delta_usd", "why_not", "rule"}
)


def instance_count(p: Placement) -> str:
    """What the instance column counts: ``8 (2 replicas × 4 nodes)``, ``3 (3 replicas)``, ``1``."""
    replicas = getattr(p, "replicas", None)
    nodes = getattr(p, "nodes_per_replica", 1)
    if not isinstance(replicas, int) or (replicas == 1 and nodes == 1):
        return str(p.instances)
    gang = f" × {nodes} nodes" if nodes > 1 else ""
    return f"{p.instances} ({replicas} replica{'' if replicas == 1 else 's'}{gang})"


def extra_fields(placement: Placement) -> dict[str, Any]:
    """Fields of a placement this module does not render explicitly (JSON values)."""
    names = [n for n in type(placement).model_fields if n not in KNOWN_PLACEMENT_FIELDS]
    if not names:
        return {}
    dumped = placement.model_dump(mode="json", include=set(names))
    return {k: v for k, v in dumped.items() if v not in (None, [], {}, "")}


def gang_text(p: Placement) -> str | None:
    """``'2 gangs of 4 nodes'`` when each replica runs on several instances at once."""
    n = p.nodes_per_replica
    if n <= 1:
        return None
    return f"{p.replicas:,} gang{'' if p.replicas == 1 else 's'} of {n:,} nodes"


def conflict_text(conflict: object) -> str:
    """A conflict as one line, whether the plan stores it as text or as {rule, message}."""
    if isinstance(conflict, str):
        return conflict
    message, rule = getattr(conflict, "message", None), getattr(conflict, "rule", None)
    if message:
        return f"{message} [{rule}]" if rule else str(message)
    if isinstance(conflict, BaseModel):
        return plain(conflict.model_dump(mode="json"))
    return str(conflict)


def rejected_text(alt: object) -> str | None:
    """The cheaper option a rule ruled out (``Placement.cheaper_rejected``), if any."""
    if not isinstance(alt, Alternative):
        return None
    rule = getattr(alt, "rule", None)
    text = f"cheaper {alt.site} {alt.offer} ({alt.purchase.value}) {usd(alt.delta_usd)}"
    if rule and rule not in (alt.why_not or ""):
        text += f" ruled out by {rule}"
    else:
        text += " ruled out"
    return text + (f": {alt.why_not}" if alt.why_not else "")


def runner_up_text(alt: Alternative | None) -> str:
    """``'aws:eu-north-1 p5.48xlarge (on_demand) +$3,195.38: costs … more'``."""
    if alt is None:
        return "no other feasible option"
    sign = "+" if alt.delta_usd >= 0 else ""
    text = f"{alt.site} {alt.offer} ({alt.purchase.value}) {sign}{usd(alt.delta_usd)}"
    if alt.why_not and not _JUST_DEARER.match(alt.why_not):
        text += f": {alt.why_not}"
    extra = {
        k: v
        for k, v in alt.model_dump(mode="json").items()
        if k not in KNOWN_ALTERNATIVE_FIELDS and v not in (None, [], {}, "")
    }
    if extra:
        text += f" ({plain(extra)})"
    return text


def explanation(p: Placement, more: dict[str, Any] | None = None) -> dict[str, Any]:
    """One stage's explanation as JSON-ready data (``more``: fields a newer plan added)."""
    out: dict[str, Any] = {
        "workload": p.workload,
        "stage": p.stage,
        "kind": p.kind.value,
        "team": p.team,
        "site": p.site,
        "country": p.country,
        "offer": p.offer,
        "gpu_model": p.gpu_model,
        "purchase": p.purchase.value,
        "instances": p.instances,
        "hours": str(p.hours),
        "total_usd": str(p.cost.total_usd),
        "why": list(p.why),
        "runner_up": p.runner_up.model_dump(mode="json") if p.runner_up else None,
    }
    replicas = getattr(p, "replicas", None)
    if isinstance(replicas, int):
        out["replicas"] = replicas
        out["nodes_per_replica"] = getattr(p, "nodes_per_replica", 1)
    rejected = getattr(p, "cheaper_rejected", None)
    if isinstance(rejected, Alternative):
        out["cheaper_rejected"] = rejected.model_dump(mode="json")
    if getattr(p, "moved", False):
        out["moved"] = True
    out.update(p.model_dump(mode="json", include=TIMELINE_FIELDS))
    out.update(extra_fields(p))
    out.update(more or {})
    return out


def explanations(plan: Plan, more: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The plan's explanations: every placement, plus unplaced stages, dropped workloads
    (a partial plan's, with the plan's fields) and conflicts.

    ``more`` maps a placement's index to fields a newer plan file added to it. The plan is
    validated again first (:func:`~planner.inputs.checked.checked_plan`): anything but a
    :class:`Plan` (a dict of a plan's JSON, a path) is an
    :class:`~planner.errors.InputError` saying how to read one.
    """
    hint = ("leave it out, or pass split_dropped(load_plan_lenient(path)[1])[0] "
            "(planner.report.lenient): the fields a newer plan file added, per placement")
    more = check_optional(more, dict, "more", "a dict of placement index → extra fields",
                          hint)
    for key, extra in (more or {}).items():
        if isinstance(key, bool) or not isinstance(key, Integral) \
                or not isinstance(extra, dict):
            raise InputError(f"expected placement index → dict of fields, got {key!r}: "
                             f"{extra!r}"[:200], path="more", hint=hint)
    more = None if more is None else {int(k): v for k, v in more.items()}
    return plan_explanations(checked_plan(plan), more)


def plan_explanations(plan: Plan, more: dict[int, dict[str, Any]] | None = None
                      ) -> dict[str, Any]:
    """:func:`explanations` of a plan known to be valid (read from a file)."""
    more = more or {}
    return {
        "portfolio": plan.portfolio,
        "status": plan.status.value,
        "total_usd": str(plan.totals.total_usd),
        "value_usd": None if plan.totals.value_usd is None else str(plan.totals.value_usd),
        "late_penalty_usd": str(plan.totals.late_penalty_usd),
        "horizon": plan.horizon.model_dump(mode="json") if plan.horizon else None,
        "placements": [explanation(p, more.get(i)) for i, p in enumerate(plan.placements)],
        "unplaced": [u.model_dump(mode="json") for u in plan.unplaced],
        "dropped": [d.model_dump(mode="json") for d in plan.dropped],
        "conflicts": [conflict_text(c) for c in plan.conflicts],
        "diagnosis": getattr(plan, "diagnosis", None),
        "warnings": list(plan.warnings),
    }


@dataclass
class WorkloadSummary:
    """One workload's placements summed up (for large plans)."""

    workload: str
    team: str
    stage_names: set[str] = field(default_factory=set)
    total_usd: Decimal = Decimal(0)
    sites: set[str] = field(default_factory=set)
    countries: set[str] = field(default_factory=set)

    @property
    def stages(self) -> int:
        """Stages placed (an inference stage split over sites is one stage, many rows)."""
        return len(self.stage_names)


def stages_placed(plan: Plan) -> int:
    """Distinct stages with a placement; a stage split over sites has several rows."""
    return len({(p.workload, p.stage) for p in plan.placements})


def by_workload(plan: Plan) -> list[WorkloadSummary]:
    """Per-workload totals in first-seen order."""
    out: dict[str, WorkloadSummary] = {}
    for p in plan.placements:
        w = out.get(p.workload)
        if w is None:
            w = out[p.workload] = WorkloadSummary(p.workload, p.team)
        w.stage_names.add(p.stage)
        w.total_usd += p.cost.total_usd
        w.sites.add(p.site)
        w.countries.add(p.country)
    return list(out.values())


def cost_by_purchase(plan: Plan) -> dict[str, Decimal]:
    """Total cost per purchase option (on-demand, spot, owned)."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for p in plan.placements:
        out[p.purchase.value] += p.cost.total_usd
    return dict(sorted(out.items()))


def workload_ids(plan: Plan) -> list[str]:
    """Every workload the plan mentions (placed, unplaced or dropped), in first-seen order."""
    seen: dict[str, None] = {}
    for p in plan.placements:
        seen.setdefault(p.workload, None)
    for u in plan.unplaced:
        seen.setdefault(u.workload, None)
    for d in plan.dropped:
        seen.setdefault(d.workload, None)
    return list(seen)


def planned_of(plan: Plan) -> tuple[int, int]:
    """(workloads placed, workloads the plan mentions): ``(3, 5)`` for "3 of 5 planned"."""
    return len({p.workload for p in plan.placements}), len(workload_ids(plan))


def partial_note(plan: Plan) -> str:
    """``'3 of 5 workloads planned'`` for a partial plan, else ``''``."""
    if plan.status is not SolveStatus.PARTIAL:
        return ""
    planned, total = planned_of(plan)
    return f"{planned:,} of {total:,} workloads planned"


def dropped_value(plan: Plan) -> Decimal | None:
    """Σ value_usd of the dropped workloads (None when none of them has a value)."""
    values = [d.value_usd for d in plan.dropped if d.value_usd is not None]
    return sum(values, Decimal(0)) if values else None


def funded(plan: Plan) -> bool:
    """Whether the plan chose workloads by business value (wording: "not funded")."""
    return plan.totals.value_usd is not None or dropped_value(plan) is not None


def add_cost_text(d: Dropped) -> str | None:
    """The plan's cost change with a dropped workload forced in, signed (``'+$1,204.10'``);
    None when no re-solve placed it."""
    if d.add_cost_usd is None:
        return None
    return ("+" if d.add_cost_usd >= 0 else "") + usd(d.add_cost_usd)


def adding_text(d: Dropped) -> str:
    """What forcing a dropped workload in would do: ``'+$1,204.10, leaves out a, b'``;
    ``'not known (see why)'`` when no re-solve placed it (it cannot be placed, the re-solve
    ran out of time, or it was not tried: the reasons say which)."""
    cost = add_cost_text(d)
    if cost is None:
        return "not known (see why)"
    return cost + (f", leaves out {', '.join(d.add_drops)}" if d.add_drops else "")


def dropped_rows(plan: Plan, only: set[str] | None = None) -> list[Dropped]:
    """The dropped workloads in ``only`` (all when None), in plan order."""
    return [d for d in plan.dropped if only is None or d.workload in only]
