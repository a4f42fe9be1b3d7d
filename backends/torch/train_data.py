"""Training data for :func:`plnet.backends.torch.fit`: arrays or loaders, targets, task losses."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from plnet.errors import InvalidInputError, ShapeError

#: one ``(x, y)`` mini-batch
Batch = tuple[torch.Tensor, torch.Tensor]


class ArrayData:
    """An in-memory ``(X, y)`` dataset, batched and shuffled by a seeded ``torch.Generator``.

    Args:
        X: ``[M, *input_shape]`` array or tensor.
        y: ``[M]`` labels (or ``[M, 1]`` for binary targets).
        what: the argument's name, for messages.
    """

    def __init__(self, X: Any, y: Any, input_shape: Sequence[int], what: str):
        X = torch.as_tensor(np.asarray(X) if not torch.is_tensor(X) else X)
        y = torch.as_tensor(np.asarray(y) if not torch.is_tensor(y) else y)
        if X.ndim == 0 or y.ndim == 0 or X.shape[0] != y.shape[0]:
            raise ShapeError(f"{what}: X and y must hold the same number of points, got X of "
                             f"shape {tuple(X.shape)} and y of shape {tuple(y.shape)}")
        if X.shape[0] == 0:
            raise InvalidInputError(f"{what} is empty: it needs at least one point")
        check_inputs(X, input_shape, what)
        self.X, self.y = X, y

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def batches(self, batch_size: int, shuffle: bool,
                generator: torch.Generator | None = None) -> Iterator[Batch]:
        """Yield ``(x, y)`` batches; the order comes from ``generator`` when shuffling."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            yield self.X[idx], self.y[idx]

    def num_batches(self, batch_size: int) -> int:
        return math.ceil(len(self) / batch_size)


class LoaderData:
    """Any iterable of ``(x, y)`` batches, e.g. a ``torch.utils.data.DataLoader``.

    Its own sampler decides the order; a DataLoader without its own generator shuffles from
    torch's global RNG, which :func:`fit` seeds and checkpoints.
    """

    def __init__(self, loader: Iterable, input_shape: Sequence[int], what: str):
        self.loader, self.input_shape, self.what = loader, tuple(input_shape), what

    def batches(self, batch_size: int, shuffle: bool,
                generator: torch.Generator | None = None) -> Iterator[Batch]:
        for i, item in enumerate(self.loader):
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise InvalidInputError(f"{self.what}: batch {i} is a {type(item).__name__}; "
                                        f"a loader must yield (x, y) pairs")
            x, y = (torch.as_tensor(v) for v in item)
            if x.shape[0] != y.shape[0]:
                raise ShapeError(f"{self.what}: batch {i} has {x.shape[0]} inputs but "
                                 f"{y.shape[0]} targets")
            check_inputs(x, self.input_shape, f"{self.what} (batch {i})")
            yield x, y

    @property
    def sharded(self) -> bool:
        """Whether the loader yields this rank's own share (a ``DistributedSampler``)."""
        from torch.utils.data import DistributedSampler

        return isinstance(getattr(self.loader, "sampler", None), DistributedSampler)

    def num_batches(self, batch_size: int) -> int | None:
        try:
            return len(self.loader)
        except TypeError:
            return None


def as_data(data: Any, input_shape: Sequence[int], what: str) -> ArrayData | LoaderData | None:
    """Wrap ``(X, y)`` arrays/tensors or an iterable of batches; None stays None."""
    if data is None:
        return None
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise InvalidInputError(f"{what} must be an (X, y) pair or a DataLoader, got a "
                                    f"{type(data).__name__} of length {len(data)}")
        return ArrayData(data[0], data[1], input_shape, what)
    if hasattr(data, "__iter__"):
        return LoaderData(data, input_shape, what)
    raise InvalidInputError(f"{what} must be an (X, y) pair of arrays/tensors or an iterable of "
                            f"(x, y) batches such as a DataLoader, got {type(data).__name__}")


