"""The package reads as the pipeline, and imports only flow downwards.

inputs → catalogs → providers → compile / refresh → solve → plans / verify / explain → report
→ api → cli.
Each package of ``planner`` has a layer; a module may import its own package and any
package of a lower layer, never a higher one, and the import graph has no cycle.
The verifier is independent of the code it checks: it imports no compile, solver,
plan-building or explanation code.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PLANNER = Path(__file__).resolve().parent.parent / "planner"

# Lower number = lower layer. Packages of the same layer may not import each other
# unless listed in SAME_LAYER_OK.
LAYERS: dict[str, int] = {
    "errors": 0, "money": 0,
    "vocab": 1, "parallel": 1,
    "models": 2,
    "inputs": 3,
    "catalog": 4,  # reading snapshots: schema, load, query, provenance, paths, freshness
    "providers": 5,  # the registry, each provider's fetchers and parsers, egress rules
    "compile": 6, "refresh": 6,  # refresh = the writers: store, lock, serialize, importers
    "solvers": 7,
    "verify": 8, "explain": 8, "plans": 8,
    "report": 9,
    "api": 10, "whatif": 10,
    "cli": 11,
    "": 12,  # planner/__init__.py: the public API surface
    "__main__": 12,  # python -m planner: the command line
}
SAME_LAYER_OK = {("plans", "explain"), ("whatif", "api")}
# The verifier recomputes every claim from the inputs; it must not reuse what it checks.
VERIFY_FORBIDDEN = ("compile", "solvers", "plans", "explain")
# Solvers see a Problem and nothing of the inputs, catalogs or the compiler.
SOLVERS_FORBIDDEN = ("inputs", "catalog", "providers", "compile", "refresh")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PLANNER.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (they run no code at import)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) \
                and node.test.id == "TYPE_CHECKING":
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return out


def _imports(path: Path, runtime_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    skip = _type_only(tree) if runtime_only else set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "planner":
                found |= {f"planner.{a.name}" for a in node.names}
            elif node.module.startswith("planner."):
                # `from planner.pkg import mod` imports the module pkg.mod when there is one
                found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("planner")}
    return found


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _graph(runtime_only: bool = False) -> dict[str, set[str]]:
    """Module → the planner modules it imports (``runtime_only``: leave out the imports
    under ``if TYPE_CHECKING:``)."""
    modules = {_module_name(p): p for p in PLANNER.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for target in _imports(path, runtime_only):
            # `from planner.x import y` may name a module y; resolve to the deepest module.
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name:
                graph[name].add(target)
    return graph


def test_every_package_has_a_layer() -> None:
    packages = {_package(_module_name(p)) for p in PLANNER.rglob("*.py")}
    assert packages <= LAYERS.keys(), f"give these a layer: {sorted(packages - LAYERS.keys())}"


def test_imports_only_flow_downwards() -> None:
    upward = []
    for source, targets in _graph().items():
        a = _package(source)
        for target in targets:
            b = _package(target)
            if a == b or (a, b) in SAME_LAYER_OK:
                continue
            if LAYERS[b] >= LAYERS[a]:
                upward.append(f"{source} -> {target}")
    assert not upward, "imports against the layering:\n" + "\n".join(sorted(upward))


@pytest.mark.parametrize(("package", "forbidden"), [("verify", VERIFY_FORBIDDEN),
                                                    ("solvers", SOLVERS_FORBIDDEN)])
def test_independent_packages(package: str, forbidden: tuple[str, ...]) -> None:
    bad = sorted(f"{s} -> {t}" for s, ts in _graph().items() if _package(s) == package
                 for t in ts if _package(t) in forbidden)
    assert not bad, f"{package} must not import {forbidden}:\n" + "\n".join(bad)


def _find_cycle(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_no_import_cycle() -> None:
    """Type-only imports cannot form an import cycle; the layering tests still see them."""
    cycle = _find_cycle(_graph(runtime_only=True))
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_cycle_finder_finds_a_cycle() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}}) == []
