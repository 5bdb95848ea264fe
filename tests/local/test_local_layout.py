"""The local runner's layout stays readable: short modules and functions, no import cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import hera_utils.local

PACKAGE = Path(hera_utils.local.__file__).parent
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for path in sorted(PACKAGE.glob("*.py"))}


def _local_imports(tree: ast.Module) -> set[str]:
    """The package's modules a module imports, anywhere in it (type-checking imports too)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(alias.name for alias in node.names)
            elif (node.module or "").startswith("hera_utils.local."):
                found.add((node.module or "").split(".")[2])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[2] for alias in node.names
                         if alias.name.startswith("hera_utils.local."))
    return found


def test_no_module_is_longer_than_the_limit() -> None:
    lengths = {path.name: len(path.read_text(encoding="utf-8").splitlines())
               for path in PACKAGE.glob("*.py")}
    assert len(lengths) > 10
    assert {name: n for name, n in lengths.items() if n > MAX_MODULE_LINES} == {}


def test_no_function_is_longer_than_the_limit() -> None:
    long = []
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - start + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {length} lines")
    assert long == []


def _cycles(graph: dict[str, set[str]]) -> list[str]:
    """Each import cycle found by a depth-first walk, as `a -> b -> a`."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []
    for start in sorted(graph):
        if state.get(start):
            continue
        state[start] = 1
        path, stack = [start], [iter(sorted(graph[start]))]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(child) == 1:
                cycles.append(" -> ".join([*path[path.index(child):], child]))
            elif not state.get(child) and child in graph:
                state[child] = 1
                path.append(child)
                stack.append(iter(sorted(graph[child])))
    return cycles


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a -> b -> c -> a"]
    assert _cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_the_modules_import_each_other_without_a_cycle() -> None:
    graph = {name: _local_imports(tree) - {name} for name, tree in _modules().items()}
    assert graph["operator"] >= {"dag", "steps", "pods", "retries"}  # the walk sees imports
    assert _cycles(graph) == []


def test_the_template_kinds_reach_the_operator_only_through_its_protocol() -> None:
    graph = {name: _local_imports(tree) for name, tree in _modules().items()}
    importers = sorted(name for name, imports in graph.items() if "operator" in imports)
    assert importers == ["runner"]
