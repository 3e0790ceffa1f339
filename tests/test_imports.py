"""Imports among pipeline modules flow one way: no module imports one that (indirectly) imports it.

Read from the source with ``ast``, so imports inside functions and under ``TYPE_CHECKING`` count too
(an import hidden in a function is still a cycle, only a later one).
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "pipeline"


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Each module of ``package`` (dotted name) → the modules of the package it imports."""
    modules = {_module_name(path, package.parent): path for path in sorted(package.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's package, one level up per extra dot
                    anchor = name.split(".")[: len(name.split(".")) - node.level + is_package]
                    base = ".".join([*anchor, *([base] if base else [])])
                # ``from pipeline import cache`` imports the module pipeline.cache
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.add(submodule if submodule in modules else base)
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: each a path that comes back to its first module."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_no_import_cycle_among_pipeline_modules() -> None:
    graph = import_graph()
    assert {"pipeline.nlp", "pipeline.engine", "pipeline.cache", "pipeline.records"} <= set(graph)
    assert cycles(graph) == []


def test_the_cycle_finder_sees_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    package = tmp_path / "pipeline"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pipeline import b\n")
    (package / "b.py").write_text("def late():\n    from pipeline.a import x\n")
    (package / "c.py").write_text("from . import a\n")
    graph = import_graph(package)
    assert graph["pipeline.c"] == {"pipeline.a"}
    assert cycles(graph) == [["pipeline.a", "pipeline.b", "pipeline.a"]]


def test_stages_after_nlp_do_not_import_it() -> None:
    graph = import_graph()
    for module in ("pipeline.phrases", "pipeline.cache", "pipeline.records", "pipeline.model"):
        assert "pipeline.nlp" not in graph[module], module
    assert graph["pipeline.nlp"] & {"pipeline.engine", "pipeline.cache"} == set()
