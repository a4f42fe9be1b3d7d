"""Table 3: margins of a LeakyReLU RNN on Japanese Vowels, vanilla against ROLL.

The experiment (:mod:`plnet.reproduce.vowels_runs`) trains vanilla and a (lambda, C)
grid, selects by the paper's rule on the testing set (Appendix H) and certifies l1 and l2
margins of every testing sequence in the raw input space.
"""

from __future__ import annotations

import time
from pathlib import Path

from plnet.reproduce import paper
from plnet.reproduce.common import figure_path, grid_lines, margin_table, tradeoff_figure
from plnet.reproduce.registry import register
from plnet.reproduce.vowels_runs import describe_setup, run_experiment


@register("table3", "Table 3: RNN margins on Japanese Vowels")
def run_table3(*, quick: bool, out: Path, progress: bool, seed: int = 0) -> dict:
    started = time.perf_counter()
    experiment = run_experiment(quick, out, progress, seed)
    rows, grid = experiment["rows"], experiment["grid"]
    figure = tradeoff_figure(grid[0], grid[1:], figure_path(out, "table3", quick), "testing")
    base = rows[0]["eps2"]["P50"]
    picks = [f"{row['eps2']['P50'] / base:.1f}x ({' and '.join(row['selected'])})"
             for row in rows[1:] if base > 0]
    table = (margin_table(rows, paper.TABLE3, 1e-6, "paper", "here") +
             f"\n\nmedian eps2 of the selected ROLL models / vanilla: "
             f"{', '.join(picks) or 'none selected'} (paper: about 4x at the same accuracy, "
             f"20x at -1%; selected on testing accuracy as Appendix H, vanilla's "
             f"{grid[0]['val_acc']:.1%})\n" + grid_lines(grid, "testing"))
    return {"name": "table3", "quick": quick, "rows": rows, "paper": paper.TABLE3,
            "figures": [str(figure)], "table": table, "grid": grid,
            **describe_setup(experiment), "seconds": time.perf_counter() - started}
