"""Variable-length batches: validate the samples once, group them by length, scatter back.

A batch comes as a list of arrays ``[T_i, *feature_shape]`` or as a padded array
``[B, T_max, *feature_shape]`` with ``lengths`` (sample i is ``padded[i, :lengths[i]]``).
Every per-length computation runs once per distinct length on the stacked samples of that
length (:meth:`SequenceBatch.groups`), and its results are put back in input order
(:meth:`SequenceBatch.scatter`), so no caller loops over lengths.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from plnet.errors import InvalidInputError, ShapeError


def group_by_length(lengths: npt.ArrayLike) -> dict[int, np.ndarray]:
    """Sample indices grouped by length, shortest first, in input order within a group.

    Args:
        lengths: ``[B]`` ints.

    Returns:
        ``{T: indices}`` with ``indices`` an int array of the samples of length ``T``.

    Example:
        >>> {t: i.tolist() for t, i in plnet.sequence.group_by_length([3, 5, 3]).items()}
        {3: [0, 2], 5: [1]}
    """
    lengths = np.asarray(lengths).reshape(-1)
    return {int(t): np.flatnonzero(lengths == t) for t in np.unique(lengths)}


@dataclasses.dataclass(frozen=True)
class SequenceBatch:
    """A validated batch of sequences of possibly different lengths.

    Attributes:
        samples: one float64 array ``[T_i, *feature_shape]`` per sample, in input order.
        feature_shape: the per-step shape.

    Example:
        >>> batch = plnet.sequence.sequence_batch([np.zeros((2, 3)), np.ones((4, 3))], (3,))
        >>> len(batch), batch.lengths.tolist(), batch.feature_shape
        (2, [2, 4], (3,))
    """

    samples: tuple[np.ndarray, ...]
    feature_shape: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def lengths(self) -> np.ndarray:
        """``[B]`` int: each sample's length."""
        return np.array([s.shape[0] for s in self.samples], dtype=np.int64)

    def groups(self) -> dict[int, np.ndarray]:
        """``{T: indices}`` of the samples of each length (see :func:`group_by_length`)."""
        return group_by_length(self.lengths)

    def stacked(self, indices: Sequence[int]) -> np.ndarray:
        """The samples at ``indices`` (all of one length T) as ``[n, T, *feature_shape]``."""
        return np.stack([self.samples[i] for i in indices])

    def padded(self, value: float = 0.0) -> np.ndarray:
        """``[B, T_max, *feature_shape]``, each sample padded at the end with ``value``."""
        out = np.full((len(self), int(self.lengths.max())) + self.feature_shape, value)
        for i, s in enumerate(self.samples):
            out[i, :s.shape[0]] = s
        return out

    def scatter(self, per_length: Mapping[int, Sequence[Any]]) -> list:
        """Per-sample results in input order from per-length results.

        Args:
            per_length: ``{T: results}`` where ``results[k]`` belongs to sample
                ``groups()[T][k]``.

        Returns:
            A list with one result per sample.
        """
        out: list = [None] * len(self)
        for t, indices in self.groups().items():
            results = per_length[t]
            if len(results) != len(indices):
                raise InvalidInputError(f"scatter: {len(results)} results for the "
                                        f"{len(indices)} samples of length {t}")
            for k, i in enumerate(indices):
                out[i] = results[k]
        return out

    def scatter_rows(self, per_length: Mapping[int, np.ndarray]) -> np.ndarray:
        """Like :meth:`scatter` for arrays ``[n_T, *shape]`` of one shape: ``[B, *shape]``."""
        first = next(iter(per_length.values()))
        out = np.empty((len(self),) + first.shape[1:], dtype=first.dtype)
        for t, indices in self.groups().items():
            out[indices] = per_length[t]
        return out


