"""Sphinx configuration: the API reference from docstrings, the guides and tutorials in Markdown.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (warnings are
errors; ``tests/docs/test_sphinx_build.py`` runs the same build in the test suite).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import plnet

# Some namespaces (plnet.backends.torch) load their names on first use, so that importing
# them stays cheap; autodoc lists a module's members from dir(), so load every name of
# every module the API pages document before it looks.
for _page in sorted((Path(__file__).parent / "api").glob("*.md")):
    for _namespace in re.findall(r"^\.\. automodule:: (\S+)", _page.read_text(), re.M):
        _module = importlib.import_module(_namespace)
        for _name in getattr(_module, "__all__", ()):
            getattr(_module, _name)

project = "plnet"
author = "the plnet authors"
copyright = "plnet authors, BSD-3-Clause"
release = version = plnet.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # the Google-style docstrings the project writes
    "sphinx.ext.viewcode",
    "myst_parser",  # the guides and tutorials are Markdown, also readable on a forge
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# Markdown: `{eval-rst}` blocks hold the autodoc directives; headings get anchors so that
# pages can link to `page.md#section`.
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# Google docstrings: "Args", "Returns", "Raises", "Example"; no NumPy style.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}
# torch, onnx and cvxpy are the extras that pages document; they are installed by the
# `docs` extra, so nothing is mocked and a broken import fails the build.

html_theme = "alabaster"
html_title = f"plnet {release}"
