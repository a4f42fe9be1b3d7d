"""The order of training points, shared out by ranks so that K ranks take the steps one takes.

:class:`GlobalBatchSampler` is a :class:`torch.utils.data.DistributedSampler`: every epoch
the same permutation on every rank (from ``seed + epoch``, set by ``set_epoch``), cut into
global batches of ``batch_size`` points; each rank takes its contiguous part of every global
batch. The union of the parts of a step is the batch a single process takes at that step,
so with losses weighted by each part's share (see :func:`plnet.backends.torch.fit`) the
ranks' averaged gradient is the single-process gradient, whatever the number of ranks; a
run can resume with another number of ranks and continue the same trajectory.
"""

from __future__ import annotations

import math
from typing import Iterator

import torch
from torch.utils.data import DistributedSampler


class GlobalBatchSampler(DistributedSampler):
    """This rank's part of every global batch of one epoch.

    Args:
        length: points in the dataset.
        batch_size: points per global batch (the last one may be smaller).
        num_replicas: ranks sharing each batch.
        rank: this rank.
        seed: the permutation of epoch ``e`` comes from ``seed + e`` (``set_epoch(e)``).
        shuffle: permute (else the dataset order).
    """

    def __init__(self, length: int, batch_size: int, *, num_replicas: int = 1, rank: int = 0,
                 seed: int = 0, shuffle: bool = True):
        super().__init__(range(length), num_replicas=num_replicas, rank=rank,
                         shuffle=shuffle, seed=seed, drop_last=False)
        self.length, self.batch_size = int(length), int(batch_size)

    def order(self) -> torch.Tensor:
        """The epoch's permutation of the dataset, the same on every rank."""
        if not self.shuffle:
            return torch.arange(self.length)
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        return torch.randperm(self.length, generator=generator)

    def parts(self) -> Iterator[tuple[torch.Tensor, int]]:
        """``(indices, points)`` per step: this rank's part of the global batch, and how many
        of those indices count. A rank left without points (a global batch smaller than
        the number of ranks) gets the batch's first point with ``points = 0``: it still
        takes the step's collectives, and its loss is weighted by 0.
        """
        order = self.order()
        for start in range(0, self.length, self.batch_size):
            batch = order[start:start + self.batch_size]
            part = batch.tensor_split(self.num_replicas)[self.rank]
            yield (part, int(part.numel())) if part.numel() else (batch[:1], 0)

    def __iter__(self) -> Iterator[torch.Tensor]:
        return (indices for indices, _ in self.parts())

    def __len__(self) -> int:
        return math.ceil(self.length / self.batch_size)