def sequence_batch(x: Any, feature_shape: Sequence[int], lengths: npt.ArrayLike | None = None,
                   *, min_length: int = 1, max_length: int | None = None,
                   what: str = "x") -> SequenceBatch:
    """Validate a batch of sequences.

    Args:
        x: a list of arrays ``[T_i, *feature_shape]``, a padded array
            ``[B, T_max, *feature_shape]`` (every sample ``T_max`` long unless ``lengths``
            says otherwise), or a :class:`SequenceBatch` (checked again).
        feature_shape: the per-step shape.
        lengths: ``[B]`` lengths of a padded array (sample i is ``x[i, :lengths[i]]``).
        min_length, max_length: the lengths accepted (``max_length`` None: any).
        what: the argument's name, for messages.

    Returns:
        A :class:`SequenceBatch`.

    Raises:
        ShapeError: a sample's shape or length does not fit; the message names the sample.
        InvalidInputError: empty batch, non-numeric or non-finite values, bad ``lengths``.

    Example:
        >>> padded = np.zeros((2, 4, 3))                  # B = 2, T_max = 4, F = 3
        >>> batch = plnet.sequence.sequence_batch(padded, (3,), lengths=[2, 4])
        >>> [s.shape for s in batch.samples]
        [(2, 3), (4, 3)]
    """
    feature_shape = tuple(int(d) for d in feature_shape)
    if isinstance(x, SequenceBatch):
        x = list(x.samples)
    if isinstance(x, (list, tuple)):
        if lengths is not None:
            raise InvalidInputError(f"{what}: lengths are for a padded array [B, T_max, "
                                    f"*{feature_shape}]; a list of sequences carries its own")
        samples = [_real(s, f"{what}[{i}]") for i, s in enumerate(x)]
    else:
        samples = _unpad(_real(x, what), feature_shape, lengths, what)
    if not samples:
        raise InvalidInputError(f"{what} is an empty batch (no sequences)")
    expected = _expected(feature_shape, min_length, max_length)
    for i, s in enumerate(samples):
        if s.ndim != len(feature_shape) + 1 or s.shape[1:] != feature_shape:
            hint = (" (it looks like a batch: pass a list of sequences, or a padded array "
                    "[B, T_max, *F] without wrapping it)"
                    if s.shape[2:] == feature_shape and s.ndim == len(feature_shape) + 2 else "")
            raise ShapeError(f"{what}: sample {i} has shape {s.shape}; expected {expected}{hint}")
        t = s.shape[0]
        if t < min_length or (max_length is not None and t > max_length):
            raise ShapeError(f"{what}: sample {i} has shape {s.shape} (length {t}); expected "
                             f"{expected}")
        if not np.isfinite(s).all():
            bad = tuple(int(j) for j in np.argwhere(~np.isfinite(s))[0])
            raise InvalidInputError(f"{what}: sample {i} holds NaN or inf (first at {bad})")
    return SequenceBatch(tuple(samples), feature_shape)


def _expected(feature_shape, min_length, max_length) -> str:
    upper = "" if max_length is None else f" <= {max_length}"
    return f"[T, *{feature_shape}] with {min_length} <= T{upper}"


def _real(x, what) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise InvalidInputError(f"{what} has dtype {arr.dtype}; expected real numbers")
    return arr.astype(np.float64, copy=False)


def _unpad(x: np.ndarray, feature_shape, lengths, what) -> list[np.ndarray]:
    if x.ndim == len(feature_shape) + 1 and x.shape[1:] == feature_shape:
        raise ShapeError(f"{what} has shape {x.shape}: one sequence [T, *{feature_shape}], not a "
                         f"batch; pass [x] (a list of sequences) or x[None]")
    if x.ndim != len(feature_shape) + 2 or x.shape[2:] != feature_shape:
        raise ShapeError(f"{what} has shape {x.shape}; expected a list of sequences [T_i, "
                         f"*{feature_shape}] or a padded array [B, T_max, *{feature_shape}]")
    if lengths is None:
        return list(x)
    lengths = np.asarray(lengths)
    whole = lengths.dtype.kind in "iu" or (lengths.dtype.kind == "f"
                                           and bool(np.all(np.mod(lengths, 1) == 0)))
    if lengths.shape != (x.shape[0],) or not whole:
        raise InvalidInputError(f"{what}: lengths must be {x.shape[0]} integers (one per "
                                f"sample of the padded array), got {lengths.tolist()!r}")
    lengths = lengths.astype(np.int64)
    for i, t in enumerate(lengths):
        if not 1 <= t <= x.shape[1]:
            raise ShapeError(f"{what}: sample {i} has length {int(t)}, outside 1..{x.shape[1]} "
                             f"(the padded array holds {x.shape[1]} steps)")
    return [x[i, :t] for i, t in enumerate(lengths)]
