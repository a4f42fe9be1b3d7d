"""Every public name documents itself fully, and every docstring example runs as a doctest.

The namespaces are those the API reference documents: the ``automodule`` directives of
docs/api/*.md, so a page added there is checked here at once. A public name is one in the
namespace's ``__all__`` (else a function or class defined in that module without a leading
underscore). Its docstring needs an ``Example`` with ``>>>`` lines; ``Args`` when it takes
arguments (``Args`` or ``Attributes`` for a class); ``Returns`` (or ``Yields``) when it
returns a value; ``Raises`` naming every ``plnet.errors`` exception it raises itself.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import re
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import plnet
import plnet.errors

ROOT = Path(__file__).resolve().parents[2]
API_PAGES = ROOT / "docs" / "api"
#: modules outside the API reference whose examples run as doctests too
EXTRA_DOCTEST_MODULES = ("plnet.cli.reference",)
SECTION = re.compile(r"^(Args|Arguments|Attributes|Returns|Yields|Raises|Examples?):\s*$", re.M)
PLNET_ERRORS = {name for name, value in vars(plnet.errors).items()
                if inspect.isclass(value) and issubclass(value, plnet.errors.PlnetError)}


def documented_namespaces() -> list[str]:
    """The modules that docs/api/*.md hand to ``automodule``, in the index's page order."""
    index = (API_PAGES / "index.md").read_text().split("```{toctree}", 1)[1].split("```")[0]
    found = []
    for entry in re.findall(r"^(\w[\w-]*)\s*$", index, re.M):
        page = API_PAGES / f"{entry}.md"
        found += re.findall(r"^\.\. automodule:: (\S+)\s*$", page.read_text(), re.M)
    return list(dict.fromkeys(found))


def public_objects() -> dict[str, object]:
    """``{qualified name: object}`` of every public function and class, first name wins."""
    out, seen = {}, set()
    for namespace in documented_namespaces():
        module = importlib.import_module(namespace)
        names = getattr(module, "__all__", None) or [
            n for n, v in vars(module).items() if not n.startswith("_")
            and (inspect.isfunction(v) or inspect.isclass(v))
            and getattr(v, "__module__", None) == namespace]
        for name in names:
            value = getattr(module, name)
            if (inspect.isclass(value) or inspect.isfunction(value)) and id(value) not in seen:
                seen.add(id(value))
                out[f"{namespace}.{name}"] = value
    return out


OBJECTS = public_objects()


def sections(doc: str) -> dict[str, str]:
    """``{section title: its text}`` of a Google-style docstring."""
    parts = SECTION.split(doc)
    return {title: body for title, body in zip(parts[1::2], parts[2::2])}


def _function_tree(fn) -> ast.AST | None:
    try:
        source = textwrap.dedent(inspect.getsource(inspect.unwrap(fn)))
    except (OSError, TypeError):
        return None
    return ast.parse(source).body[0]


def _own_nodes(tree: ast.AST):
    """The nodes of a function's body, not those of functions or classes nested in it."""
    stack = list(ast.iter_child_nodes(tree))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def raised_plnet_errors(fn) -> set[str]:
    """The ``plnet.errors`` exceptions a function raises in its own body."""
    tree = _function_tree(fn)
    found = set()
    for node in _own_nodes(tree) if tree is not None else ():
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            if name in PLNET_ERRORS:
                found.add(name)
    return found


def returns_a_value(fn) -> bool:
    tree = _function_tree(fn)
    return tree is not None and any(
        isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom))
        and getattr(node, "value", None) is not None for node in _own_nodes(tree))


def missing_sections(obj) -> list[str]:
    """What a public name's docstring lacks, in words; empty when it is complete."""
    doc = inspect.getdoc(obj) or ""
    if not doc:
        return ["a docstring"]
    have = sections(doc)
    missing = []
    example = have.get("Example", have.get("Examples", ""))
    if ">>>" not in example:
        missing.append("an Example section with >>> lines")
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            return missing
        params = [p for p in inspect.signature(obj).parameters.values()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if params and not ({"Args", "Arguments", "Attributes"} & set(have)):
            missing.append("Args (or Attributes) for " + ", ".join(p.name for p in params))
        return missing
    params = [p for p in inspect.signature(obj).parameters.values() if p.name != "self"]
    if params and not ({"Args", "Arguments"} & set(have)):
        missing.append("Args for " + ", ".join(p.name for p in params))
    if returns_a_value(obj) and not ({"Returns", "Yields"} & set(have)):
        missing.append("Returns")
    for error in sorted(raised_plnet_errors(obj)):
        if error not in have.get("Raises", ""):
            missing.append(f"Raises naming {error}")
    return missing


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_the_public_name_documents_args_returns_raises_and_an_example(name):
    missing = missing_sections(OBJECTS[name])
    assert not missing, f"{name}'s docstring lacks: {'; '.join(missing)}"


def test_the_reference_covers_the_namespaces_the_project_promises():
    assert {"plnet", "plnet.analysis", "plnet.regions", "plnet.exact", "plnet.backends.torch",
            "plnet.testing.strategies", "plnet.errors"} <= set(documented_namespaces())


def _undocumented(x, *, y=1):
    return x + y


def _raises_shape_error(x):
    """Args:
        x: anything.

    Returns:
        Nothing ever.

    Example:
        >>> 1
        1
    """
    if x:
        raise plnet.errors.ShapeError("x")
    return x


def test_the_checker_names_what_a_docstring_lacks():
    assert missing_sections(_undocumented) == ["a docstring"]
    assert missing_sections(_raises_shape_error) == ["Raises naming ShapeError"]


def doctests() -> dict[str, doctest.DocTest]:
    """The examples of every public object (methods included) and of the extra modules."""
    finder = doctest.DocTestFinder()
    found = {}
    targets = [(name, obj, importlib.import_module(obj.__module__))
               for name, obj in OBJECTS.items()]
    targets += [(name, importlib.import_module(name), importlib.import_module(name))
                for name in EXTRA_DOCTEST_MODULES]
    for name, obj, module in targets:
        globs = {**vars(module), "np": np, "plnet": plnet}
        for test in finder.find(obj, name, module=module, globs=globs):
            if test.examples:
                found.setdefault(test.name, test)
    return found


DOCTESTS = doctests()


@pytest.mark.parametrize("name", sorted(DOCTESTS))
def test_the_docstring_example_runs(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    test = DOCTESTS[name]
    test.globs = dict(test.globs)  # each run starts from the module's own names
    report = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = runner.run(test, out=report.append, clear_globs=False)
    assert result.failed == 0, "".join(report)
