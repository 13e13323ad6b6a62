"""The dependency rule, read off the imports (style.md): no import cycle anywhere in
sirefund, and the web layer reaches the outbox and the agency adapters only through services.

Imports are read with `ast`, so nothing is executed; imports inside functions count too (a
lazy import still ties two modules together), and `if TYPE_CHECKING:` blocks count as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "sirefund"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py"))}


def _resolve(importer: str, is_package: bool, level: int, module: str | None) -> str:
    """The absolute name `from <level dots><module> import ...` refers to in `importer`."""
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The sirefund modules `name` imports (a `from pkg import mod` counts as pkg.mod)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, is_package, node.level, node.module)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            # `import a.b.c` also runs a and a.b: the nearest known module is the edge.
            nearest = target
            while nearest and nearest not in known:
                nearest = nearest.rpartition(".")[0]
            if nearest.startswith(PACKAGE) and nearest != name:
                found.add(nearest)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _parents(name: str) -> set[str]:
    """Packages whose __init__ runs when `name` is imported: not real dependencies."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules around it, or None."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(graph, white)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        color[node] = grey
        stack.append(node)
        for nxt in sorted(graph[node] - _parents(node)):
            if color.get(nxt) == grey:
                return [*stack[stack.index(nxt) :], nxt]
            if color.get(nxt) == white and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        color[node] = black
        return None

    for node in sorted(graph):
        if color[node] == white and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_is_read_from_the_source():
    graph = import_graph()
    assert "sirefund.outbox" in graph["sirefund.worker"]
    assert "sirefund.services.settlement" in graph["sirefund.worker"]
    assert "sirefund.domain.workflow" in graph["sirefund.services.applications"]


def test_there_is_no_import_cycle_in_sirefund():
    assert find_cycle(import_graph()) is None


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]


@pytest.mark.parametrize("forbidden", ["sirefund.outbox", "sirefund.agencies"])
def test_nothing_under_web_imports_the_outbox_or_the_agency_adapters(forbidden):
    offenders = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        if module.startswith("sirefund.web")
        for target in targets
        if target == forbidden or target.startswith(forbidden + ".")
    )
    assert offenders == []


def test_the_domain_imports_nothing_of_ours_but_the_domain():
    offenders = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        if module.startswith("sirefund.domain")
        for target in targets
        if not target.startswith("sirefund.domain") and target != PACKAGE
    )
    assert offenders == []
