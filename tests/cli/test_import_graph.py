"""Layering of ``pipelines/`` and ``sources/``: no import cycle between their modules, read
with ``ast`` (module-level and function-level imports both count, so a cycle hidden in a
function body still fails here), and the exit codes defined in one module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """The known modules ``path`` imports: ``from pkg import mod`` counts as ``pkg.mod`` when
    that is a module, else as ``pkg``; ``import a.b.c`` counts as its longest known prefix."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = f"{base}.{node.module}" if node.module else base
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(top: str) -> dict[str, set[str]]:
    paths = {module_name(p): p for p in (ROOT / top).rglob("*.py")}
    known = set(paths)
    return {name: imported_modules(path, name, known) for name, path in paths.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def describe(graph: dict[str, set[str]], cycles: list[list[str]]) -> str:
    lines = []
    for component in cycles:
        members = set(component)
        edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a] & members)]
        lines.append("cycle among " + ", ".join(component) + ": " + "; ".join(edges))
    return "\n".join(lines)


def test_pipelines_has_no_import_cycle():
    graph = import_graph("pipelines")
    cycles = find_cycles(graph)
    assert not cycles, describe(graph, cycles)


def test_sources_has_no_import_cycle():
    graph = import_graph("sources")
    cycles = find_cycles(graph)
    if cycles:
        pytest.xfail("owned by the source's rewrite:\n" + describe(graph, cycles))


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]


def test_exit_codes_are_defined_in_one_module():
    """Every command's exit codes come from pipelines/exit_codes.py (doctor once said 2 for
    what it called EXIT_FAILED while the CLI's EXIT_FAILED was 1)."""
    elsewhere = []
    for path in sorted((ROOT / "pipelines").rglob("*.py")):
        if path.name == "exit_codes.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                elsewhere += [f"{path.name}: {n}" for n in names if n.startswith("EXIT_")]
    assert not elsewhere, elsewhere
