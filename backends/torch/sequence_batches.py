"""Variable-length batches for the torch backend: samples grouped by length, order kept.

A batch of sequences comes as a list of samples ``[T_i, *F]`` or as a padded
``[B, T_max, *F]`` array plus ``lengths`` (the entries of sample i beyond ``lengths[i]``
are ignored, never read). Every analysis runs once per length on the samples of that
length, stacked, and puts the results back in input order.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch

from plnet.errors import InvalidInputError, ShapeError
from plnet.sequence.batching import group_by_length


def _as_tensor(value) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))


def is_padded(x, feature_shape) -> bool:
    """Whether ``x`` is one array ``[B, T, *F]`` (rather than a list of samples)."""
    return isinstance(x, (np.ndarray, torch.Tensor)) and x.ndim == len(feature_shape) + 2


class TorchSequenceBatch:
    """A batch of variable-length samples, grouped by length.

    Args:
        x: a list/tuple of samples ``[T_i, *F]`` (arrays or tensors), or a padded
            ``[B, T, *F]`` array or tensor (``lengths`` None: every sample has length T).
        lengths: ``[B]`` lengths for a padded ``x`` (None for a list).
        feature_shape: ``F``.
        check_length: validates one length (raises for a length the model refuses).

    Attributes:
        lengths: ``[B]`` int64 numpy array.
        grouping: ``[(T, indices)]`` by increasing T (indices ascending).
        inverse: ``[B]`` long tensor: ``cat(per-group results)[inverse]`` is in input order.
    """

    def __init__(self, x, lengths, feature_shape, check_length: Callable[[int], int]):
        feature_shape = tuple(feature_shape)
        if is_padded(x, feature_shape):
            self.padded, self.samples = _as_tensor(x), None
            self._check_features(tuple(self.padded.shape[2:]), feature_shape, "x")
            self.lengths = self._padded_lengths(lengths, self.padded.shape[:2])
        elif isinstance(x, (list, tuple)):
            if lengths is not None:
                raise InvalidInputError("lengths is for a padded [B, T, *F] array; a list of "
                                        "samples carries its own lengths")
            self.padded, self.samples = None, [_as_tensor(s) for s in x]
            for i, s in enumerate(self.samples):
                if s.ndim != len(feature_shape) + 1:
                    raise ShapeError(f"sample {i} has shape {tuple(s.shape)}; expected "
                                     f"[T, *{feature_shape}]")
                self._check_features(tuple(s.shape[1:]), feature_shape, f"sample {i}")
            self.lengths = np.array([s.shape[0] for s in self.samples], dtype=np.int64)
        else:
            raise InvalidInputError(
                f"sequences must be a list of [T_i, *{feature_shape}] arrays or a padded "
                f"[B, T, *{feature_shape}] array (with lengths), got "
                f"{type(x).__name__}" + (f" of shape {tuple(x.shape)}"
                                         if hasattr(x, "shape") else ""))
        if len(self.lengths) == 0:
            raise InvalidInputError("the batch holds no sequences (B = 0)")
        for t in np.unique(self.lengths):
            check_length(int(t))
        self.grouping = list(group_by_length(self.lengths).items())
        self.inverse = torch.as_tensor(np.argsort(np.concatenate(
            [idx for _, idx in self.grouping]), kind="stable"))

    @staticmethod
    def _check_features(got, expected, what) -> None:
        if got != expected:
            raise ShapeError(f"{what} has per-step shape {got}; the model expects {expected}")

    @staticmethod
    def _padded_lengths(lengths, shape) -> np.ndarray:
        b, t_max = int(shape[0]), int(shape[1])
        if lengths is None:
            return np.full(b, t_max, dtype=np.int64)
        values = np.asarray(lengths.cpu() if isinstance(lengths, torch.Tensor) else lengths)
        if values.shape != (b,) or not np.issubdtype(values.dtype, np.integer):
            raise ShapeError(f"lengths must hold one integer per sequence ({b}), got "
                             f"{values.dtype} of shape {values.shape}")
        if values.size and (values.min() < 1 or values.max() > t_max):
            raise InvalidInputError(f"lengths must lie in [1, {t_max}] (the padded length), "
                                    f"got values in [{values.min()}, {values.max()}]")
        return values.astype(np.int64)

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def group(self, length: int, indices: np.ndarray) -> torch.Tensor:
        """The samples at ``indices`` (all of length ``length``) stacked, ``[n, T, *F]``."""
        if self.padded is not None:
            return self.padded[torch.as_tensor(indices, device=self.padded.device), :length]
        return torch.stack([self.samples[i] for i in indices.tolist()])

    def groups(self, device=None, dtype=None) -> Iterator[tuple[int, torch.Tensor]]:
        """``(T, [n_T, T, *F])`` per length, increasing; moved to ``device``/``dtype``."""
        for length, indices in self.grouping:
            x = self.group(length, indices)
            if device is not None:
                x = x.to(device=device, dtype=dtype)
            yield length, x

    def restore(self, parts: list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
        """Per-group results (in :meth:`groups` order) ``[B, *shape]`` in input order; a
        list of per-sample results when the shape depends on the length (a sequence
        output ``[T, ...]``)."""
        if len({tuple(p.shape[1:]) for p in parts}) > 1:
            return self.restore_list([row for part in parts for row in part.unbind(0)])
        out = torch.cat(parts, dim=0)
        return out[self.inverse.to(out.device)]

    def restore_list(self, parts: list) -> list:
        """Per-sample items listed in group order, put in input order."""
        return [parts[i] for i in self.inverse.tolist()]
