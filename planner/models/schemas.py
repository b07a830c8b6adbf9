"""JSON Schemas of the portfolio input and the plan output, from the pydantic models.

``planner schema portfolio|plan`` prints them; ``planner/docs/schemas/*.schema.json`` are
the committed copies (a test keeps them in sync with the models). Editors that
use yaml-language-server (VS Code's YAML extension, Neovim, JetBrains, …) check a
portfolio as it is typed when the file starts with::

    # yaml-language-server: $schema=planner/docs/schemas/portfolio.schema.json

(the path is relative to the YAML file). The schemas declare JSON Schema draft-07,
the newest dialect yaml-language-server fully supports; pydantic's output for these
models uses only draft-07 keywords (``$defs`` is reached through plain JSON pointers).
"""

from __future__ import annotations

import json
from typing import Any

from planner.models.plan import Plan
from planner.models.portfolio import Portfolio

DIALECT = "http://json-schema.org/draft-07/schema#"
SCHEMAS = ("portfolio", "plan")
# Newer pydantic releases add this pattern to decimal strings; it is dropped so that the
# committed schemas do not depend on the pydantic version (numbers are what people write).
_DECIMAL_PATTERN = r"^(?!^[-+.]*$)[+-]?0*\d*\.?\d*$"


def _stable(node: Any) -> Any:
    """The schema without pydantic-version-specific decoration."""
    if isinstance(node, dict):
        return {k: _stable(v) for k, v in node.items()
                if not (k == "pattern" and v == _DECIMAL_PATTERN)}
    if isinstance(node, list):
        return [_stable(v) for v in node]
    return node


def _document(body: dict[str, Any], title: str, summary: str) -> dict[str, Any]:
    """A pydantic schema as a standalone draft-07 document with a title and description."""
    description = (summary + " " + (body.pop("description", "") or "")).strip()
    return {"$schema": DIALECT, "title": title, "description": description,
            **{k: v for k, v in body.items() if k != "title"}}


def portfolio_schema() -> dict[str, Any]:
    """What a portfolio file (YAML or JSON) may contain: the input side of the models."""
    return _document(Portfolio.model_json_schema(mode="validation"), "planner portfolio",
                     "Input of `planner plan`: sites, cloud settings and ML workloads with "
                     "their stages and residency rules.")


def plan_schema() -> dict[str, Any]:
    """What `planner plan` writes: the serialized Plan (money as decimal strings)."""
    return _document(Plan.model_json_schema(mode="serialization"), "planner plan",
                     "Output of `planner plan`: placements with costs and reasons, resource "
                     "use, totals, solver report and catalog provenance.")


def schema_text(name: str) -> str:
    """The schema called ``name`` (``portfolio`` or ``plan``) as stable, indented JSON."""
    builders = {"portfolio": portfolio_schema, "plan": plan_schema}
    if name not in builders:
        raise KeyError(f"unknown schema {name!r}; choose from {', '.join(SCHEMAS)}")
    return json.dumps(_stable(builders[name]()), indent=2, ensure_ascii=False) + "\n"
