"""The shape of the code as imports show it: no module cycles, and dependencies that point one way.

The graph is read from the source with `ast`, so an import inside a function counts as much as one at
the top of a module: a cycle hidden in a function still ties two modules together. Imports under
`if TYPE_CHECKING:` never run; they count inside `amazon/` (whose flows must not know each other in a
circle even for annotations) and not elsewhere.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import orderbridge

SOURCE = Path(orderbridge.__file__).parent

# The book's models that map each other's relationships (a contact's orders, credits and payments; an
# order row's stock level) import each other inside the functions that need the other side. SQLAlchemy
# resolves such relationships by name, so the cluster is one model in several files; it is allowed
# as a whole and nothing else may join it.
BOOK_MODEL_CLUSTER = frozenset(
    {
        "orderbridge.book.contacts",
        "orderbridge.book.credits",
        "orderbridge.book.inventory",
        "orderbridge.book.orders.model",
        "orderbridge.book.payments",
    }
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in SOURCE.rglob("*.py")}


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside.update(id(child) for child in ast.walk(node))
    return inside


def _imported(name: str, path: Path, *, type_checking: bool) -> Iterator[str]:
    """The orderbridge modules one module imports (a name imported from a package that is a module
    counts as that module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set() if type_checking else _type_checking_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in MODULES)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                if child in MODULES:
                    yield child
                elif node.module in MODULES and node.module != name:
                    yield node.module


def import_graph(*, prefix: str = "orderbridge", type_checking: bool = False) -> dict[str, set[str]]:
    return {
        name: {target for target in _imported(name, path, type_checking=type_checking) if target != name}
        for name, path in MODULES.items()
        if name.startswith(prefix)
    }


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root, targets_of_root in graph.items():
        if root in index:
            continue
        work = [(root, iter(sorted(targets_of_root & graph.keys())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target] & graph.keys()))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(group)
    return found


def test_cycles_finds_a_circle_of_three_and_leaves_a_chain_alone() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_module_imports_another_in_a_circle_but_the_book_models() -> None:
    found = cycles(import_graph())
    outside = [sorted(group) for group in found if not group <= BOOK_MODEL_CLUSTER]
    assert outside == [], f"modules that import each other in a circle: {outside}"


def test_amazon_modules_import_no_circle_even_for_type_checking() -> None:
    assert cycles(import_graph(prefix="orderbridge.amazon", type_checking=True)) == []


def test_the_book_never_imports_amazon_and_the_sandbox_imports_nothing_of_the_product() -> None:
    graph = import_graph(type_checking=True)
    book = {
        (name, target)
        for name, targets in graph.items()
        for target in targets
        if name.startswith("orderbridge.book")
    }
    assert {pair for pair in book if pair[1].startswith("orderbridge.amazon")} == set()
    sandbox = {
        (name, target)
        for name, targets in graph.items()
        if name.startswith("orderbridge.simulator")
        for target in targets
        if not target.startswith("orderbridge.simulator")
    }
    assert sandbox == set()


def test_amazon_flows_import_along_their_documented_directions() -> None:
    """orders, reports, fba and outbound never import the flows their package docstrings exclude."""
    excluded = {
        "orderbridge.amazon.api": ("orders", "reports", "fba", "outbound"),
        "orderbridge.amazon.orders": ("reports", "fba", "outbound"),
        "orderbridge.amazon.reports": ("orders", "outbound"),
        "orderbridge.amazon.fba": ("orders", "outbound"),
        "orderbridge.amazon.outbound": ("reports", "fba"),
    }
    crossings = [
        (name, target)
        for name, targets in import_graph(prefix="orderbridge.amazon", type_checking=True).items()
        for package, flows in excluded.items()
        if name.startswith(package + ".") or name == package
        for target in targets
        if any(target.startswith(f"orderbridge.amazon.{flow}") for flow in flows)
    ]
    assert crossings == []
