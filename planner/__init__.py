"""planner: hybrid cloud workload placement planner for ML portfolios.

The Python API::

    import planner
    plan = planner.plan(planner.load_portfolio("examples/hospital-group.yaml"),
                        planner.load_catalogs())
"""

from planner.api import load_catalogs, load_plan, load_portfolio, plan, verify_plan
from planner.errors import PlannerError
from planner.inputs.edit import edit
from planner.models.plan import Plan
from planner.models.portfolio import Portfolio

__all__ = [
    "Plan",
    "PlannerError",
    "Portfolio",
    "edit",
    "load_catalogs",
    "load_plan",
    "load_portfolio",
    "plan",
    "verify_plan",
]
