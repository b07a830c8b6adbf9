"""The objects a script passes to the Python API, checked where they enter, like a file.

pydantic's ``model_copy(update=...)`` does not validate, so a portfolio or plan changed
in code could carry a value no file may hold (``hours=0``, ``placements=None``) and fail
deep inside with a ``TypeError`` or an ``AttributeError``; a dict (a plan's JSON read with
``json.load``), a path or ``None`` where a model belongs failed the same way. Each check
here validates the object again in full and turns what is wrong into an
:class:`~planner.errors.InputError` naming the argument (or the path in it) and how to get
the right thing. The command line reads validated files and skips these checks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from planner.errors import InputError, a_kind
from planner.inputs.files import validate_as
from planner.models.plan import Plan
from planner.models.portfolio import Portfolio

PLAN_HINT = ("read one with planner.load_plan(path) from a file `planner plan` wrote, "
             "or pass the plan planner.plan returned")
PORTFOLIO_HINT = "load one with planner.load_portfolio(path)"


def checked_portfolio(portfolio: object, name: str = "portfolio") -> Portfolio:
    """``portfolio`` validated again in full: a value its model refuses is an
    :class:`InputError` with its path, like a bad file; anything but a :class:`Portfolio`
    (a path, a dict) is one too, with how to load one. ``name`` is the argument's name."""
    if not isinstance(portfolio, Portfolio):
        raise InputError(f"expected a planner.Portfolio, got {a_kind(portfolio)}",
                         path=name, hint=PORTFOLIO_HINT)
    return validate_as(Portfolio, portfolio.model_dump(exclude_unset=True, warnings=False),
                       name)


def checked_plan(plan: object, name: str = "plan") -> Plan:
    """``plan`` validated again in full (see :func:`checked_portfolio`): a plan changed in
    code with a value the plan model refuses is an :class:`InputError` with its path, not an
    ``AttributeError`` from inside the verifier, the diff or the report; a dict (a plan's
    JSON), a path or ``None`` is one too, saying how to read a plan."""
    if not isinstance(plan, Plan):
        raise InputError(f"expected a planner.Plan, got {a_kind(plan)}", path=name,
                         hint=PLAN_HINT)
    return validate_as(Plan, plan.model_dump(exclude_unset=True, warnings=False), name)


def check_now(now: object, name: str = "now") -> None:
    """``now`` is None or a timezone-aware datetime (catalog ages are measured from it;
    a naive one failed with a ``TypeError`` from inside the catalog code)."""
    if now is None or (isinstance(now, datetime) and now.utcoffset() is not None):
        return
    what = "a datetime without a time zone" if isinstance(now, datetime) else a_kind(now)
    raise InputError(f"expected a timezone-aware datetime, got {what}", path=name,
                     hint="e.g. datetime.now(timezone.utc), or leave it out for the current "
                          "time")


def check_optional(value: object, kind: type, name: str, what: str, hint: str) -> Any:
    """``value`` when it is None or a ``kind``, else an :class:`InputError` naming ``name``
    (``what`` says what is expected, e.g. "a dict of field values")."""
    if value is None or isinstance(value, kind):
        return value
    raise InputError(f"expected {what} or None, got {a_kind(value)}", path=name, hint=hint)
