"""Figure 3: stability bounds of the derivatives along one channel of a test sequence.

For the testing sequences at the P50 and P75 of the ROLL model's l2 margins (the paper's
panes (a) and (b)), channel 9 over time: the value and, for vanilla and ROLL, the interval
``[x_ij - t-, x_ij + t+]`` on which moving that one coordinate keeps the model in its
linear region (:func:`plnet.sequence.stability_bounds`, the exact ratio test). The models
are Table 3's (:mod:`plnet.reproduce.vowels_runs`; trained once, kept under ``out``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from plnet.reproduce.common import figure_path, pyplot, save_figure
from plnet.reproduce.registry import register
from plnet.reproduce.vowels_runs import describe_setup, run_experiment

#: the paper's panes: the sequences at these percentiles of ROLL's testing l2 margins
PANE_PERCENTILES = (50, 75)
#: the channel drawn (1-based, as the paper's "9th channel")
CHANNEL = 9


@register("figure3", "Figure 3: stability bounds of derivatives on Japanese Vowels")
def run_figure3(*, quick: bool, out: Path, progress: bool, seed: int = 0) -> dict:
    from plnet.analysis import margin
    from plnet.sequence import stability_bounds

    started = time.perf_counter()
    experiment = run_experiment(quick, out, progress, seed)
    models = experiment["models"]
    xs, ys = experiment["data"].test
    eps = margin(models["roll"], xs, p=2)
    rows = []
    for q in PANE_PERCENTILES:
        i = int(np.argmin(np.abs(eps - np.percentile(eps, q))))
        row = {"percentile": q, "index": i, "label": int(ys[i]), "length": len(xs[i]),
               "channel": CHANNEL, "x": xs[i][:, CHANNEL - 1].tolist(), "eps2_roll": eps[i]}
        for name, model in models.items():
            bounds = stability_bounds(model, xs[i])
            width = bounds.minus + bounds.plus
            row[name] = {"minus": _finite(bounds.minus[:, CHANNEL - 1]),
                         "plus": _finite(bounds.plus[:, CHANNEL - 1]),
                         "median_width": float(np.median(width)),
                         "median_width_channel": float(np.median(width[:, CHANNEL - 1]))}
        rows.append(row)
    figure = _figure(rows, figure_path(out, "figure3", quick))
    table = "\n".join(
        f"P{r['percentile']} of ROLL's eps2: test sequence {r['index']} (label {r['label']}, "
        f"{r['length']} steps): median stability interval over all steps and channels "
        f"ROLL {r['roll']['median_width']:.3g}, vanilla {r['vanilla']['median_width']:.3g}; "
        f"channel {CHANNEL}: ROLL {r['roll']['median_width_channel']:.3g}, vanilla "
        f"{r['vanilla']['median_width_channel']:.3g}" for r in rows)
    return {"name": "figure3", "quick": quick, "rows": rows, "paper": PAPER,
            "figures": [str(figure)], "table": table + f"\nfigure: {figure}",
            **describe_setup(experiment), "seconds": time.perf_counter() - started}


#: what the paper says of its Figure 3 (no numbers)
PAPER = [{"note": "the stability bound of the ROLL model is consistently larger than the "
                  "vanilla model's (channel 9 of the sequences at P50 and P75 of ROLL's "
                  "eps2)"}]


def _finite(values) -> list:
    """JSON has no infinity: None where no unit bounds the ray."""
    return [float(v) if np.isfinite(v) else None for v in values]


def _figure(rows, path: Path) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(rows), figsize=(5 * len(rows), 3.2), dpi=80)
    for ax, row in zip(np.atleast_1d(axes), rows):
        x = np.asarray(row["x"])
        steps = np.arange(1, len(x) + 1)
        span = max(np.ptp(x), 1e-3)
        # ROLL's wider interval first, so that vanilla's shows on top of it
        for name, color in (("roll", "tab:blue"), ("vanilla", "tab:red")):
            # an unbounded ray is drawn to the edge of the plot
            minus = np.array([span if v is None else v for v in row[name]["minus"]])
            plus = np.array([span if v is None else v for v in row[name]["plus"]])
            ax.fill_between(steps, x - minus, x + plus, color=color, alpha=0.3,
                            step="mid", label=f"{name} stability bound")
        ax.plot(steps, x, "k.-", lw=1, label=f"channel {row['channel']}")
        ax.set_ylim(x.min() - span, x.max() + span)
        ax.set_xlabel("time step")
        ax.set_title(f"sequence at P{row['percentile']} of ROLL's eps2 (#{row['index']})",
                     fontsize=9)
        ax.legend(fontsize=7)
    return save_figure(fig, path)
