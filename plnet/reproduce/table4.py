"""Table 4 and Figure 4: gradient distortion, vanilla against ROLL, on an offline substitute.

See :mod:`plnet.reproduce.distortion_runs` for the model, data and settings; both commands
share one experiment (Figure 4 reuses Table 4's results under ``--out``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plnet.reproduce import paper
from plnet.reproduce.common import (PERCENTILES, figure_path, percentile_object, pyplot,
                                    save_figure)
from plnet.reproduce.distortion_runs import EPS, run_experiment
from plnet.reproduce.registry import register

SUBSTITUTE = ("offline substitute: a small ResNet (average pooling) trained from scratch on "
              "the MNIST 5k subset instead of ResNet-18 on Caltech-256; eps = 8/256 in raw "
              "pixels")


def _rows(result) -> list[dict]:
    rows = []
    for name in ("vanilla", "roll"):
        model = result["models"][name]
        rows.append({"loss": name, "C": model["C"], "lambda": model["lambda"],
                     "p_at_1": model["p_at_1"], "p_at_5": model["p_at_5"],
                     "expected_l1": percentile_object(result["arrays"][f"{name}.expected"]),
                     "max_l1": percentile_object(result["arrays"][f"{name}.max"])})
    return rows


def _table(rows) -> str:
    head = (f"{'':7}{'loss':8}{'P@1':>7}{'P@5':>7}   E[l1 distortion]: P25 P50 P75 P100"
            f"      max l1 distortion: P25 P50 P75 P100")
    lines = [head]
    for source, table in (("here", rows), ("paper", paper.TABLE4)):
        for r in table:
            cells = "  ".join(" ".join(f"{r[k][f'P{q}']:7.1f}" for q in PERCENTILES)
                              for k in ("expected_l1", "max_l1"))
            lines.append(f"{source:7}{r['loss']:8}{r['p_at_1']:7.1%}{r['p_at_5']:7.1%}   "
                         f"{cells}")
    return "\n".join(lines)


@register("table4", "Table 4: l1 gradient distortion (offline substitute for Caltech-256)")
def run_table4(*, quick: bool, out: Path, progress: bool, seed: int = 0) -> dict:
    result = run_experiment(quick, out, progress, seed)
    rows = _rows(result)
    setup = result["setup"]
    return {"name": "table4", "quick": quick, "rows": rows, "paper": paper.TABLE4,
            "figures": [str(_figure4(result, figure_path(out, "figure4", quick)))],
            "table": _table(rows) + f"\n\n{SUBSTITUTE}; {setup['eval_points']} test images, "
                                    f"{setup['samples']} samples, GA population "
                                    f"{setup['population']} x {setup['epochs']} epochs",
            "substitute": SUBSTITUTE, "eps": EPS, "setup": setup, "grid": result["grid"]}


def gradient_image(grad: np.ndarray) -> np.ndarray:
    """Appendix K's picture of a gradient: sum over channels, absolute value, divide by the
    99th percentile, clip at 1."""
    g = np.abs(grad.reshape(-1, 28, 28).sum(axis=0))
    scale = np.percentile(g, 99)
    return np.clip(g / scale, 0, 1) if scale > 0 else g


def examples(result) -> list[int]:
    """Indices of the images closest to the P50 and P75 of ROLL's maximum distortion."""
    values = result["arrays"]["roll.max"]
    return [int(np.argmin(np.abs(values - np.percentile(values, q)))) for q in (50, 75)]


def _figure4(result, path: Path) -> Path:
    plt = pyplot()
    a = result["arrays"]
    columns = [("image", lambda i: a["x"][i].reshape(28, 28)),
               ("grad (ROLL)", lambda i: gradient_image(a["roll.grad"][i])),
               ("adv. grad (ROLL)", lambda i: gradient_image(a["roll.adv_grad"][i])),
               ("grad (vanilla)", lambda i: gradient_image(a["vanilla.grad"][i])),
               ("adv. grad (vanilla)", lambda i: gradient_image(a["vanilla.adv_grad"][i])),
               ("int. grad (ROLL)", lambda i: gradient_image(a["roll.ig"][i])),
               ("adv. int. grad (ROLL)", lambda i: gradient_image(a["roll.adv_ig"][i]))]
    rows = examples(result)
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(1.6 * len(columns), 1.9 * len(rows)),
                             dpi=80, squeeze=False)
    for r, (i, q) in enumerate(zip(rows, (50, 75))):
        for c, (title, image) in enumerate(columns):
            ax = axes[r][c]
            ax.imshow(image(i), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(title if r == 0 else "", fontsize=7)
        axes[r][0].set_ylabel(f"P{q}: max l1\nROLL {a['roll.max'][i]:.1f}\n"
                              f"vanilla {a['vanilla.max'][i]:.1f}", fontsize=7)
    return save_figure(fig, path)


@register("figure4", "Figure 4: original and adversarial gradients (offline substitute)")
def run_figure4(*, quick: bool, out: Path, progress: bool, seed: int = 0) -> dict:
    result = run_experiment(quick, out, progress, seed)
    a = result["arrays"]
    rows = [{"percentile": q, "index": i, "label": int(a["y"][i]),
             "max_l1_roll": float(a["roll.max"][i]), "max_l1_vanilla": float(a["vanilla.max"][i])}
            for i, q in zip(examples(result), (50, 75))]
    figure = _figure4(result, figure_path(out, "figure4", quick))
    table = "\n".join(f"P{r['percentile']} of ROLL's max l1 distortion: image {r['index']} "
                      f"(label {r['label']}): ROLL {r['max_l1_roll']:.1f}, vanilla "
                      f"{r['max_l1_vanilla']:.1f}" for r in rows)
    return {"name": "figure4", "quick": quick, "rows": rows, "paper": [],
            "figures": [str(figure)], "table": f"{table}\nfigure: {figure}\n{SUBSTITUTE}",
            "substitute": SUBSTITUTE}
