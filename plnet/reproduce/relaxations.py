"""Every registered margin relaxation, trained on the same model and data, side by side.

For research on new relaxations: register one (:func:`plnet.backends.torch.register_relaxation`)
before running, and ``plnet reproduce relaxations`` trains it beside the paper's (distance,
max_hinge, roll) and softmin_distance over the same small lambda grid, on Table 1's setup
(MNIST 5k subset, exact gradients), and prints accuracy, eps1/eps2 percentiles and #CLR.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from plnet.reproduce.common import PERCENTILES, figure_path, finish_tradeoff_plot, pyplot
from plnet.reproduce.registry import register
from plnet.reproduce.table1 import FULL, QUICK, evaluate, run_grid

#: lambdas tried per relaxation (C fixed at 1)
LAMBDAS = {"quick": (0.5, 2.0), "full": (0.25, 1.0, 4.0)}


@register("relaxations", "every registered margin relaxation over a small lambda grid")
def run_relaxations(*, quick: bool, out: Path, progress: bool, seed: int = 0) -> dict:
    from plnet.backends.torch import RELAXATIONS

    started = time.perf_counter()
    setup = dataclasses.replace(QUICK if quick else FULL, Cs=(1.0,))
    if quick:
        setup = dataclasses.replace(setup, train_points=1000,
                                    settings=dataclasses.replace(setup.settings, epochs=8))
    lambdas = LAMBDAS["quick" if quick else "full"]
    rows = []
    for name in sorted(RELAXATIONS):
        data, vanilla, candidates = run_grid(setup, seed, progress, relaxation=name,
                                             lambdas=lambdas, with_vanilla=not rows)
        if vanilla is not None:
            rows.append({"relaxation": None, "loss": "vanilla", "C": None, "lambda": None,
                         **evaluate(vanilla["net"], data, "test")})
        for c in candidates:
            rows.append({"relaxation": name, "loss": "roll", "C": c["C"], "lambda": c["lambda"],
                         **evaluate(c["net"], data, "test")})
    lines = [f"{'relaxation':18}{'lambda':>7}{'ACC':>7}{'#CLR':>6}   eps1: "
             + " ".join(f"{'P' + str(q):>8}" for q in PERCENTILES) + "   eps2: "
             + " ".join(f"{'P' + str(q):>8}" for q in PERCENTILES)]
    for r in rows:
        lines.append(f"{r['relaxation'] or 'vanilla':18}{r['lambda'] or 0:7g}{r['acc']:7.1%}"
                     f"{r['clr']:6d}   " + "      " + " ".join(
                         f"{r['eps1'][f'P{q}']:8.2e}" for q in PERCENTILES) + "         "
                     + " ".join(f"{r['eps2'][f'P{q}']:8.2e}" for q in PERCENTILES))
    figure = _figure(rows, figure_path(out, "relaxations", quick))
    return {"name": "relaxations", "quick": quick, "rows": rows, "paper": [],
            "figures": [str(figure)], "table": "\n".join(lines),
            "model": f"784-{'-'.join(map(str, setup.hidden))}-10 ReLU, C = 1, test margins in "
                     f"raw pixels", "seconds": time.perf_counter() - started}


def _figure(rows, path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 3.2), dpi=100)
    for name in sorted({r["relaxation"] for r in rows if r["relaxation"]}):
        mine = [r for r in rows if r["relaxation"] == name]
        ax.plot([r["eps2"]["P50"] for r in mine], [r["acc"] for r in mine], "o-", label=name)
    base = rows[0]
    ax.scatter(base["eps2"]["P50"], base["acc"], color="black", marker="x", label="vanilla")
    return finish_tradeoff_plot(fig, ax, path, "test")
