"""The documentation site builds with warnings as errors, as the README's command does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_docs_build_with_warnings_as_errors(tmp_path):
    pytest.importorskip("sphinx", reason="the docs extra is not installed")
    pytest.importorskip("myst_parser", reason="the docs extra is not installed")
    # a fresh output folder and environment: warnings of unchanged pages are not hidden
    built = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-E", "-b", "html",
         str(ROOT / "docs"), str(tmp_path / "html"), "-d", str(tmp_path / "doctrees")],
        capture_output=True, text=True, cwd=ROOT)
    assert built.returncode == 0, f"sphinx failed:\n{built.stderr}\n{built.stdout}"
    for page in ("index", "api/index", "api/backends-torch", "cli-reference", "tutorials/index"):
        assert (tmp_path / "html" / f"{page}.html").is_file(), page
