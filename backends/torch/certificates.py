"""Certified margins and linear-region counts at scale, streamed over a dataset.

Same definitions as the numpy reference (:mod:`plnet.analysis.margins`,
:mod:`plnet.analysis.counting`): eps_p(x) = min over units of |z| / ||grad z||_q with q the
dual of p; a unit with a zero gradient adds no constraint; a unit exactly on its boundary
gives 0. #CLR is bounded below by the distinct output Jacobians and above by the distinct
activation patterns among the points (Lemma 7); points on a boundary are excluded.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import warnings

import numpy as np
import torch

from plnet.analysis.arguments import positive_int
from plnet.analysis.counting import RegionCount
from plnet.analysis.margins import check_p, margin_percentile
from plnet.backends.torch.distributed import replicas
from plnet.backends.torch.distributed_certify import CertificateShard, join_certificates
from plnet.backends.torch.finite import check_finite_results, dual_norms
from plnet.backends.torch.gradients import unit_gradient_norms
from plnet.errors import InvalidInputError, PrecisionWarning, require
from plnet.tolerances import JACOBIAN_RTOL, JACOBIAN_RTOL_FLOAT32

#: p -> the per-unit reduction giving the dual norm q of the gradient ("max", the l_inf
#: norm, is always computed too: it is exact, and tells which sums over/underflowed)
_DUAL_KIND = {1.0: "max", 2.0: "sq", math.inf: "abs"}


def _kinds(ps) -> tuple[str, ...]:
    return tuple(dict.fromkeys([_DUAL_KIND[p] for p in ps] + ["max"]))


def margins_from(z, dual_norms):
    """``min over units of |z| / ||grad||_q`` (inf for zero gradients), ``[B]``.

    A quotient beyond the dtype's range is clamped to its largest float: inf would claim
    that no unit constrains the region.
    """
    if z.shape[1] == 0:
        return z.new_full((z.shape[0],), math.inf)
    ratio = torch.clamp(z.abs() / dual_norms, max=torch.finfo(z.dtype).max)
    dist = torch.where(dual_norms > 0, ratio, torch.full_like(z, math.inf))
    return dist.amin(dim=1)


def warn_if_approximate(module, what: str) -> None:
    """Warn (:class:`plnet.errors.PrecisionWarning`) when certifying below float64."""
    if module.dtype != torch.float64:
        warnings.warn(f"{what}: computed in {module.dtype}; near a region boundary the "
                      f"round-off (about 1e-7 of the units' scale) can exceed the margin. "
                      f"Compile with dtype=torch.float64 for certificates to rely on.",
                      PrecisionWarning, stacklevel=3)


def margins(module, x, p=2, *, chunk_size=None, method="auto"):
    """Certified l_p margin of each point (the largest l_p ball inside its linear region).

    Args:
        module: a :class:`CompiledNetwork`.
        x: ``[B, *input_shape]``.
        p: 1, 2 or inf.
        chunk_size, method: as in :func:`unit_gradients`.

    Returns:
        ``[B]`` tensor in the module's dtype (inf when no unit constrains the region, 0 at
        a tie).

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> module = pt.compile(net, dtype=torch.float64)
        >>> pt.margins(module, x, p=2).tolist()      # float64: the numpy reference's 0.25
        [0.25]
    """
    p = check_p(p)
    warn_if_approximate(module, "margins")
    pattern, norms, _ = unit_gradient_norms(module, x, _kinds((p,)), chunk_size=chunk_size,
                                            method=method)
    check_finite_results(module, x, pattern, norms)
    return margins_from(pattern.z, dual_norms(module, x, norms, p))


@dataclasses.dataclass
class CertificateReport:
    """Margins and region counts of a dataset.

    Attributes:
        margins: p -> ``[M]`` float64 certified l_p margins (0 at a tie).
        percentiles: p -> {percentile: margin}, over all M points.
        regions: #CLR bounds (:class:`plnet.RegionCount`; tied points excluded and listed).
        ties: ``[M]`` bool, points lying on a region boundary.
        correct: ``[M]`` bool, argmax of the logits equals the label; for one logit, whether
            ``logit > 0`` equals the label (None without labels).

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> module = pt.compile(net, dtype=torch.float64)
        >>> report = pt.certify(module, np.array([[0.5, -0.25], [1.0, -1.0]]), progress=False)
        >>> report.margins[2.0], report.regions.upper
        (array([0.25, 1.  ]), 1)
    """

    margins: dict
    percentiles: dict
    regions: RegionCount
    ties: np.ndarray
    correct: np.ndarray | None = None

    @property
    def n_points(self) -> int:
        return int(self.ties.shape[0])

    def summary(self) -> str:
        """A text table: percentiles per p, #CLR bounds, ties (and accuracy)."""
        lines = [f"points: {self.n_points}  ties: {int(self.ties.sum())}  #CLR in "
                 f"[{self.regions.lower}, {self.regions.upper}]"]
        if self.correct is not None:
            lines[0] += f"  accuracy: {self.correct.mean():.4f}"
        for p, table in self.percentiles.items():
            cells = "  ".join(f"P{q:g}={v:.4g}" for q, v in table.items())
            lines.append(f"l_{p:g} margin: {cells}")
        return "\n".join(lines)


