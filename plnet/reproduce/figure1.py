"""Figure 1: the linear regions of toy 2-d models, vanilla against the margin regularizers.

Appendix F's setup on the 2-d toy data (:func:`plnet.datasets.load_toy`, two moons: the
paper's points are not published): a 2-100x4-1 ReLU network, sigmoid cross-entropy, Adam,
5000 full-batch epochs, the epoch of lowest training loss, C = 5 and lambda = 1 for each
regularizer. Panes, as the paper's: (a) vanilla, (b) the distance regularization (Eq. 4),
(c) the relaxed regularization (Eq. 7), and (d) ROLL as trained everywhere else (Eq. 9,
gamma = 100). Each pane is the exact slice of the plane (:func:`plnet.regions.slice2d`):
every linear region, the certified l2 ball of some training points, the gradient arrows.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from plnet.datasets import load_toy
from plnet.demo import relu_mlp
from plnet.reproduce.common import PERCENTILES, figure_path, percentile_object, pyplot
from plnet.reproduce.registry import register

#: (loss name in the rows, relaxation, lambda); vanilla trains with lambda = 0
MODELS = (("vanilla", None, 0.0), ("distance", "distance", 1.0), ("relaxed", "max", 1.0),
          ("roll", "roll", 1.0))
#: the hinge weight of every regularized model (Appendix F)
TOY_C = 5.0
#: the plane drawn (a, b) = input coordinates: the box around the two moons
BOUNDS = (-1.5, 2.5, -1.0, 1.5)
#: training points whose certified l2 balls are drawn
BALL_POINTS = 24


@dataclasses.dataclass(frozen=True)
class ToySetup:
    """Network width and training length of the toy experiment."""

    width: int
    epochs: int
    lr: float = 1e-3


FULL = ToySetup(width=100, epochs=5000)
QUICK = ToySetup(width=32, epochs=300)


def train_toy(setup: ToySetup, x, y, relaxation: str | None, lam: float, seed: int):
    """Train the 2-width x4-1 network full-batch with Adam; the epoch of lowest training
    loss (Appendix F) as a float64 Network."""
    from plnet.backends.torch import fit
    from plnet.frontends.torch.threads import one_thread

    init = relu_mlp((2, *(setup.width,) * 4, 1), seed)
    with one_thread():
        result = fit(init, (x, y), val_data=(x, y), lam=lam, C=TOY_C,
                     relaxation=relaxation or "roll", epochs=setup.epochs, optimizer="adam",
                     lr=setup.lr, batch_size=len(y), seed=seed, device="cpu",
                     eval_margins=False, progress=False)
    return result.network


def describe(net, data) -> tuple[dict, object]:
    """Accuracy, #CLR and margin percentiles on the training points (the numpy reference)
    and the exact slice of the plane; returns ``(row, slice)``."""
    from plnet.analysis import count_linear_regions, margin
    from plnet.regions import slice2d

    x, y = (np.asarray(a, np.float64) for a in data.train)
    x_test, y_test = (np.asarray(a, np.float64) for a in data.test)
    regions = count_linear_regions(net, x, on_tie="exclude")
    s = slice2d(net, np.zeros(2), [1.0, 0.0], [0.0, 1.0], bounds=BOUNDS)
    row = {"acc": _accuracy(net, x, y), "test_acc": _accuracy(net, x_test, y_test),
           "clr": int(regions.lower), "clr_bounds": [int(regions.lower), int(regions.upper)],
           "eps1": percentile_object(margin(net, x, p=1)),
           "eps2": percentile_object(margin(net, x, p=2)),
           "regions": int(s.count), "linear_regions": int(s.linear_count),
           "median_region_area": float(np.median(s.areas))}
    return row, s


def _accuracy(net, x, y) -> float:
    """One logit: class 1 where it is positive."""
    return float(((net(x)[:, 0] > 0) == (y > 0)).mean())


@register("figure1", "Figure 1: linear regions of the 2-d toy models")
def run_figure1(*, quick: bool, out: Path, progress: bool, seed: int = 0) -> dict:
    from plnet.reproduce.common import progress_bar

    setup = QUICK if quick else FULL
    started = time.perf_counter()
    data = load_toy(seed=seed)
    x, y = data.train
    rows, slices = [], []
    with progress_bar(len(MODELS), "train (toy)", progress) as bar:
        for loss, relaxation, lam in MODELS:
            net = train_toy(setup, x, y, relaxation, lam, seed)
            row, s = describe(net, data)
            rows.append({"loss": loss, "relaxation": relaxation,
                         "C": TOY_C if lam else None, "lambda": lam or None, **row})
            slices.append(s)
            bar.update(1)
    balls = np.random.default_rng(seed).permutation(len(y))[:BALL_POINTS]
    figure = _figure(rows, slices, data.train, balls, figure_path(out, "figure1", quick))
    return {"name": "figure1", "quick": quick, "rows": rows, "paper": PAPER,
            "figures": [str(figure)], "table": _table(rows),
            "data": f"2-d toy data (two moons), {len(y)} training / {len(data.test[1])} "
                    f"testing points, seed {seed}",
            "model": f"2-{'-'.join([str(setup.width)] * 4)}-1 ReLU",
            "settings": {**dataclasses.asdict(setup), "optimizer": "adam",
                         "batch_size": len(y), "C": TOY_C, "gamma": 100},
            "bounds": list(BOUNDS), "ball_points": balls.tolist(),
            "seconds": time.perf_counter() - started}


#: what the paper says of its Figure 1 (it gives no numbers)
PAPER = [{"loss": "vanilla", "C": None, "lambda": None,
          "note": "small regions everywhere"},
         {"loss": "distance", "C": 5.0, "lambda": 1.0,
          "note": "larger regions around each training point"},
         {"loss": "relaxed", "C": 5.0, "lambda": 1.0,
          "note": "larger regions over the whole space, a smoother boundary, a central "
                  "region with zero gradient"}]

TITLES = {"vanilla": "(a) vanilla", "distance": "(b) distance (Eq. 4)",
          "relaxed": "(c) relaxed (Eq. 7)", "roll": "(d) ROLL (Eq. 9, gamma=100)"}


def _table(rows: list[dict]) -> str:
    head = (f"{'loss':10}{'C':>5}{'lambda':>8}{'ACC':>7}{'test':>7}{'#CLR':>6}{'regions':>9}"
            f"{'median area':>13}   eps2 on training points: "
            + " ".join(f"P{q}" for q in PERCENTILES))
    lines = [head]
    for r in rows:
        eps = " ".join(f"{r['eps2'][f'P{q}']:.4f}" for q in PERCENTILES)
        lines.append(f"{r['loss']:10}{_num(r['C']):>5}{_num(r['lambda']):>8}{r['acc']:>7.1%}"
                     f"{r['test_acc']:>7.1%}{r['clr']:>6}{r['regions']:>9}"
                     f"{r['median_region_area']:>13.2e}   {eps}")
    vanilla, roll = rows[0], rows[-1]
    lines.append(f"\nROLL / vanilla: {vanilla['regions'] / roll['regions']:.1f}x fewer regions "
                 f"on the plane, median eps2 {roll['eps2']['P50'] / vanilla['eps2']['P50']:.1f}x"
                 f" (the paper gives no numbers: regions larger with the regularizers)")
    return "\n".join(lines)


def _num(value) -> str:
    return "-" if value is None else f"{value:g}"


def _figure(rows, slices, train, balls, path: Path) -> Path:
    """One pane per model: the slice's regions, training points by class, the certified l2
    balls of ``balls`` (indices of training points), gradient arrows."""
    plt = pyplot()
    x, y = train
    fig, axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows), 3.2), dpi=70)
    for ax, row, s in zip(axes, rows, slices):
        s.plot(ax=ax, points=x[balls], balls=("l2",), gradients=True,
               title=f"{TITLES[row['loss']]}\n{row['regions']} regions, "
                     f"median eps2 {row['eps2']['P50']:.3f}")
        ax.scatter(x[:, 0], x[:, 1], c=np.where(y > 0, "white", "black"), s=6,
                   edgecolors="black", linewidths=0.4, zorder=3)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
