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
    ranks = _ranks(args.backend)
    with Progress(x.shape[0], "certify", "pt",
                  progress_wanted(args) and not ranks.distributed) as progress:
        if args.backend == "torch":
            margins, clr = _with_torch(net, x, args, progress, ranks)
        elif ranks.distributed:
            margins, clr = _with_numpy_sharded(net, x, args, ranks)
        else:
            margins, clr = _with_numpy(net, x, args, progress)
    if ranks.rank != 0:  # every rank holds the result; one prints it
        return 0
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
    return margins, _clr(counter.result())


def _ranks(backend: str):
    """The processes certifying together: several under ``torchrun``, else this one."""
    from plnet.backends.torch.distributed import Replicas, launched_by_torchrun, replicas

    if not launched_by_torchrun():
        return Replicas()
    from plnet.errors import require

    require("torch", "torch", "certify under torchrun")
    return replicas(None, "auto" if backend == "torch" else "cpu")


def _with_numpy_sharded(net, x, args, ranks):
    """The float64 reference on several ranks: fixed batches shared round-robin, joined in
    input order with exact #CLR bounds (see :mod:`plnet.backends.torch.distributed_certify`)."""
    from plnet.analysis.margins import margin_from
    from plnet.backends.torch.distributed_certify import CertificateShard, join_certificates
    from plnet.tolerances import JACOBIAN_RTOL

    cap = numpy_batch_cap(net, args.batch_size, args.memory_budget)
    shard = CertificateShard(args.p)

    def certify_mine():
        for index, lo in enumerate(range(0, x.shape[0], cap)):
            if ranks.owns(index):
                lin = plnet.linearize(net, x[lo:lo + cap])
                shard.add(lo, {p: margin_from(lin, p) for p in args.p}, lin.pattern_keys(),
                          lin.jacobian, lin.ties)

    ranks.run(certify_mine)
    margins, _, _, count = join_certificates(ranks, shard, "exclude", JACOBIAN_RTOL)
    return margins, _clr(count)


def _clr(count) -> dict:
    return {"lower": count.lower, "upper": count.upper, "tied_points": list(count.tied_points)}


def _with_torch(net, x, args, progress, ranks):
    """The torch backend in float64 (float32 margins are not sound near boundaries); with
    several ranks, fixed batches shared by them."""
    import torch

    from plnet.backends import torch as backend

    cap = TORCH_BATCH if args.batch_size == "auto" else args.batch_size
    plan = BatchPlan(x.shape[0], cap, adaptive=progress.enabled)
    module = backend.compile(net, device=ranks.device("auto"), dtype=torch.float64)
    try:
        report = backend.certify(module, x if ranks.distributed else stream(x, plan, progress),
                                 p=args.p, batch_size=cap, progress=False,
                                 distributed=ranks.distributed)
    except RuntimeError as exc:
        if type(exc).__name__ != "OutOfMemoryError":
            raise
        raise PlnetError(f"the torch backend ran out of device memory ({exc}); lower "
                         f"--batch-size (now {cap})") from None
    return report.margins, _clr(report.regions)
