"""The package's layers (README, "Design"): imports run one way, from the faces down to
the kernels; the codec and the format never import each other; nothing imports a face.
Read from the source with ast, so the picture in the README cannot quietly go stale."""

from __future__ import annotations

import ast
import pathlib

import pytest

PKG = pathlib.Path(__file__).resolve().parents[1] / "zipweights"

# top to bottom; a module imports from its own layer and the layers below it, never
# from a layer above; within a layer, no loops (test_no_import_loops), and the codec and
# the format never import each other
LAYERS = [
    ("command line", {"_cli_main", "cli"}),  # _cli_main: the console scripts' entry
    ("transparent mode", {"transparent"}),  # zipweights.enable() turns the hub filter on too
    ("hub", {"hub"}),
    ("numpy and torch faces", {"numpy", "torch"}),
    ("files and reading", {"writer", "reader", "lazy", "basemodel"}),
    ("codec | format", {"codec", "format"}),
    # the kernels raise errors.py's classes (the C module looks them up at import too)
    ("kernels", {"_kernels", "_numba"}),
    ("base", {"dtypes", "errors", "_parallel", "_fileio", "_mapped", "_hooks", "_progress"}),
]
LAYER_OF = {unit: k for k, (_, units) in enumerate(LAYERS) for unit in units}


def _unit(module: str) -> str:
    """zipweights.hub.download -> hub; zipweights.reader -> reader"""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: pathlib.Path):
    """(line, imported zipweights module) for every import in the file."""
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("zipweights"):
                    yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("zipweights"):
                continue
            if node.module is None or target == "zipweights":  # from . import x / from zipweights import x
                for a in node.names:
                    yield node.lineno, f"{target}.{a.name}"
            else:
                yield node.lineno, target


def _modules():
    return sorted(p for p in PKG.rglob("*.py") if p != PKG / "__init__.py")


def test_every_module_has_a_layer():
    missing = sorted({_unit(_module_name(p)) for p in _modules()} - set(LAYER_OF))
    assert not missing, f"modules with no layer in this test and the README: {missing}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_imports_run_down(path):
    me = _unit(_module_name(path))
    wrong = []
    for line, target in _imports(path):
        unit = _unit(target)
        if unit in ("", me) or unit not in LAYER_OF:
            continue  # the package root (__version__), its own package
        if LAYER_OF[unit] < LAYER_OF[me] or {unit, me} == {"codec", "format"}:
            wrong.append(f"line {line}: {me} ({LAYERS[LAYER_OF[me]][0]}) imports {target} "
                         f"({LAYERS[LAYER_OF[unit]][0]})")
    assert not wrong, "\n".join(wrong)


def test_no_import_loops():
    graph: dict[str, set[str]] = {}
    for path in _modules():
        me = _module_name(path)
        graph.setdefault(me, set()).update(t for _, t in _imports(path) if t != me)
    seen, on_path = set(), []

    def visit(m):
        if m in on_path:
            raise AssertionError("import loop: " + " -> ".join(on_path[on_path.index(m):] + [m]))
        if m in seen or m not in graph:
            return
        on_path.append(m)
        for t in sorted(graph[m]):
            visit(t)
        on_path.pop()
        seen.add(m)

    for m in sorted(graph):
        visit(m)
