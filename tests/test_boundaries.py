"""Module boundaries of the installed packages ``plnet``, ``plnet.frontends``, ``plnet.backends``.

The import graph is read from the source with ``ast`` (nothing is imported but the three
root packages, to find their folders):

- module-level imports form no cycle (imports under ``if TYPE_CHECKING:`` never run and do
  not count);
- an import inside a function that would close a cycle is allowed only with a comment on
  its line or the three lines above saying so (the word "cycle" or "circular");
- no private name (``_x``, not a dunder) crosses into another package, neither as
  ``from X import _x`` nor as ``X._x`` on an imported module ``X``.

A module's package is the one that holds it (a package's ``__init__`` belongs to the
package itself): ``plnet.network`` and ``plnet.builder`` share ``plnet``; the ONNX converter
modules share ``plnet.frontends.onnx.converters``.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
from functools import cache
from pathlib import Path

import networkx as nx
import pytest

ROOTS = ("plnet", "plnet.frontends", "plnet.backends")
LATE_IMPORT_NOTES = ("cycle", "circular")


@dataclasses.dataclass(frozen=True)
class Import:
    """One imported name: ``source`` imports ``target`` (a module of ours) at ``line``."""

    source: str
    target: str
    line: int
    late: bool             # inside a function body
    name: str | None       # the name taken from ``target`` (``from target import name``)


@cache
def module_files() -> dict[str, Path]:
    """Every module of the three packages -> its source file."""
    files = {}
    for root in ROOTS:
        base = Path(importlib.import_module(root).__file__).parent
        for path in sorted(base.rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join([root, *parts])] = path
    return files


def owning_module(dotted: str) -> str | None:
    """The longest prefix of ``dotted`` that is one of our modules."""
    files = module_files()
    while dotted and dotted not in files:
        dotted = dotted.rpartition(".")[0]
    return dotted or None


def package_of(module: str) -> str:
    if module_files()[module].name == "__init__.py":
        return module
    return module.rpartition(".")[0]


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    is_package = module_files()[module].name == "__init__.py"
    base = module.split(".")[:len(module.split(".")) - node.level + is_package]
    return ".".join(base + ([node.module] if node.module else []))


def _imports_in(module: str, node: ast.AST, late: bool):
    for child in ast.iter_child_nodes(node):
        if _is_type_checking(child):
            continue
        in_function = late or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                 ast.Lambda))
        if isinstance(child, ast.Import):
            for alias in child.names:
                target = owning_module(alias.name)
                if target:
                    yield Import(module, target, child.lineno, in_function, None)
        elif isinstance(child, ast.ImportFrom):
            base = _resolve(module, child)
            for alias in child.names:
                submodule = f"{base}.{alias.name}"
                if submodule in module_files():
                    yield Import(module, submodule, child.lineno, in_function, None)
                elif owning_module(base):
                    yield Import(module, owning_module(base), child.lineno, in_function,
                                 alias.name)
        yield from _imports_in(module, child, in_function)


@cache
def all_imports() -> tuple[Import, ...]:
    found = []
    for module, path in module_files().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found.extend(imp for imp in _imports_in(module, tree, False)
                     if imp.target != module)
    return tuple(found)


def module_level_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(module_files())
    graph.add_edges_from((i.source, i.target) for i in all_imports() if not i.late)
    return graph


def where(imp: Import) -> str:
    return f"{module_files()[imp.source]}:{imp.line}"


def test_the_three_packages_are_found_with_their_modules():
    files = module_files()
    for module in ("plnet.network", "plnet.serialization", "plnet.frontends.torch.fx_to_ir",
                   "plnet.backends.torch.train"):
        assert module in files, module
    assert any(not i.late for i in all_imports())
    assert any(i.late for i in all_imports())


def test_module_level_imports_form_no_cycle():
    cycles = sorted(sorted(c) for c in nx.simple_cycles(module_level_graph()))
    assert cycles == [], "import cycles among module-level imports:\n" + "\n".join(
        " <-> ".join(c) for c in cycles)


def test_a_late_import_that_closes_a_cycle_says_so():
    graph = module_level_graph()
    undocumented = []
    for imp in all_imports():
        if not imp.late or not nx.has_path(graph, imp.target, imp.source):
            continue
        lines = module_files()[imp.source].read_text(encoding="utf-8").splitlines()
        context = " ".join(lines[max(0, imp.line - 4):imp.line]).lower()
        if not any(note in context for note in LATE_IMPORT_NOTES):
            undocumented.append(f"{where(imp)}: {imp.source} imports {imp.target} inside a "
                                f"function to avoid a cycle, without a comment saying so")
    assert undocumented == [], "\n".join(undocumented)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_private_name_is_imported_from_another_package():
    crossings = [f"{where(i)}: from {i.target} import {i.name}" for i in all_imports()
                 if i.name and _is_private(i.name)
                 and package_of(i.target) != package_of(i.source)]
    assert crossings == [], "\n".join(crossings)


def _module_aliases(tree: ast.Module) -> dict[str, str]:
    """Local names bound to one of our modules (``import a.b as m``, ``from a import b``)."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in module_files():
                    aliases[alias.asname or alias.name.partition(".")[0]] = (
                        alias.name if alias.asname else alias.name.partition(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if f"{node.module}.{alias.name}" in module_files():
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def test_no_private_attribute_of_another_package_module_is_read():
    crossings = []
    for module, path in module_files().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = _module_aliases(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and _is_private(node.attr)):
                continue
            chain, base = [], node.value
            while isinstance(base, ast.Attribute):
                chain.append(base.attr)
                base = base.value
            if not (isinstance(base, ast.Name) and base.id in aliases):
                continue
            owner = owning_module(".".join([aliases[base.id], *reversed(chain)]))
            if owner and package_of(owner) != package_of(module):
                crossings.append(f"{path}:{node.lineno}: {ast.unparse(node)}")
    assert crossings == [], "\n".join(crossings)


@pytest.mark.parametrize("source, expected", [
    ("import plnet.network\n", [("plnet.network", False, None)]),
    ("from plnet.ops import _hidden\n", [("plnet.ops", False, "_hidden")]),
    ("from plnet.frontends import torch\n", [("plnet.frontends.torch", False, None)]),
    ("def f():\n    from plnet.network import Network\n", [("plnet.network", True, "Network")]),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import plnet.network\n", []),
    ("import numpy\nfrom os import path\n", []),
])
def test_the_import_reader_sees_module_function_and_type_checking_imports(source, expected):
    found = [(i.target, i.late, i.name)
             for i in _imports_in("plnet.builder", ast.parse(source), False)]
    assert found == expected


# --- the public API's signatures ----------------------------------------------------------
def _public_callables() -> list[str]:
    import plnet

    # exceptions take a message; their constructors are not part of this contract
    return [name for name in plnet.__all__ if callable(obj := getattr(plnet, name))
            and not (isinstance(obj, type) and issubclass(obj, BaseException))]


@pytest.mark.parametrize("name", _public_callables())
def test_every_public_callable_shows_its_real_annotated_signature(name):
    import plnet

    obj = getattr(plnet, name)
    params = [p for p in inspect.signature(obj).parameters.values()
              if p.name not in ("self", "cls")]
    assert not any(p.kind is p.VAR_KEYWORD for p in params), (
        f"plnet.{name} hides its parameters behind **{params[-1].name}")
    missing = [p.name for p in params if p.annotation is inspect.Parameter.empty]
    assert missing == [], (f"plnet.{name} ({obj.__module__}) has parameters without a type "
                           f"hint: {missing}")


def test_the_lazy_to_torch_entry_point_matches_the_implementation():
    pytest.importorskip("torch")
    import plnet
    from plnet.frontends.torch.export import to_torch

    entry, impl = inspect.signature(plnet.to_torch), inspect.signature(to_torch)
    assert [(p.name, p.kind, p.default) for p in entry.parameters.values()] == [
        (p.name, p.kind, p.default) for p in impl.parameters.values()]
    assert plnet.from_torch.__module__ == "plnet.frontends.torch.convert"
