"""The one place where the analyses accept a :class:`plnet.sequence.SequenceModel`.

:func:`over_lengths` wraps an analysis written for a :class:`plnet.Network`. Given a sequence
model, the wrapper validates the variable-length samples once, runs the analysis once per
distinct length on the network unrolled at that length with the stacked samples of that
length, and lets the analysis module's ``combine`` put the results back in input order. So
every sample gets exactly what ``model.unroll(T_i)`` gives, and no analysis knows about
sequences beyond how to combine its own results.
"""

from __future__ import annotations

import functools
import inspect
import sys
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from plnet.errors import InvalidInputError, ShapeError

#: ``combine(batch, {T: result of the analysis on the samples of length T})``
Combine = Callable[[Any, Mapping[int, Any]], Any]


def is_sequence_model(obj: Any) -> bool:
    """True for a :class:`plnet.sequence.SequenceModel`.

    Looked up in ``sys.modules``: when :mod:`plnet.sequence` was never imported, nothing can
    be a sequence model, and the analyses need not import it (nor it them, at import time).
    """
    module = sys.modules.get("plnet.sequence.model")
    return module is not None and isinstance(obj, module.SequenceModel)


def over_lengths(combine: Combine, samples: str = "x", per_sample: Sequence[str] = (),
                 single: bool = False,
                 per_length: Callable | None = None) -> Callable[[Callable], Callable]:
    """Decorator: let an analysis ``f(net, samples, ...)`` take a sequence model.

    With a sequence model, the wrapped function also takes ``lengths`` (keyword only) for a
    padded array of samples.

    Args:
        combine: builds the answer from the batch and the per-length results.
        samples: the name of the argument holding the samples.
        per_sample: other arguments holding one array per sample (directions), given as a
            list or padded like the samples; each is cut to its sample's shape.
        single: the argument is one sequence ``[T, *F]`` (as ``region`` takes one point).
        per_length: run this (same arguments) on each length instead of the analysis, when
            ``combine`` needs more than the analysis returns (a region counter, not counts).
    """
    def decorate(func: Callable) -> Callable:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            net = args[0] if args else kwargs.get("net")
            if not is_sequence_model(net):
                return func(*args, **kwargs)
            lengths = kwargs.pop("lengths", None)
            bound = signature.bind(*args, **kwargs)
            arguments = dict(bound.arguments)
            x = arguments[samples]
            if single:
                x = [_one_sequence(x, net.feature_shape, samples)]
            batch = net.batch(x, lengths, what=samples)
            extras = {name: per_sample_arrays(arguments[name], batch, lengths, name)
                      for name in per_sample}
            results = {}
            for t, indices in batch.groups().items():
                call = dict(arguments, net=net.unroll(t))
                call[samples] = batch.stacked(indices)
                for name, values in extras.items():
                    call[name] = np.stack([values[i] for i in indices])
                results[t] = (per_length or func)(**call)
            return combine(batch, results)

        lengths_parameter = inspect.Parameter(
            "lengths", inspect.Parameter.KEYWORD_ONLY, default=None,
            annotation="npt.ArrayLike | None")
        first, *rest = signature.parameters.values()
        first = first.replace(annotation=f"{first.annotation} | SequenceModel")
        wrapper.__signature__ = signature.replace(parameters=[first, *rest, lengths_parameter])
        wrapper.__doc__ = (func.__doc__ or "") + _SEQUENCES_NOTE
        return wrapper
    return decorate


_SEQUENCES_NOTE = """
    Sequence models: ``net`` may be a :class:`plnet.sequence.SequenceModel`, with the
    samples given as a list of ``[T_i, *feature_shape]`` arrays or as a padded array
    ``[B, T_max, *feature_shape]`` plus ``lengths=[T_1, ..., T_B]``; each sample gets what
    ``net.unroll(T_i)`` gives it.
"""


def per_sample_arrays(values: Any, batch, lengths: npt.ArrayLike | None,
                      what: str) -> list[np.ndarray]:
    """One array per sample, shaped like the sample, from a list or a padded array."""
    b = len(batch)
    if isinstance(values, (list, tuple)):
        if len(values) != b:
            raise InvalidInputError(f"{what}: {len(values)} arrays for {b} samples; give one "
                                    f"per sample")
        arrays = [np.asarray(v, dtype=np.float64) for v in values]
    else:
        padded = np.asarray(values, dtype=np.float64)
        if padded.ndim < 2 or padded.shape[0] != b:
            raise InvalidInputError(f"{what} has shape {padded.shape}: give one array per "
                                    f"sample (a list, or padded like the samples)")
        arrays = [padded[i, :s.shape[0]] for i, s in enumerate(batch.samples)]
    out = []
    for i, (v, s) in enumerate(zip(arrays, batch.samples)):
        if v.size != s.size:
            raise ShapeError(f"{what}: sample {i} is {s.shape} but its {what} has shape "
                             f"{v.shape}")
        out.append(v.reshape(s.shape))
    return out


def _one_sequence(x: Any, feature_shape: tuple[int, ...], what: str) -> np.ndarray:
    rank = len(feature_shape) + 1
    try:
        arr = np.asarray(x)
    except ValueError:  # ragged: several sequences of different lengths
        arr = None
    if arr is not None and arr.ndim == rank + 1 and arr.shape[0] == 1:
        arr = arr[0]  # [x] or x[None]
    if arr is None or arr.ndim != rank:
        described = "several sequences" if arr is None else f"shape {arr.shape}"
        raise ShapeError(f"{what} has {described}: this takes one sequence [T, "
                         f"*{feature_shape}]; call it once per sequence")
    return arr


def scatter_rows(batch, results: Mapping[int, np.ndarray]) -> np.ndarray:
    """``combine`` for per-sample rows ``[n_T, ...]``: ``[B, ...]`` in input order."""
    return batch.scatter_rows(results)


def one_per_sample(batch, results: Mapping[int, Any]) -> list:
    """``combine`` for batched results with ``take(i)`` (a linearization, a pattern): a list
    of one batch-of-one result per sample, in input order."""
    groups = batch.groups()
    return batch.scatter({t: [r.take(i) for i in range(len(groups[t]))]
                          for t, r in results.items()})


def the_only(batch, results: Mapping[int, Any]) -> Any:
    """``combine`` for an analysis of one sample: its result."""
    (result,) = results.values()
    return result
