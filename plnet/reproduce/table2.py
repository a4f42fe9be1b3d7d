"""Table 2: seconds per gradient step, vanilla against the ROLL loss computed four ways.

The Table 1 network (quick: a smaller one) on a batch of 64 MNIST images; every setting
runs the same SGD step (forward, loss, backward, update). The settings take turns within
each repeat and the median is reported, so that machine load affects them alike.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from plnet.demo import relu_mlp
from plnet.reproduce import paper
from plnet.reproduce.common import figure_path, progress_bar, pyplot, save_figure
from plnet.reproduce.registry import register
from plnet.reproduce.table1 import FULL, QUICK, mnist_parts

#: ROLL's weight and hinge in the timed steps (Table 1's model: lambda 2, C 0.25)
LAM, C = 2.0, 0.25
#: the settings, in Table 2's order, with the paper's names
SETTINGS = ("vanilla", "roll_full_backprop", "roll_full_perturbation",
            "roll_full_recursion", "roll_3_samples_perturbation")


def _regularizer(z, sq):
    from plnet.backends.torch import get_relaxation

    return get_relaxation("roll")(z, sq, C=C, gamma=100).mean()


def _roll_terms(module, x, setting: str):
    """``(logits, regularizer)`` of one batch, computed as ``setting`` says."""
    from plnet.backends.torch import regularized_forward
    from plnet.backends.torch.gradients import unit_gradient_norms

    if setting == "roll_full_backprop":
        # the baseline the paper times: one back-propagation per unit
        x = x.detach().requires_grad_(True)
        logits, z = module(x, return_units=True)
        sq = torch.stack([torch.autograd.grad(z[:, j].sum(), x, create_graph=True)[0]
                          .pow(2).sum(dim=1) for j in range(z.shape[1])], dim=1)
        return logits, _regularizer(z, sq)
    if setting == "roll_3_samples_perturbation":
        return regularized_forward(module, x, C=C, samples=3)
    method = setting.rsplit("_", 1)[1]
    pattern, norms, _ = unit_gradient_norms(module, x, ("sq",), method=method)
    return pattern.output, _regularizer(pattern.z, norms["sq"])


def _step(module, opt, x, y, setting: str) -> float:
    start = time.perf_counter()
    opt.zero_grad()
    if setting == "vanilla":
        loss = torch.nn.functional.cross_entropy(module(x), y)
    else:
        logits, reg = _roll_terms(module, x, setting)
        loss = torch.nn.functional.cross_entropy(logits, y) + LAM * reg
    loss.backward()
    opt.step()
    return time.perf_counter() - start


@register("table2", "Table 2: seconds per gradient step, vanilla and ROLL")
def run_table2(*, quick: bool, out: Path, progress: bool, seed: int = 0) -> dict:
    from plnet.backends.torch import compile
    from plnet.frontends.torch.threads import one_thread

    setup = QUICK if quick else FULL
    repeats = 15 if quick else 10
    _, (x, y), _ = mnist_parts(setup, seed)
    x, y = torch.as_tensor(x[:64]), torch.as_tensor(y[:64])
    net = relu_mlp((784, *setup.hidden, 10), seed)
    modules = {s: compile(net, device="cpu") for s in SETTINGS}
    opts = {s: torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.5, nesterov=True)
            for s, m in modules.items()}
    times = {s: [] for s in SETTINGS}
    torch.manual_seed(seed)
    with one_thread(), progress_bar(repeats + 1, "time steps", progress) as bar:
        for repeat in range(repeats + 1):  # the first round warms up and is not counted
            for s in SETTINGS:
                took = _step(modules[s], opts[s], x, y, s)
                if repeat:
                    times[s].append(took)
            bar.update(1)
    rows = [{"setting": s, "seconds_per_step": statistics.median(times[s])} for s in SETTINGS]
    vanilla = rows[0]["seconds_per_step"]
    paper_by = {r["setting"]: r["seconds_per_step"] for r in paper.TABLE2}
    lines = [f"{'setting':32}{'here (s)':>12}{'x vanilla':>11}{'paper (s)':>12}{'x vanilla':>11}"]
    for r in rows:
        ref = paper_by.get(r["setting"])
        lines.append(f"{r['setting']:32}{r['seconds_per_step']:12.2e}"
                     f"{r['seconds_per_step'] / vanilla:11.1f}"
                     + (f"{ref:12.2e}{ref / paper_by['vanilla']:11.1f}" if ref else
                        f"{'-':>12}{'-':>11}"))
    figure = _figure(rows, figure_path(out, "table2", quick))
    return {"name": "table2", "quick": quick, "rows": rows, "paper": paper.TABLE2,
            "figures": [str(figure)], "table": "\n".join(lines),
            "model": f"784-{'-'.join(map(str, setup.hidden))}-10 ReLU, batch 64, one thread",
            "repeats": repeats,
            "note": "roll_full_recursion (Appendix D) is not in the paper's table"}


def _figure(rows, path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 2.6), dpi=100)
    ax.barh([r["setting"] for r in rows][::-1], [r["seconds_per_step"] for r in rows][::-1])
    ax.set_xscale("log")
    ax.set_xlabel("seconds per step (median)")
    return save_figure(fig, path)
