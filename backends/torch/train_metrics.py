"""Per-epoch evaluation for :func:`plnet.backends.torch.fit`: loss, accuracy, margins, #CLR.

Margins and #CLR bounds are certified on at most ``margin_points`` points, ``margin_chunk``
points per pass, by :func:`plnet.backends.torch.certify` (default) or by the float64 numpy
reference on ``module.to_network()``.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from plnet.backends.torch.distributed import Replicas
from plnet.backends.torch.train_data import ArrayData, LoaderData, TaskLoss

#: Percentiles of the margins reported every epoch (as the paper's tables).
PERCENTILES = (25, 50, 75, 100)


def evaluate_task(module: torch.nn.Module, data: ArrayData | LoaderData, task: TaskLoss,
                  batch_size: int, device: torch.device, dtype: torch.dtype,
                  what: str, ranks: Replicas | None = None) -> tuple[float, float | None]:
    """Mean task loss and accuracy (None for custom losses) of ``module`` on ``data``; with
    several ``ranks``, each evaluates its batches (round-robin) and the sums are reduced."""
    ranks = ranks or Replicas()
    total, correct, count = ranks.reduce(
        lambda: _task_sums(module, data, task, batch_size, device, dtype, what, ranks), 3)
    return total / count, (None if task.custom is not None else correct / count)


@torch.no_grad()
def _task_sums(module, data, task, batch_size, device, dtype, what, ranks) -> list[float]:
    total, correct, count = 0.0, 0, 0
    sharded = getattr(data, "sharded", False)  # each rank's loader yields its own share
    for index, (x, y) in enumerate(data.batches(batch_size, shuffle=False)):
        if not (sharded or ranks.owns(index)):
            continue
        x = x.to(device=device, dtype=dtype)
        y = task.targets(y, device, what)
        logits = module(x)
        total += float(task(logits, y)) * x.shape[0]
        correct += task.correct(logits, y) or 0
        count += x.shape[0]
    return [total, correct, count]


def collect_points(data: ArrayData | LoaderData, limit: int,
                   ranks: Replicas | None = None) -> np.ndarray | list:
    """Up to ``limit`` input points of ``data`` (in its unshuffled order), float64; rank 0's
    on every rank (a rank's loader may yield its own share); a list of ``[T_i, *F]`` arrays
    for variable-length sequence data."""
    return (ranks or Replicas()).on_rank0(lambda: _first_points(data, limit))


def _first_points(data: ArrayData | LoaderData, limit: int) -> np.ndarray | list:
    if hasattr(data, "collect_points"):
        return data.collect_points(limit)
    chunks, count = [], 0
    for x, _ in data.batches(max(1, min(limit, 1024)), shuffle=False):
        chunks.append(x[:limit - count].detach().cpu().double().numpy())
        count += chunks[-1].shape[0]
        if count >= limit:
            break
    return np.concatenate(chunks, axis=0)


def margin_metrics(module: torch.nn.Module, points: np.ndarray | list, chunk: int,
                   engine: str = "certify", ranks: Replicas | None = None) -> dict:
    """Certified l2 and l1 margin percentiles and #CLR bounds over ``points``.

    ``engine="certify"`` streams :func:`plnet.backends.torch.certify` in the module's own
    dtype and device (its batches shared by the ``ranks``); ``"reference"`` runs the float64
    numpy reference on ``module.to_network()`` (slower, the oracle; on rank 0, the result
    sent to every rank).
    """
    ranks = ranks or Replicas()
    if engine != "certify":
        return ranks.on_rank0(lambda: _margin_metrics(module, points, chunk, engine, ranks))
    return _margin_metrics(module, points, chunk, engine, ranks)


def _margin_metrics(module, points, chunk, engine, ranks) -> dict:
    import plnet
    from plnet.analysis.margins import margin_percentile
    from plnet.errors import PrecisionWarning

    out = {"margin_points": len(points)}
    if engine == "certify":
        from plnet.backends.torch.dispatch import certify

        x = points if isinstance(points, list) else torch.as_tensor(
            points, dtype=module.dtype, device=module.device)
        try:
            with warnings.catch_warnings():
                # training diagnostics, not certificates: float32 is the point here
                warnings.simplefilter("ignore", PrecisionWarning)
                report = certify(module, x, p=(2, 1), batch_size=chunk,
                                 percentiles=PERCENTILES, progress=False,
                                 distributed=ranks.distributed)
        except plnet.TieError:
            return {**out, "clr_lower": None, "clr_upper": None,
                    "clr_tied_points": len(points)}
        margins = {"l2": report.margins[2.0], "l1": report.margins[1.0]}
        count = report.regions
    else:
        from plnet.analysis.margins import margin_from

        net = module.to_network()
        l2, l1 = [], []
        for start in range(0, points.shape[0], chunk):
            lin = plnet.linearize(net, points[start:start + chunk])
            l2.append(margin_from(lin, 2))
            l1.append(margin_from(lin, 1))
        margins = {"l2": np.concatenate(l2), "l1": np.concatenate(l1)}
        try:
            count = plnet.count_linear_regions(net, points, on_tie="exclude", batch_size=chunk)
        except plnet.TieError:
            count = None
    for name, values in margins.items():
        for q in PERCENTILES:
            out[f"margin_{name}_p{q}"] = margin_percentile(values, q)
    if count is None:
        out.update(clr_lower=None, clr_upper=None, clr_tied_points=len(points))
    else:
        out.update(clr_lower=int(count.lower), clr_upper=int(count.upper),
                   clr_tied_points=len(count.tied_points))
    return out



def json_ready(record: dict) -> dict:
    """Non-finite floats become strings ("inf", "-inf", "nan"): strict JSON has no NaN."""
    def convert(v):
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)
        return v

    return {k: convert(v) for k, v in record.items()}


def write_metrics(path: str | os.PathLike | None, history: list[dict], append: bool) -> None:
    """Write the history as JSON lines (one object per epoch); ``append`` adds the last."""
    if path is None:
        return
    rows = history[-1:] if append else history
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a" if append else "w") as fh:
        for row in rows:
            fh.write(json.dumps(json_ready(row), allow_nan=False, sort_keys=True) + "\n")
