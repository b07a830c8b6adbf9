"""What the verifier reads: a plan document it can check at all.

The plan model reads every plan file (``planner.api.load_plan``); some values it admits
are not a plan any planner writes, and checking them rule by rule would either pass them
or fail in arithmetic. The verifier refuses them first, as bad input (exit code 2),
naming the path in the plan (``placements[3].replicas``) and a fix:

* ``schema_version``: one this planner reads (:data:`KNOWN_VERSIONS`); a newer one needs a
  newer planner. Plans written before plans had a timeline carry the same version 1, so
  the version does not exempt a plan from having one (:mod:`planner.verify.timeline`);
* numbers are finite: no ``NaN`` or ``Infinity`` anywhere (a JSON reader accepts them in
  the plan's floats: the gap, utilizations, times in seconds, catalog ages);
* every placement holds something: ``replicas``, ``instances`` and ``nodes_per_replica``
  are at least 1 (a placement that serves nothing is left out of a plan, not listed
  with zero).
"""

from __future__ import annotations

import functools
import math
import typing
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from enum import Enum

from pydantic import BaseModel

from planner.errors import InputError
from planner.inputs.messages import format_loc
from planner.models.plan import PLAN_SCHEMA_VERSION, Plan

KNOWN_VERSIONS = frozenset({PLAN_SCHEMA_VERSION})
"""The plan schema versions this verifier reads."""

SOURCE = "the plan"
"""Names the plan in the error (else the CLI would name the portfolio file)."""

_REPLAN = "re-plan with `planner plan PORTFOLIO -o PLAN` rather than editing a plan"

Loc = tuple[int | str, ...]


def _refuse(loc: Loc, message: str, hint: str) -> InputError:
    return InputError(message, path=format_loc(loc) or None, hint=hint, source=SOURCE)


def check_version(plan: Plan) -> None:
    """The plan's ``schema_version`` is one this planner reads."""
    v = plan.schema_version
    if v in KNOWN_VERSIONS:
        return
    reads = ", ".join(str(k) for k in sorted(KNOWN_VERSIONS))
    if v > max(KNOWN_VERSIONS):
        raise _refuse(("schema_version",), f"{v} is newer than the plan schema this planner "
                                           f"reads ({reads}): a newer planner wrote it",
                      "upgrade the planner with `pip install -U planner` to verify it, or "
                      "re-plan with this one")
    raise _refuse(("schema_version",), f"{v} is not a plan schema version (this planner reads "
                                       f"{reads})", _REPLAN)


def _plain(tp: object) -> bool:
    """``tp`` holds no float or decimal: text, whole numbers, flags, dates, enums, and
    lists, mappings or options of those."""
    if tp is type(None):
        return True
    if isinstance(tp, type):
        return issubclass(tp, str | int | datetime | Enum)
    args = typing.get_args(tp)
    return bool(args) and all(_plain(a) for a in args)


@functools.cache
def _number_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``model`` that may hold a float or a decimal (directly or inside)."""
    return tuple(name for name, field in model.model_fields.items()
                 if not _plain(field.annotation))


def _numbers(value: object, loc: Loc) -> Iterator[tuple[Loc, float | Decimal]]:
    """Every float and decimal inside ``value`` (a model, list or mapping), with its path."""
    if isinstance(value, float | Decimal):
        yield loc, value
    elif isinstance(value, BaseModel):
        for name in _number_fields(type(value)):
            yield from _numbers(getattr(value, name), (*loc, name))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _numbers(item, (*loc, i))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, (*loc, str(key)))


def _finite(x: float | Decimal) -> bool:
    return x.is_finite() if isinstance(x, Decimal) else math.isfinite(x)


def check_finite(plan: Plan) -> None:
    """No number of the plan is NaN or infinite."""
    for loc, x in _numbers(plan, ()):
        if not _finite(x):
            raise _refuse(loc, f"not a finite number (got {x})",
                          f"a plan states no NaN or Infinity; {_REPLAN}")


def check_counts(plan: Plan) -> None:
    """Every placement serves at least one replica on at least one instance."""
    for i, p in enumerate(plan.placements):
        for field, got in (("replicas", p.replicas), ("instances", p.instances),
                           ("nodes_per_replica", p.nodes_per_replica)):
            if got < 1:
                raise _refuse(("placements", i, field),
                              f"must be at least 1 (got {got}): a placement of "
                              f"{p.workload}/{p.stage} serves at least one replica on at least "
                              "one instance",
                              f"a plan leaves out a placement that serves nothing; {_REPLAN}")


def check_document(plan: Plan) -> None:
    """Raise :class:`~planner.errors.InputError` (with the path in the plan and a fix) for a
    plan the verifier cannot check: an unknown schema version, a non-finite number, or a
    placement of fewer than one replica, instance or node."""
    check_version(plan)
    check_finite(plan)
    check_counts(plan)
