"""The import graph keeps the rooms apart (README, "Layout"): read from the sources with ast,
module-level imports only (an import inside a function is a deliberate lazy edge).

- no cycles between modules (a module importing its own package's __init__ is not an edge:
  Python runs the package first);
- lambdas/ (what ships to Lambda) imports nothing of the toolchain, the CDK app or aws_cdk;
- statemachine/ builds the definition from lambdas.common's shared constants, not from stacks/;
- stacks/ and statemachine/ are the only places aws_cdk and constructs are imported;
- the local engine (crawlmap/engine/) is generic: besides itself it imports only the run
  folder's package (crawlmap/runfolder/), never crawlmap's other modules or the handlers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("crawlmap", "lambdas", "stacks", "statemachine")
CDK = ("aws_cdk", "constructs", "cdk_nag")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
}


def imported(path: Path) -> Iterator[str]:
    """Every name a module imports at its top level (absolute imports: the project uses no
    relative ones; ruff's TID252 keeps it so)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def own_module(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        targets = {own_module(name) for name in imported(path)}
        graph[module] = {t for t in targets if t and t != module and not module.startswith(t + ".")}
    return graph


GRAPH = edges()


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_checker_finds_a_cycle_and_the_packages_are_read() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert {"crawlmap.engine.runner", "lambdas.crawl_batch.handler", "stacks.grants"} <= set(GRAPH)
    assert "crawlmap.engine.hooks" in GRAPH["crawlmap.engine.runner"]


def test_no_module_imports_itself_back() -> None:
    assert cycles(GRAPH) == []


def test_lambda_code_imports_only_lambda_code() -> None:
    wrong = {
        (module, name)
        for module, path in MODULES.items()
        if module.startswith("lambdas")
        for name in imported(path)
        if name.split(".")[0] in {"crawlmap", "stacks", "statemachine", *CDK}
    }
    assert wrong == set()


def test_cdk_is_imported_by_the_cdk_app_only() -> None:
    wrong = {
        (module, name)
        for module, path in MODULES.items()
        if not module.startswith(("stacks", "statemachine"))
        for name in imported(path)
        if name.split(".")[0] in CDK
    }
    assert wrong == set()
    assert not any(
        t.startswith("stacks")
        for m, ts in GRAPH.items()
        if m.startswith("statemachine")
        for t in ts
    )


def test_the_engine_knows_nothing_of_crawlmap() -> None:
    wrong = {
        (module, target)
        for module, targets in GRAPH.items()
        if module.startswith("crawlmap.engine")
        for target in targets
        if not target.startswith(("crawlmap.engine", "crawlmap.runfolder"))
    }
    assert wrong == set()
