"""Human-readable views of a plan: the self-contained HTML report and explanations.

Pure functions from a :class:`~planner.models.plan.Plan` to text; the CLI
(``planner report``, ``planner explain``) does the file I/O.
"""

from planner.report.explain import explanations
from planner.report.html import render_html
from planner.report.lenient import load_plan_lenient

__all__ = ["explanations", "load_plan_lenient", "render_html"]
