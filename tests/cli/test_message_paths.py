"""A file named in a message must exist: users follow those paths to the docs they need."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("plnet", "frontends", "backends")

#: A repository path: a known top-level folder, then folders, then a file with a suffix.
REPO_PATH = re.compile(r"\b(?:plnet|frontends|backends|benchmarks|docs|tests)"
                       r"(?:/[\w.-]+)+\.\w+")


def message_strings(tree: ast.AST):
    """String literals of the code, docstrings left out (they are documentation)."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in docstrings):
            yield node.lineno, node.value


def named_paths(root: Path) -> list[tuple[str, int, str]]:
    found = []
    for folder in SOURCES:
        for source in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(source.read_text(), filename=str(source))
            for line, text in message_strings(tree):
                found.extend((str(source.relative_to(root)), line, path)
                             for path in REPO_PATH.findall(text))
    return found


def test_every_path_named_in_a_message_exists():
    missing = [f"{where}:{line} names {path}" for where, line, path in named_paths(ROOT)
               if not (ROOT / path).exists()]
    assert not missing, "\n".join(missing)


def test_the_scan_finds_paths_in_f_strings(tmp_path):
    (tmp_path / "plnet").mkdir()
    (tmp_path / "plnet" / "m.py").write_text(
        '"""See docs/nowhere.md."""\n'
        'def f(op):\n'
        '    raise ValueError(f"{op}: see frontends/onnx/README.md or docs/gone.md")\n')
    paths = [path for _, _, path in named_paths(tmp_path)]
    assert paths == ["frontends/onnx/README.md", "docs/gone.md"]
