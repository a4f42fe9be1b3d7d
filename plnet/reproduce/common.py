"""What every reproduction shares: training one grid point, certifying in raw input space,
the paper's model-selection rule, percentile objects, tables and result files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from plnet.network import Network

#: the percentiles every table reports
PERCENTILES = (25, 50, 75, 100)


def percentile_object(values) -> dict[str, float]:
    """``{"P25": ..., "P50": ..., "P75": ..., "P100": ...}`` (numpy's interpolation, as the
    paper's Appendix K says it used)."""
    values = np.asarray(values, float)
    return {f"P{q}": float(np.percentile(values, q)) for q in PERCENTILES}


def normalized(x, mean, std):
    """``(x - mean) / std`` in float32, for training."""
    return ((np.asarray(x, np.float32) - np.float32(mean)) / np.float32(std)).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """One training run's settings (the paper's Appendix G unless a reproduction says
    otherwise)."""

    epochs: int = 20
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.5
    batch_size: int = 64
    gamma: float = 100
    samples: int | None = None
    relaxation: str = "roll"
    seed: int = 0


def train(net: Network, train_data, val_data, *, lam: float, C: float,
          settings: TrainSettings) -> Network:
    """Train ``net`` (vanilla when ``lam == 0``) and return the epoch with the lowest
    validation loss (the paper's choice), as a float64 :class:`Network`."""
    from plnet.backends.torch import fit
    from plnet.frontends.torch.threads import one_thread

    with one_thread():
        result = fit(net, train_data, val_data=val_data, lam=lam, C=C, gamma=settings.gamma,
                     samples=settings.samples if lam > 0 else None,
                     relaxation=settings.relaxation, epochs=settings.epochs,
                     optimizer=settings.optimizer, lr=settings.lr, momentum=settings.momentum,
                     batch_size=settings.batch_size, seed=settings.seed, device="cpu",
                     eval_margins=False, progress=False)
    return result.network


def certify_raw(raw_net: Network, x, y, *, p=(1, 2)) -> dict[str, Any]:
    """Accuracy, #CLR and margin percentiles of a raw-input network (or sequence model, with
    ``x`` a list of sequences) on ``(x, y)``.

    Certified by the torch backend in float64 (the quoted precision).
    """
    import torch

    from plnet.backends.torch import certify, compile
    from plnet.frontends.torch.threads import one_thread

    module = compile(raw_net, device="cpu", dtype=torch.float64)
    # a list holds variable-length sequences (of a sequence model)
    inputs = list(x) if isinstance(x, (list, tuple)) else np.asarray(x, np.float64)
    with one_thread():
        report = certify(module, (inputs, np.asarray(y)), p=p, progress=False)
    row = {"acc": float(report.correct.mean()), "clr": int(report.regions.lower),
           "clr_bounds": [int(report.regions.lower), int(report.regions.upper)]}
    for v in p:
        row[f"eps{v:g}"] = percentile_object(report.margins[float(v)])
    return row


def select_models(vanilla_acc: float, candidates: list[dict], drop: float = 0.01) -> list[dict]:
    """The paper's rule (§5.1): of the ROLL candidates, the one with the largest validation
    median l2 margin among those with at least the vanilla validation accuracy, and the
    one among those at most ``drop`` below it. Each candidate holds ``val_acc`` and
    ``val_eps2_p50``; a rule no candidate meets is left out (the list may be shorter).
    The same model may be chosen twice (listed once). Each chosen candidate gets
    ``"selected"``: the rules it won, e.g. ``["same accuracy", "-1% accuracy"]``."""
    chosen = []
    for floor, rule in ((vanilla_acc, "same accuracy"), (vanilla_acc - drop, "-1% accuracy")):
        # 1e-9: accuracies are ratios of counts; equal ones must compare equal
        fit_ = [c for c in candidates if c["val_acc"] >= floor - 1e-9]
        if fit_:
            best = max(fit_, key=lambda c: c["val_eps2_p50"])
            if all(best is not c for c in chosen):
                best["selected"] = []
                chosen.append(best)
            best["selected"].append(rule)
    return chosen


def grid_results(vanilla: dict, candidates: list[dict]) -> list[dict]:
    """Every trained model of a grid (vanilla first) as ``{"lambda", "C", "val_acc",
    "val_eps2_p50"}``: what the selection rule saw."""
    return [{k: run[k] for k in ("lambda", "C", "val_acc", "val_eps2_p50")}
            for run in [vanilla] + candidates]


def grid_lines(grid: list[dict], part: str) -> str:
    """The grid's models after vanilla, one line each: accuracy and median eps2 on
    ``part`` data."""
    lines = [f"  lambda={g['lambda']:g} C={g['C']:g}: accuracy {g['val_acc']:.1%}, median "
             f"eps2 {g['val_eps2_p50']:.2e}" for g in grid[1:]]
    return f"the grid ({part} data):\n" + "\n".join(lines)


def progress_bar(total: int, desc: str, enabled: bool):
    """A tqdm bar on stderr over ``total`` runs (a no-op object when disabled)."""
    from plnet.cli.progress import Progress

    return Progress(total, desc, "run", enabled)


def write_result(result: dict, out: Path) -> Path:
    """Write ``result`` as ``out/NAME[-quick].json``; returns the path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{result['name']}{'-quick' if result['quick'] else ''}.json"
    path.write_text(json.dumps(result, indent=1, default=_plain) + "\n")
    return path


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def figure_path(out: Path, name: str, quick: bool) -> Path:
    """Where a reproduction's PNG goes."""
    out.mkdir(parents=True, exist_ok=True)
    return out / f"{name}{'-quick' if quick else ''}.png"


def pyplot():
    """matplotlib's pyplot with the file-only Agg backend (the ``plot`` extra)."""
    from plnet.errors import require

    matplotlib = require("matplotlib", "plot", "plnet reproduce's figures")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    """Lay out, write and close a matplotlib figure; returns ``path``."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def finish_tradeoff_plot(fig, ax, path: Path, part: str) -> Path:
    """Label an accuracy-against-median-l2-margin plot of ``part`` data and save it."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels of a short decade overlap
    ax.set_xlabel(f"{part} median l2 margin (raw pixels)")
    ax.set_ylabel(f"{part} accuracy")
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def tradeoff_figure(vanilla: dict, candidates: list[dict], path: Path,
                    part: str = "validation") -> Path:
    """Accuracy against median eps2 of ``part`` data over a grid (cf. the paper's Figure 2):
    each candidate and ``vanilla`` hold ``val_acc``, ``val_eps2_p50`` (and ``lambda``,
    ``C``)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=100)
    for c in candidates:
        ax.scatter(c["val_eps2_p50"], c["val_acc"], color="tab:blue")
        ax.annotate(f"λ={c['lambda']:g}, C={c['C']:g}", (c["val_eps2_p50"], c["val_acc"]),
                    fontsize=7)
    ax.scatter(vanilla["val_eps2_p50"], vanilla["val_acc"], color="tab:red", label="vanilla")
    return finish_tradeoff_plot(fig, ax, path, part)


def margin_table(rows: list[dict], paper: list[dict], scale: float, label: str,
                 ours: str) -> str:
    """Rows in the paper's layout (Table 1/3): loss, C, lambda, ACC, #CLR, then eps1 and eps2
    percentiles in units of ``scale``; ours above, the paper's below."""
    head = (f"{'':9}{'loss':8}{'C':>7}{'lambda':>8}{'ACC':>7}{'#CLR':>7}  "
            f"eps1 x{scale:.0e}: P25 P50 P75 P100   eps2 x{scale:.0e}: P25 P50 P75 P100")
    lines = [head]
    for source, table in ((ours, rows), (label, paper)):
        for row in table:
            cells = " ".join(f"{row[k][f'P{q}'] / scale:7.1f}" for k in ("eps1", "eps2")
                             for q in PERCENTILES)
            clr = "-" if row.get("clr") is None else str(row["clr"])
            lines.append(f"{source:9}{row['loss']:8}{_num(row['C']):>7}"
                         f"{_num(row['lambda']):>8}{row['acc']:>7.1%}{clr:>7}  {cells}")
    return "\n".join(lines)


def _num(value) -> str:
    return "-" if value is None else f"{value:g}"

