"""Variable-length training data for :func:`plnet.backends.torch.fit`.

A compiled sequence model trains on ``(sequences, labels)``: sequences as a list of
``[T_i, *F]`` arrays, or a :class:`SequenceData` (which also takes a padded array plus
lengths). Every mini-batch holds sequences of ONE length, so each step runs one unrolled
network on a stacked ``[b, T, *F]`` tensor: the samples are shuffled (seeded), split by
length, cut into batches of at most ``batch_size``, and the batches of all lengths are
shuffled together. Every sample is seen once per epoch.
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from plnet.backends.torch.sequence_batches import TorchSequenceBatch
from plnet.backends.torch.train_data import ArrayData, LoaderData, as_data, check_inputs
from plnet.errors import InvalidInputError, ShapeError

Batch = tuple[torch.Tensor, torch.Tensor]


class SequenceData:
    """Labelled variable-length sequences, batched by length.

    Args:
        sequences: a list of ``[T_i, *F]`` arrays/tensors, or a padded ``[M, T, *F]`` array
            (with ``lengths``).
        labels: ``[M]`` labels (any form :func:`~plnet.backends.torch.fit`'s loss takes).
        lengths: ``[M]`` lengths of a padded ``sequences``.
        feature_shape: ``F``; None takes it from the first sequence.
        what: the argument's name, for messages.

    Example:
        >>> from plnet.backends import torch as pt
        >>> data = pt.SequenceData([np.ones((3, 2)), np.ones((5, 2)), np.zeros((3, 2))],
        ...                        [0, 1, 0])
        >>> data.lengths.tolist(), sorted(data.by_length), data.feature_shape
        ([3, 5, 3], [3, 5], (2,))
    """

    def __init__(self, sequences: Any, labels: Any, lengths: Any = None,
                 feature_shape: Sequence[int] | None = None, what: str = "data"):
        if feature_shape is None:
            feature_shape = _feature_shape(sequences, lengths, what)
        self.feature_shape, self.what = tuple(feature_shape), what
        batch = TorchSequenceBatch(sequences, lengths, self.feature_shape, self._length_ok)
        y = labels if torch.is_tensor(labels) else torch.as_tensor(np.asarray(labels))
        if y.ndim == 0 or y.shape[0] != len(batch):
            raise ShapeError(f"{what}: {len(batch)} sequences but labels of shape "
                             f"{tuple(y.shape)}")
        self.y, self.lengths = y, batch.lengths
        #: length -> (stacked samples ``[n_T, T, *F]``, their indices into the dataset)
        self.by_length = {}
        for length, indices in batch.grouping:
            x = batch.group(length, indices).detach()
            check_inputs(x, (length,) + self.feature_shape, f"{what} (length {length})")
            self.by_length[length] = (x, torch.as_tensor(indices))

    def _length_ok(self, length: int) -> int:
        if length < 1:
            raise InvalidInputError(f"{self.what}: a sequence of length {length}")
        return length

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def check_model(self, module) -> None:
        """Every length and the feature shape are ones the compiled model accepts."""
        if self.feature_shape != tuple(module.feature_shape):
            raise ShapeError(f"{self.what}: sequences have per-step shape {self.feature_shape}; "
                             f"the model expects {tuple(module.feature_shape)}")
        for length in self.by_length:
            module.check_length(length)

    def _batch_indices(self, batch_size: int, shuffle: bool,
                       generator: torch.Generator | None) -> list[tuple[int, torch.Tensor]]:
        order = (torch.randperm(len(self), generator=generator) if shuffle
                 else torch.arange(len(self)))
        # each length's positions (into its stacked tensor) in the shuffled order
        rank = torch.empty(len(self), dtype=torch.long)
        rank[order] = torch.arange(len(self))
        batches = []
        for length, (_, indices) in self.by_length.items():
            positions = torch.argsort(rank[indices], stable=True)
            batches += [(length, positions[start:start + batch_size])
                        for start in range(0, len(positions), batch_size)]
        if shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=generator)]
        return batches

    def batches(self, batch_size: int, shuffle: bool,
                generator: torch.Generator | None = None) -> Iterator[Batch]:
        """Yield ``(x [b, T, *F], y [b])`` batches of one length each."""
        for length, positions in self._batch_indices(batch_size, shuffle, generator):
            x, indices = self.by_length[length]
            yield x[positions], self.y[indices[positions]]

    def epoch_batches(self, batch_size: int, seed: int, epoch: int, num_replicas: int = 1,
                      rank: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor, int]]:
        """One epoch's batches as ``(x, y, points)`` for ``rank`` of ``num_replicas``.

        The order comes from ``seed + epoch - 1`` alone (epochs count from 1), so every rank
        draws the same global batches and a resumed run the same order. Each rank takes its
        part of every global batch (one length); a rank left without any point gets the
        batch's first sequence with ``points = 0`` (it joins the step, weighted by 0).
        """
        generator = torch.Generator().manual_seed(seed + epoch - 1)
        for length, positions in self._batch_indices(batch_size, True, generator):
            part = positions.tensor_split(num_replicas)[rank]
            points = int(part.numel())
            x, indices = self.by_length[length]
            part = part if points else positions[:1]
            yield x[part], self.y[indices[part]], points

    def num_batches(self, batch_size: int) -> int:
        return sum(math.ceil(len(indices) / batch_size) for _, indices in self.by_length.values())

    def collect_points(self, limit: int) -> list[np.ndarray]:
        """The first ``limit`` sequences in dataset order, float64 ``[T_i, *F]`` arrays."""
        picked = {}
        for length, (x, indices) in self.by_length.items():
            for position, index in enumerate(indices.tolist()):
                if index < limit:
                    picked[index] = x[position].double().cpu().numpy()
        return [picked[i] for i in sorted(picked)]


def _feature_shape(sequences, lengths, what) -> tuple[int, ...]:
    if lengths is not None:  # padded [M, T, *F]
        return tuple(np.shape(sequences)[2:])
    if not isinstance(sequences, (list, tuple)) or not sequences:
        raise InvalidInputError(f"{what}: sequences must be a non-empty list of [T_i, *F] "
                                f"arrays (or a padded array with lengths)")
    return tuple(np.shape(sequences[0])[1:])


def training_data(module, data: Any, what: str) -> SequenceData | ArrayData | LoaderData | None:
    """``fit``'s data for ``module``: sequence data for a compiled sequence model, else
    :func:`~plnet.backends.torch.train_data.as_data`'s forms; None stays None."""
    from plnet.backends.torch.sequence_compiled import CompiledSequence

    if data is None or not isinstance(module, CompiledSequence):
        return as_data(data, module.input_shape, what) if data is not None else None
    if not isinstance(data, SequenceData):
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise InvalidInputError(f"{what} must be a (sequences, labels) pair or a "
                                    f"plnet.backends.torch.SequenceData, got a "
                                    f"{type(data).__name__}")
        data = SequenceData(data[0], data[1], feature_shape=module.feature_shape, what=what)
    data.check_model(module)
    return data


__all__ = ["SequenceData", "training_data"]
