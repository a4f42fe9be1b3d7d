"""``main``: run one command and turn every way it can end into an exit status and, on
failure, one line on stderr that says what to do."""

from __future__ import annotations

import os
import sys
import traceback

from plnet.cli.hints import as_cli_hint
from plnet.cli.parser import build_parser
from plnet.errors import PlnetError

#: Exit statuses besides argparse's 2.
EXIT_ERROR, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 1, 130, 141


def main(argv=None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (2), --help and --version (0)
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        status = args.func(args)
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        return _stdout_closed()
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except PlnetError as exc:
        return _fail(as_cli_hint(str(exc)))
    except MemoryError as exc:
        return _fail(f"out of memory ({exc or 'MemoryError'}); for certify, lower "
                     f"--batch-size or --memory-budget, or use --backend torch")
    except Exception as exc:  # anything unforeseen still ends in one readable line
        hint = "" if _debug() else " (rerun with PLNET_DEBUG=1 for the traceback)"
        return _fail(f"{type(exc).__name__}: {exc}{hint}")


def _fail(message: str) -> int:
    if _debug():
        traceback.print_exc()
    print(f"plnet: error: {message}", file=sys.stderr, flush=True)
    return EXIT_ERROR


def _debug() -> bool:
    return os.environ.get("PLNET_DEBUG", "") not in ("", "0")


def _stdout_closed() -> int:
    """The reader of stdout went away (``| head``): end quietly, as the Python docs advise.

    Python flushes stdout again at exit, which would fail once more and print a warning, so
    stdout's descriptor is pointed at devnull first.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout without a descriptor (in-process)
        pass
    return EXIT_BROKEN_PIPE
