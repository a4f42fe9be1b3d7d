"""Progress on stderr: a tqdm bar when tqdm is installed, else one plain line redrawn with CR.

Progress never goes to stdout, which carries the results (and may be piped into a parser).
"""

from __future__ import annotations

import sys
import time


def progress_wanted(args) -> bool:
    """On when forced with ``--progress``; else on a terminal unless ``--quiet``."""
    if getattr(args, "progress", False):
        return True
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


class Progress:
    """Counts units of work (points, epochs) towards a known total.

    Args:
        total: units expected.
        desc: what is counted, e.g. ``"certify"``.
        unit: the unit's name, e.g. ``"pt"``.
        enabled: False makes every method a no-op.
    """

    def __init__(self, total: int, desc: str, unit: str, enabled: bool):
        self.total, self.desc, self.unit, self.enabled = int(total), desc, unit, enabled
        self.done = 0
        self._bar = None
        self._started = time.perf_counter()
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:  # the torch extra brings tqdm; without it, a plain line
                tqdm = None
            if tqdm is not None:
                # disable=False: --progress must show even when stderr is not a terminal
                self._bar = tqdm(total=self.total, desc=desc, unit=unit, file=sys.stderr,
                                 disable=False, dynamic_ncols=True)
            else:
                self._draw()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units done."""
        if not self.enabled:
            return
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        else:
            self._draw()

    def close(self) -> None:
        """End the line (or the bar) so that later messages start on a fresh line."""
        if not self.enabled:
            return
        self.enabled = False
        if self._bar is not None:
            self._bar.close()
        else:
            print(file=sys.stderr, flush=True)

    def _draw(self) -> None:
        elapsed = time.perf_counter() - self._started
        share = f" ({100 * self.done // max(self.total, 1)}%)" if self.total else ""
        print(f"\r{self.desc}: {self.done}/{self.total} {self.unit}{share}, {elapsed:.1f} s",
              end="", file=sys.stderr, flush=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
