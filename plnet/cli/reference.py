"""The command-line reference in Markdown, generated from the live argparse parser.

``python -m plnet.cli.reference docs/cli-reference.md`` rewrites the committed page;
``tests/docs/test_cli_reference.py`` fails when the page differs from what the parser gives,
so a new subcommand or flag cannot be left out of the documentation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from plnet.cli.parser import build_parser

#: usage lines are wrapped at this width whatever the terminal, so the page is reproducible
USAGE_WIDTH = 88
#: where the ``--json`` outputs' schemas are documented (and checked against real output)
JSON_SCHEMAS = "cli.md#json-schemas"


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """``{name: parser}`` of every subcommand of ``parser``, in the order they were added.

    Args:
        parser: the top-level parser (``plnet.cli.build_parser()``).

    Returns:
        The subcommands' parsers keyed by name; empty when there are none.

    Example:
        >>> from plnet.cli import build_parser
        >>> "certify" in subcommands(build_parser())
        True
    """
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def flags(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The arguments of ``parser`` that a reference lists: every one but ``-h/--help``.

    Args:
        parser: one (sub)command's parser.

    Returns:
        Its actions, positionals and options, in the order they were added.

    Example:
        >>> from plnet.cli import build_parser
        >>> [a.dest for a in flags(subcommands(build_parser())["convert"])][:2]
        ['model', 'batch_dim']
    """
    return [a for a in parser._actions
            if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]


def usage(parser: argparse.ArgumentParser) -> str:
    """The usage line of ``parser``, wrapped at :data:`USAGE_WIDTH` columns.

    Args:
        parser: one (sub)command's parser.

    Returns:
        ``usage: plnet ...`` without its trailing newline.

    Example:
        >>> from plnet.cli import build_parser
        >>> usage(build_parser()).startswith("usage: plnet")
        True
    """
    formatter = argparse.HelpFormatter(parser.prog, width=USAGE_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def markdown(parser: argparse.ArgumentParser | None = None) -> str:
    """The whole reference page: the exit statuses, then one section per subcommand.

    Args:
        parser: the parser to document; ``plnet``'s own by default.

    Returns:
        The page as Markdown text, ending with a newline.

    Example:
        >>> page = markdown()
        >>> "## `plnet certify`" in page and "`--memory-budget SIZE`" in page
        True
    """
    parser = parser or build_parser()
    lines = ["# Command-line reference", "",
             "Generated from the parser by `python -m plnet.cli.reference docs/cli-reference.md`"
             " (do not edit by hand: `tests/docs/test_cli_reference.py` compares this page with"
             " the live parser). The guide, with examples and the `--json` schemas, is "
             "[The `plnet` command line](cli.md).", "",
             "```text", usage(parser), "```", "", _escape(parser.description or ""), "",
             "## Options of `plnet`", "", *_table(flags(parser)), ""]
    helps = {a.dest: a.help for action in parser._actions
             if isinstance(action, argparse._SubParsersAction) for a in action._choices_actions}
    for name, sub in subcommands(parser).items():
        summary = helps.get(name) or ""
        lines += [f"## `{sub.prog}`", "", f"{_escape(summary[:1].upper() + summary[1:])}.", "",
                  "```text", usage(sub), "```", "", _escape(sub.description or ""), "",
                  *_table(flags(sub)), ""]
        if any("--json" in a.option_strings for a in sub._actions):
            lines += [f"`--json` prints one object on stdout; its keys and types are in "
                      f"[JSON schemas]({JSON_SCHEMAS}).", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _table(actions: list[argparse.Action]) -> list[str]:
    rows = ["| argument | default | meaning |", "|---|---|---|"]
    for action in actions:
        rows.append(f"| `{_escape(_name(action))}` | {_default(action)} | "
                    f"{_escape(action.help or '')} |")
    return rows


def _name(action: argparse.Action) -> str:
    if not action.option_strings:
        return action.metavar or action.dest.upper()
    names = ", ".join(action.option_strings)
    if action.nargs == 0:
        return names
    metavar = action.metavar or (
        "{" + ",".join(action.choices) + "}" if action.choices else action.dest.upper())
    return f"{names} {metavar}"


def _default(action: argparse.Action) -> str:
    if action.required:
        return "required"
    if action.nargs == 0 or action.default in (None, argparse.SUPPRESS):
        return ""
    value = action.default
    if isinstance(value, tuple):
        value = ",".join(f"{v:g}" for v in value)
    return f"`{value}`"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def main(argv: list[str] | None = None) -> int:
    """Write the reference to the path given (or to stdout).

    Args:
        argv: ``[PATH]`` or nothing; ``sys.argv[1:]`` by default.

    Returns:
        The exit status, 0.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "cli-reference.md"
        >>> main([str(out)]), out.read_text() == markdown()
        (0, True)
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        Path(argv[0]).write_text(markdown())
    else:
        sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
