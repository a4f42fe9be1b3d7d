"""docs/cli-reference.md is what the live parser gives, so it cannot go stale."""

from __future__ import annotations

import argparse
from pathlib import Path

from plnet.cli import build_parser
from plnet.cli.reference import flags, markdown, subcommands

PAGE = Path(__file__).resolve().parents[2] / "docs" / "cli-reference.md"
REGENERATE = "python -m plnet.cli.reference docs/cli-reference.md"


def test_the_committed_reference_is_the_generated_one():
    assert PAGE.read_text() == markdown(), f"docs/cli-reference.md is stale: run `{REGENERATE}`"


def test_the_reference_lists_every_subcommand_and_every_flag_with_its_default():
    parser, page = build_parser(), markdown()
    assert set(subcommands(parser)) >= {"demo", "inspect", "convert", "certify"}
    for name, sub in subcommands(parser).items():
        section = page.split(f"## `plnet {name}`\n", 1)[1].split("\n## ", 1)[0]
        for action in flags(sub):
            for option in action.option_strings:
                assert option in section, f"plnet {name}: {option} is not documented"
            if action.default not in (None, False, argparse.SUPPRESS) and action.nargs != 0:
                name = action.option_strings[-1] if action.option_strings else action.dest.upper()
                row = next(r for r in section.splitlines() if r.startswith(f"| `{name}")
                           or f", {name}" in r.split(" | ")[0])
                assert row.split(" | ")[1].startswith("`"), f"plnet {name}: no default shown"

def test_a_new_flag_appears_in_the_reference_and_json_links_to_its_schema():
    parser = build_parser()
    sub = subcommands(parser)["inspect"]
    sub.add_argument("--depth", type=int, default=3, help="how deep to look")
    page = markdown(parser)
    assert "| `--depth DEPTH` | `3` | how deep to look |" in page
    assert "[JSON schemas](cli.md#json-schemas)" in page.split("## `plnet inspect`")[1]


def test_the_exit_statuses_are_in_the_reference():
    assert "Exit status: 0 success, 1 error, 2 usage error" in markdown()