def epoch_batches(data: ArrayData | LoaderData, batch_size: int, seed: int, epoch: int,
                  num_replicas: int = 1, rank: int = 0) -> Iterator[tuple[Any, Any, int]]:
    """One epoch's training batches as ``(x, y, points)`` for this rank.

    ``(X, y)`` data is permuted from ``seed + epoch - 1`` (epochs count from 1) and cut into
    global batches of ``batch_size``; each rank takes its part of every global batch (see
    :class:`plnet.backends.torch.distributed_data.GlobalBatchSampler`); ``points`` says how
    many of the batch's points count (0 for a rank left without any). A loader yields its
    own batches; a sampler with ``set_epoch`` (a ``DistributedSampler``) is told the epoch.
    """
    from plnet.backends.torch.distributed_data import GlobalBatchSampler

    if hasattr(data, "epoch_batches"):  # variable-length sequences, batched by length
        yield from data.epoch_batches(batch_size, seed, epoch, num_replicas, rank)
        return
    if isinstance(data, LoaderData):
        sampler = getattr(data.loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch - 1)
        for x, y in data.batches(batch_size, shuffle=True):
            yield x, y, int(x.shape[0])
        return
    sampler = GlobalBatchSampler(len(data), batch_size, num_replicas=num_replicas, rank=rank,
                                 seed=seed)
    sampler.set_epoch(epoch - 1)
    for indices, points in sampler.parts():
        yield data.X[indices], data.y[indices], points


def check_inputs(X: torch.Tensor, input_shape: Sequence[int], what: str) -> None:
    input_shape = tuple(input_shape)
    if tuple(X.shape[1:]) != input_shape:
        raise ShapeError(f"{what}: inputs have shape {tuple(X.shape)}; the network expects "
                         f"[M, *{input_shape}]")
    if not (X.is_floating_point() or X.dtype in (torch.int32, torch.int64, torch.uint8)):
        raise InvalidInputError(f"{what}: inputs have dtype {X.dtype}; expected real numbers")
    if X.is_floating_point() and not torch.isfinite(X).all():
        raise InvalidInputError(f"{what}: inputs hold NaN or inf")


#: the task losses known by name (a callable ``(logits, y) -> scalar`` is also accepted)
TASK_LOSSES = ("cross_entropy", "bce")


def check_loss(loss: str | Callable) -> str | Callable:
    """A loss name of :data:`TASK_LOSSES` or a callable, returned unchanged.

    Raises:
        InvalidInputError: anything else.
    """
    if not callable(loss) and loss not in TASK_LOSSES:
        raise InvalidInputError(f"unknown loss {loss!r}: use 'cross_entropy', 'bce' or "
                                f"a callable (logits, y) -> scalar")
    return loss


class TaskLoss:
    """The supervised loss and accuracy for the network's output size.

    ``"cross_entropy"`` picks binary cross-entropy with logits for one output and softmax
    cross-entropy for several; ``"bce"`` insists on one output. A callable
    ``(logits [B, L], y) -> scalar`` is used as given (accuracy is then not reported).
    """

    def __init__(self, loss: str | Callable, num_outputs: int):
        self.num_outputs = int(num_outputs)
        self.custom = check_loss(loss) if callable(loss) else None
        if self.custom is None:
            if check_loss(loss) == "bce" and self.num_outputs != 1:
                raise InvalidInputError(f"loss='bce' needs a network with one output logit; this "
                                        f"one has {self.num_outputs} (use 'cross_entropy')")
        self.binary = self.num_outputs == 1

    def targets(self, y: torch.Tensor, device: torch.device | str, what: str) -> torch.Tensor:
        """Check labels and put them in the form the loss takes."""
        if self.custom is not None:
            return y.to(device)
        y = y.reshape(-1) if self.binary and y.ndim == 2 and y.shape[1] == 1 else y
        if y.ndim != 1:
            raise ShapeError(f"{what}: labels have shape {tuple(y.shape)}; expected one label "
                             f"per point")
        values = y.double()
        if not torch.isfinite(values).all() or not (values == values.round()).all():
            raise InvalidInputError(f"{what}: labels must be integers (class indices)")
        top = 1 if self.binary else self.num_outputs - 1
        if values.numel() and (values.min() < 0 or values.max() > top):
            raise InvalidInputError(f"{what}: labels must lie in [0, {top}] for a network with "
                                    f"{self.num_outputs} output(s), found values in "
                                    f"[{values.min():g}, {values.max():g}]")
        return y.to(device).long()

    def __call__(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = logits.reshape(logits.shape[0], -1)
        if self.custom is not None:
            return self.custom(logits, y)
        if self.binary:
            return torch.nn.functional.binary_cross_entropy_with_logits(
                logits[:, 0], y.to(logits.dtype))
        return torch.nn.functional.cross_entropy(logits, y)

    def correct(self, logits: torch.Tensor, y: torch.Tensor) -> int | None:
        """Number of correctly classified points, or None for a custom loss."""
        if self.custom is not None:
            return None
        logits = logits.reshape(logits.shape[0], -1)
        pred = (logits[:, 0] > 0).long() if self.binary else logits.argmax(dim=1)
        return int((pred == y).sum())