def _batches(data, batch_size):
    """Yield ``(x, y or None)`` from an array/tensor or an iterable of batches."""
    if isinstance(data, (np.ndarray, torch.Tensor)):
        for start in range(0, data.shape[0], batch_size):
            yield data[start:start + batch_size], None
        return
    if isinstance(data, (list, tuple)) and len(data) == 2 and all(
            isinstance(d, (np.ndarray, torch.Tensor)) for d in data):
        x, y = data
        for start in range(0, x.shape[0], batch_size):
            yield x[start:start + batch_size], y[start:start + batch_size]
        return
    for item in data:
        if isinstance(item, dict):
            raise InvalidInputError("the data loader yields dicts; certify needs batches of "
                                    "x or (x, y) (wrap the loader to yield those)")
        if isinstance(item, (list, tuple)):
            if not item:
                raise InvalidInputError("the data loader yielded an empty batch")
            yield item[0], (item[1] if len(item) > 1 else None)
        else:
            yield item, None


def _total(data):
    if isinstance(data, (np.ndarray, torch.Tensor)):
        return int(data.shape[0])
    dataset = getattr(data, "dataset", None)
    try:
        return len(dataset) if dataset is not None else None
    except TypeError:
        return None


def certify(module, data, *, p=(1, 2, math.inf), batch_size=256,
            percentiles=(25, 50, 75, 100), progress=True,
            distributed: bool | None = None) -> CertificateReport:
    """Certify every point of a dataset: margins, their percentiles, and #CLR bounds.

    Args:
        module: a :class:`CompiledNetwork`.
        data: ``[M, *input_shape]`` array or tensor, an ``(x, y)`` pair of them, or an
            iterable of batches (a torch ``DataLoader``) yielding ``x`` or ``(x, y)``.
        p: the norms to certify (each 1, 2 or inf).
        batch_size: points per pass for arrays (a loader's own batches are used as is).
        percentiles: margin percentiles to report.
        progress: show a tqdm progress bar (only on a terminal; rank 0 only).
        distributed: None detects a process group (an initialized one, or ``torchrun``'s
            environment): the batches are then shared round-robin by the ranks (each
            iterates the data and certifies its own batches) and every rank returns the
            report of the whole dataset, equal to a single process's. Every rank must then
            call certify with the same data; to certify on rank 0 alone pass False, which
            certifies everything in this process. True insists on a process group.

    Returns:
        A :class:`CertificateReport`.

    Raises:
        InvalidInputError: the data holds no points, or a loader yields dicts or empty batches.
        TieError: every point lies on a region boundary.
        InvalidInputError: ``distributed=True`` without a process group.

    Note:
        The margins are exact up to the module's round-off: a float32 module's z carries an
        absolute error of about 1e-7 of the units' scale, which matters for points close to
        a boundary. Compile with ``dtype=torch.float64`` for certificates to quote.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> module = pt.compile(net, dtype=torch.float64)
        >>> points = np.array([[0.5, -0.25], [1.0, -1.0]])
        >>> report = pt.certify(module, points, p=(2,), progress=False)
        >>> print(report.summary())
        points: 2  ties: 0  #CLR in [1, 1]
        l_2 margin: P25=0.4375  P50=0.625  P75=0.8125  P100=1
    """
    ps = tuple(check_p(v) for v in (p if isinstance(p, (tuple, list)) else (p,)))
    warn_if_approximate(module, "certify")
    batch_size = positive_int("batch_size", batch_size)
    ranks = replicas(distributed, str(module.device))
    shard = CertificateShard(ps)
    ranks.run(lambda: _certify_shard(module, data, ps, batch_size, progress, ranks, shard))
    margins_found, ties, correct, regions = join_certificates(
        ranks, shard, "exclude", JACOBIAN_RTOL if module.dtype == torch.float64
        else JACOBIAN_RTOL_FLOAT32)
    table = {v: {float(q): margin_percentile(margins_found[v], q) for q in percentiles}
             for v in ps}
    return CertificateReport(margins_found, table, regions, ties, correct)


def _certify_shard(module, data, ps, batch_size, progress, ranks, shard) -> None:
    """Certify this rank's batches into ``shard`` (no collective: errors stay local)."""
    kinds = _kinds(ps)
    tqdm = require("tqdm", "torch", "certify's progress bar").tqdm
    shown = progress and ranks.rank == 0 and sys.stderr.isatty()
    bar = tqdm(total=_total(data) if not ranks.distributed else None, disable=not shown,
               unit="pt", desc="certify")
    start = 0
    with torch.no_grad(), bar:
        for index, (x, y) in enumerate(_batches(data, batch_size)):
            size = int(x.shape[0])
            if ranks.owns(index):
                pattern, norms, out_jac = unit_gradient_norms(module, x, kinds,
                                                              want_output=True)
                check_finite_results(module, x, pattern, norms, out_jac)
                z = pattern.z
                tied = ((z == 0) & (norms["max"] > 0)).any(dim=1).cpu().numpy()
                found = {v: margins_from(z, dual_norms(module, x, norms, v)).double().cpu()
                         .numpy() for v in ps}
                shard.add(start, found, _pattern_keys(module, pattern), out_jac.cpu().numpy(),
                          tied, None if y is None else _correct(pattern.output, y))
                bar.update(size)
            start += size


def _pattern_keys(module, pattern) -> list[bytes]:
    parts = [step.lowering.key(pattern.indicators[step.name]).cpu()
             for step in module.steps if step.unit_slice is not None]
    if not parts:
        return [b""] * pattern.batch_size
    rows = torch.cat(parts, dim=1).numpy().astype(np.int64)
    return [row.tobytes() for row in rows]


def _correct(output, y) -> np.ndarray:
    y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y)
    logits = output.reshape(output.shape[0], -1)
    # one logit is a binary classifier (as fit trains it): class 1 where the logit is positive
    pred = (logits[:, 0] > 0).long().cpu() if logits.shape[1] == 1 else logits.argmax(dim=1).cpu()
    return (pred == y.reshape(-1).cpu().long()).numpy()
