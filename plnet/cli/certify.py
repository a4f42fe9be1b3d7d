"""``plnet certify``: certified margins of points, their percentiles, and #CLR bounds."""

from __future__ import annotations

import time

import numpy as np

import plnet
from plnet.cli.batching import TORCH_BATCH, BatchPlan, numpy_batch_cap, stream
from plnet.cli.inputs import load_model, load_points
from plnet.cli.progress import Progress, progress_wanted
from plnet.cli.report import emit_json, note, p_name, percentiles
from plnet.errors import MemoryBudgetError, PlnetError


def cmd_certify(args) -> int:
    net = load_model(args.model, args.batch_dim, args.output, args.drop_trailing,
                     not args.no_check)
    x = load_points(args.input, net.input_shape, args.input_key)
    x = net.check_input(x, f"--input {args.input}")
    with Progress(x.shape[0], "certify", "pt", progress_wanted(args)) as progress:
        if args.backend == "torch":
            margins, clr = _with_torch(net, x, args, progress)
        else:
            margins, clr = _with_numpy(net, x, args, progress)
    if args.json:
        emit_json({"p": [p_name(p) for p in margins], "points": int(x.shape[0]),
                   "margins": {p_name(p): m.tolist() for p, m in margins.items()},
                   "percentiles": {p_name(p): percentiles(m) for p, m in margins.items()},
                   "clr": clr})
        return 0
    print(f"{'point':>6}" + "".join(f"  {'l_' + p_name(p) + ' margin':>14}" for p in margins))
    for i in range(x.shape[0]):
        print(f"{i:>6}" + "".join(f"  {m[i]:>14.6e}" for m in margins.values()))
    for p, m in margins.items():
        label = "percentiles" if len(margins) == 1 else f"l_{p_name(p)} percentiles"
        print(f"{label}: " + "  ".join(f"{k}={v:.3e}" for k, v in percentiles(m).items()))
    print(f"complete linear regions among the points: between {clr['lower']} and "
          f"{clr['upper']} ({len(clr['tied_points'])} point(s) on a boundary left out)")
    return 0


def _with_numpy(net, x, args, progress):
    """The float64 reference, one linearization per batch for every norm and the count."""
    from plnet.analysis.counting import RegionCounter
    from plnet.analysis.margins import margin_from

    cap = numpy_batch_cap(net, args.batch_size, args.memory_budget)
    plan = BatchPlan(x.shape[0], cap, adaptive=progress.enabled)
    margins = {p: np.empty(x.shape[0]) for p in args.p}
    counter = RegionCounter(on_tie="exclude")
    while not plan.finished:
        lo, hi = plan.next_range()
        started = time.perf_counter()
        try:
            lin = plnet.linearize(net, x[lo:hi])
        except MemoryBudgetError:
            raise
        except MemoryError as exc:
            if not plan.shrink():
                raise MemoryBudgetError(
                    f"the numpy backend ran out of memory on one point ({exc}); use "
                    f"--backend torch, or free memory and retry") from None
            note(f"a batch of {hi - lo} points did not fit in memory; retrying with "
                 f"{plan.size}")
            continue
        for p, values in margins.items():
            values[lo:hi] = margin_from(lin, p)
        counter.add(lin)
        del lin
        progress.update(plan.advance(time.perf_counter() - started))
    count = counter.result()
    return margins, {"lower": count.lower, "upper": count.upper,
                     "tied_points": list(count.tied_points)}


def _with_torch(net, x, args, progress):
    """The torch backend in float64 (float32 margins are not sound near boundaries)."""
    import torch

    from plnet.backends import torch as backend

    cap = TORCH_BATCH if args.batch_size == "auto" else args.batch_size
    plan = BatchPlan(x.shape[0], cap, adaptive=progress.enabled)
    module = backend.compile(net, device="auto", dtype=torch.float64)
    try:
        report = backend.certify(module, stream(x, plan, progress), p=args.p,
                                 batch_size=cap, progress=False)
    except RuntimeError as exc:
        if type(exc).__name__ != "OutOfMemoryError":
            raise
        raise PlnetError(f"the torch backend ran out of device memory ({exc}); lower "
                         f"--batch-size (now {cap})") from None
    regions = report.regions
    return report.margins, {"lower": regions.lower, "upper": regions.upper,
                            "tied_points": list(regions.tied_points)}
