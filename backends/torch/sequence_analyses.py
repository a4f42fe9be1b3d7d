"""The torch backend's analyses on variable-length batches of a compiled sequence model.

Each function runs the network function of the same name once per length, on the samples of
that length stacked, and gives per sample exactly what the network unrolled at that length
gives, in input order. A batch mean (the ROLL regularizer) is the sample-weighted mean of
the per-length means: the mean over every sample, as for one batch.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import torch

from plnet.analysis.counting import RegionCount
from plnet.analysis.margins import margin_percentile
from plnet.backends.torch.certificates import CertificateReport, certify, margins
from plnet.backends.torch.gradients import unit_gradients
from plnet.backends.torch.losses import regularized_forward
from plnet.backends.torch.sequence_batches import is_padded
from plnet.errors import InvalidInputError, ShapeError, TieError, require


def sequence_margins(module, x, p=2, *, lengths=None, chunk_size=None, method="auto"):
    """Certified l_p margin of each sequence, ``[B]`` in input order (see ``margins``)."""
    batch = module.batch(x, lengths)
    return batch.restore([margins(module.at(length), group, p, chunk_size=chunk_size,
                                  method=method) for length, group in batch.groups()])


def sequence_unit_gradients(module, x, *, lengths=None, axes=None, chunk_size=None,
                            method="auto", out=None):
    """Every unit's value and input-gradient, per sequence (see ``unit_gradients``).

    Returns:
        ``(zs, grads)``: lists in input order of ``z [N_T]`` and ``grad [N_T, K]`` for each
        sample's length T (K = T * prod(F), or ``len(axes)``).

    Raises:
        InvalidInputError: ``out`` given (the result is one tensor per sample, of its
            length's shape: there is no single buffer to write it into).
    """
    if out is not None:
        raise InvalidInputError("out= is for networks: a sequence model's gradients are one "
                                "tensor per sample, shaped by its length; drop out=")
    batch = module.batch(x, lengths)
    zs, grads = [], []
    for length, group in batch.groups():
        z, grad = unit_gradients(module.at(length), group, axes=axes, chunk_size=chunk_size,
                                 method=method)
        zs.extend(z.unbind(0))
        grads.extend(grad.unbind(0))
    return batch.restore_list(zs), batch.restore_list(grads)


def sequence_regularized_forward(module, x, *, lengths=None, C, gamma=100, samples=None,
                                 relaxation="roll", generator=None):
    """Logits ``[B, *output_shape]`` (input order) and the ROLL regularizer of the batch.

    The regularizer is the mean over all samples of the per-sample relaxation, each sample
    on its own length's network; Eq. 10's axes are drawn once per length.
    """
    batch = module.batch(x, lengths)
    logits, total = [], None
    for length, group in batch.groups():
        out, reg = regularized_forward(module.at(length), group, C=C, gamma=gamma,
                                       samples=samples, relaxation=relaxation,
                                       generator=generator)
        logits.append(out)
        weighted = reg * (group.shape[0] / len(batch))
        total = weighted if total is None else total + weighted
    return batch.restore(logits), total


def sequence_roll_regularizer(module, x, *, lengths=None, C, gamma=100, samples=None,
                              relaxation="roll", generator=None, return_logits=False):
    """The ROLL regularizer of a variable-length batch (see ``roll_regularizer``)."""
    logits, reg = sequence_regularized_forward(module, x, lengths=lengths, C=C, gamma=gamma,
                                               samples=samples, relaxation=relaxation,
                                               generator=generator)
    return (logits, reg) if return_logits else reg


def split_labelled(data, feature_shape):
    """``(sequences, labels or None)`` from ``sequences`` or a ``(sequences, labels)`` pair."""
    if (isinstance(data, (tuple, list)) and len(data) == 2
            and (isinstance(data[0], (list, tuple)) or is_padded(data[0], feature_shape))):
        return data[0], data[1]
    return data, None


def sequence_certify(module, data, *, lengths=None, p=(1, 2, math.inf), batch_size=256,
                     percentiles=(25, 50, 75, 100), progress=True,
                     **options) -> CertificateReport:
    """Certify every sequence: margins (input order), percentiles and #CLR bounds.

    ``data`` is a list of samples, a padded array (with ``lengths``), or a pair of one of
    them and the labels. Regions of different lengths lie in different input spaces, so
    the #CLR bounds are the sums of the per-length bounds. Other ``options`` go to each
    length's ``certify``.
    """
    x, y = split_labelled(data, module.feature_shape)
    batch = module.batch(x, lengths)
    labels = None
    if y is not None:
        labels = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y).reshape(-1)
        if labels.shape[0] != len(batch):
            raise ShapeError(f"certify: {len(batch)} sequences but {labels.shape[0]} labels")
    tqdm = require("tqdm", "torch", "certify's progress bar").tqdm
    bar = tqdm(total=len(batch), disable=not progress or not sys.stderr.isatty(), unit="seq",
               desc="certify")
    parts = []
    with bar:
        for length, indices in batch.grouping:
            group = batch.group(length, indices)
            parts.append((indices, _certify_group(module.at(length), group, labels, indices,
                                                  p, batch_size, percentiles, options)))
            bar.update(len(indices))
    return _merge_reports(parts, len(batch), percentiles)


def _certify_group(compiled, group, labels, indices, p, batch_size, percentiles, options):
    data = group if labels is None else (group, labels[indices])
    try:
        return certify(compiled, data, p=p, batch_size=batch_size, percentiles=percentiles,
                       progress=False, **options)
    except TieError:
        # every sample of this length lies on a boundary: each margin is 0 (as certify
        # gives a tie) and the group adds no region; the other lengths still count
        ps = p if isinstance(p, (tuple, list)) else (p,)
        n = group.shape[0]
        correct = None
        if labels is not None:
            with torch.no_grad():
                pred = compiled(group).reshape(n, -1).argmax(dim=1).cpu().numpy()
            correct = pred == labels[indices].astype(np.int64)
        return CertificateReport({float(v): np.zeros(n) for v in ps}, {}, RegionCount(0, 0, 0),
                                 np.ones(n, dtype=bool), correct)


def _merge_reports(parts, total, percentiles) -> CertificateReport:
    keys = list(parts[0][1].margins)
    found = {v: np.empty(total) for v in keys}
    ties = np.zeros(total, dtype=bool)
    correct = np.zeros(total, dtype=bool)
    has_correct = all(report.correct is not None for _, report in parts)
    lower = upper = counted = 0
    tied = []
    for indices, report in parts:
        for v in keys:
            found[v][indices] = report.margins[v]
        ties[indices] = report.ties
        if has_correct:
            correct[indices] = report.correct
        lower, upper = lower + report.regions.lower, upper + report.regions.upper
        counted += report.regions.n_points
        tied.extend(int(indices[i]) for i in np.flatnonzero(report.ties))
    if counted == 0:
        raise TieError("every sequence lies on a region boundary; nothing to count",
                       sorted(tied))
    table = {v: {float(q): margin_percentile(found[v], q) for q in percentiles} for v in keys}
    return CertificateReport(found, table, RegionCount(lower, upper, counted,
                                                        tuple(sorted(tied))),
                             ties, correct if has_correct else None)


__all__ = ["sequence_certify", "sequence_margins", "sequence_regularized_forward",
           "sequence_roll_regularizer", "sequence_unit_gradients", "split_labelled"]
