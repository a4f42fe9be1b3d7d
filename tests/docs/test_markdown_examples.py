"""Every ```python block of the README and of docs/ runs as written.

A page's blocks run in order, in one namespace, in an empty temporary working directory,
with every warning turned into an error, so a renamed argument or a new warning breaks the
suite before it reaches a reader. A block opts out only with the line

    <!-- docs: not run: REASON -->

right above its fence (for code that needs torchrun or a GPU); the page must say why in
REASON (a few words at least), and the block must still compile.

A ```text block that follows a python block (blank lines between at most) is that block's
output: what the block prints must match it, compared as doctest compares (``...`` matches
anything, runs of whitespace are equal), so the outputs a tutorial shows stay true.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPT_OUT = re.compile(r"^<!-- docs: not run: (?P<reason>.*?) -->$")


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository root
    line: int  # of the first line of code
    code: str
    opt_out: str | None  # the reason, for a block that is not run
    output: str | None = None  # what it prints, from the ```text block right after it


def pages() -> list[Path]:
    """README.md and every Markdown page under docs/ (not the build output)."""
    docs = sorted(p for p in (ROOT / "docs").rglob("*.md") if "_build" not in p.parts)
    return [ROOT / "README.md", *docs]


def python_blocks(path: Path, root: Path = ROOT) -> list[Block]:
    """The ```python blocks of one page, in order, with their opt-out reasons."""
    lines = path.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            marker = OPT_OUT.match(lines[i - 1].strip()) if i else None
            end = _closing_fence(lines, i)
            after = next((j for j in range(end + 1, len(lines)) if lines[j].strip()), None)
            output = None
            if after is not None and lines[after].strip() == "```text":
                output = "\n".join(lines[after + 1:_closing_fence(lines, after)]) + "\n"
            blocks.append(Block(str(path.relative_to(root)), i + 2,
                                "\n".join(lines[i + 1:end]) + "\n",
                                marker.group("reason").strip() if marker else None, output))
            i = end
        i += 1
    return blocks


def _closing_fence(lines: list[str], opening: int) -> int:
    return next(j for j in range(opening + 1, len(lines)) if lines[j].strip() == "```")


# tutorials train small models (seconds each): slow, so `-m "not slow"` leaves them out
PAGES = [pytest.param(p, marks=pytest.mark.slow) if "tutorials" in p.parts else p
         for p in pages() if python_blocks(p)]
OPTED_OUT = [b for p in pages() for b in python_blocks(p) if b.opt_out is not None]


def run_page(blocks: list[Block]) -> dict:
    """Run the blocks in order in one namespace, warnings as errors; return the namespace.

    Raises:
        AssertionError: a block printed something else than its shown output.
    """
    namespace = {"__name__": "__main__"}
    checker, flags = doctest.OutputChecker(), doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    for block in blocks:
        # line numbers in a traceback are the page's own
        code = compile("\n" * (block.line - 1) + block.code, str(ROOT / block.page), "exec")
        printed = io.StringIO()
        with warnings.catch_warnings(), contextlib.redirect_stdout(printed):
            warnings.simplefilter("error")
            exec(code, namespace)
        got = printed.getvalue()
        if block.output is not None and not checker.check_output(block.output, got, flags):
            raise AssertionError(f"{block.page}:{block.line}: the block prints\n{got}\n"
                                 f"but the page shows\n{block.output}")
    return namespace


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_python_block_of_the_page_runs_in_order_without_warnings(page, tmp_path,
                                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_page([b for b in python_blocks(page) if b.opt_out is None])


def test_blocks_that_opt_out_compile_and_say_why():
    for block in OPTED_OUT:
        assert len(block.opt_out.split()) >= 3, (
            f"{block.page}:{block.line}: an opt-out must say why the block cannot run here")
        compile(block.code, f"{block.page}:{block.line}", "exec")


def test_the_extractor_finds_blocks_in_order_with_their_opt_outs(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n```python\nx = 1\n```\n<!-- docs: not run: needs torchrun -->\n"
                    "```python\nimport nothing\n```\n```text\nnot code\n```\n")
    blocks = python_blocks(page, root=tmp_path)
    assert [(b.line, b.code, b.opt_out) for b in blocks] == [
        (3, "x = 1\n", None), (7, "import nothing\n", "needs torchrun")]


def test_a_warning_in_a_block_fails_the_page():
    with pytest.raises(UserWarning, match="float32"):
        run_page([Block("page.md", 1, "import warnings\nwarnings.warn('float32')\n", None)])


def test_a_shown_output_is_checked_with_doctest_rules():
    run_page([Block("page.md", 1, "print('margin', 0.25, 'in', 0.01, 's')\n", None,
                    "margin 0.25 in ... s\n")])
    with pytest.raises(AssertionError, match="the page shows"):
        run_page([Block("page.md", 1, "print(0.5)\n", None, "0.25\n")])


def test_the_extractor_takes_a_text_block_after_a_python_block_as_its_output(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```python\nprint(1)\n```\n\n```text\n1\n```\nprose\n```python\nx = 2\n```\n")
    assert [b.output for b in python_blocks(page, root=tmp_path)] == ["1\n", None]


def test_a_later_block_sees_the_names_of_an_earlier_one():
    namespace = run_page([Block("page.md", 1, "x = 2\n", None),
                          Block("page.md", 5, "y = x * 3\n", None)])
    assert namespace["y"] == 6

