"""The ONNX frontend's module boundaries: helpers from helper modules, no private names
across modules, no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[3] / "frontends" / "onnx"
PACKAGE = "plnet.frontends.onnx"


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join([PACKAGE, *parts])] = path
    return out


MODULES = _modules()


def _imports(path: Path, top_level_only: bool):
    """``(module, name)`` pairs imported from plnet (name None for ``import module``)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("plnet"):
            for alias in node.names:
                yield node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("plnet"):
                    yield alias.name, None


def _target(module: str, name: str | None) -> str:
    """The module an import reads: ``from pkg import mod`` reads ``pkg.mod``."""
    return f"{module}.{name}" if name and f"{module}.{name}" in MODULES else module


def _registers(path: Path, decorator: str) -> bool:
    """Whether a function of the module is decorated with ``@decorator(...)``."""
    return any(isinstance(d, ast.Call) and getattr(d.func, "id", None) == decorator
               for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, ast.FunctionDef) for d in node.decorator_list)


def test_no_private_name_is_imported_from_another_module():
    offenders = [(mod, f"{src}.{name}") for mod, path in MODULES.items()
                 for src, name in _imports(path, top_level_only=False)
                 if name and name.startswith("_") and _target(src, name) != mod]
    assert offenders == []


def test_converters_and_exporters_import_helpers_never_each_other():
    families = {mod for mod, path in MODULES.items()
                if _registers(path, "converter") or _registers(path, "exports")}
    assert len(families) >= 10
    offenders = [(mod, _target(src, name)) for mod in families
                 for src, name in _imports(MODULES[mod], top_level_only=False)
                 if _target(src, name) in families and _target(src, name) != mod]
    assert offenders == []


def test_module_level_imports_have_no_cycle():
    graph = nx.DiGraph()
    for mod, path in MODULES.items():
        graph.add_node(mod)
        for src, name in _imports(path, top_level_only=True):
            target = _target(src, name)
            if target in MODULES and target != mod:
                graph.add_edge(mod, target)
    assert list(nx.simple_cycles(graph)) == []
