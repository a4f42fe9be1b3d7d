"""Keep third-party native code from printing into plnet's output.

Some solvers write to the process's file descriptors from C or C++ before any option can
silence them: highspy 1.16 prints a two-line "Running HiGHS ..." banner from the
constructor of its solver object, and cvxpy builds that object before it applies the
solver options. Python-level redirection (``contextlib.redirect_stdout``) does not see such
writes, so :func:`silenced_fds` points descriptors 1 and 2 at a temporary file for the
duration of a call (and ``sys.stdout``/``sys.stderr`` at a buffer, for Python-level prints
when those streams do not write through the descriptors, as under pytest). What was written is kept and returned, so an error can quote it instead
of losing it.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import threading
from collections.abc import Iterator

# dup2 swaps a process-wide table: two threads silencing at once would restore each other's
# descriptors in the wrong order, so they take turns.
_LOCK = threading.Lock()


class CapturedOutput:
    """What native code wrote to descriptors 1 and 2 while silenced (filled on exit)."""

    def __init__(self) -> None:
        self.text = ""


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed or detached stream has nothing to flush
            pass


@contextlib.contextmanager
def silenced_fds() -> Iterator[CapturedOutput]:
    """Send everything written to file descriptors 1 and 2 to a temporary file.

    Yields:
        A :class:`CapturedOutput` whose ``text`` holds what was written, once the block ends.
    """
    captured = CapturedOutput()
    python_level = io.StringIO()
    with _LOCK, tempfile.TemporaryFile() as sink:
        _flush_python_streams()
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            with contextlib.redirect_stdout(python_level), contextlib.redirect_stderr(python_level):
                yield captured
        finally:
            _flush_python_streams()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            captured.text = (sink.read().decode("utf-8", errors="replace")
                             + python_level.getvalue())
