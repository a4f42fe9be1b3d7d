"""The container every loader returns, and the seeded, stratified split they share."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from plnet.errors import InvalidInputError


@dataclasses.dataclass
class Splits:
    """A dataset cut into training, validation and testing parts.

    Each part is an ``(x, y)`` pair that :func:`plnet.backends.torch.fit` (``train_data``,
    ``val_data``) and :func:`plnet.backends.torch.certify` take as is: ``x`` a float array
    ``[n, *input_shape]`` (or, for sequences, a list of ``[T_i, channels]`` arrays) and
    ``y`` int64 labels ``[n]``.

    Attributes:
        name: the dataset's name.
        train, val, test: the ``(x, y)`` parts (``val`` may hold no points).
        mean, std: the normalization the paper applies (None when it applies none); prepend
            it with :func:`plnet.datasets.prepend_normalization` so that certificates are
            quoted in the raw input space.
        source: where the data came from (a path), for the record.
        classes: number of classes.

    Example:
        >>> import plnet.datasets
        >>> data = plnet.datasets.load_toy(50)
        >>> data.name, data.classes, data.train[0].shape, len(data.val[1]), data.test[0].shape
        ('toy2d', 2, (50, 2), 0, (50, 2))
    """

    name: str
    train: tuple[Any, np.ndarray]
    val: tuple[Any, np.ndarray]
    test: tuple[Any, np.ndarray]
    classes: int
    source: str
    mean: Any = None
    std: Any = None

    def sizes(self) -> dict[str, int]:
        """Points per part, e.g. ``{"train": 3500, "val": 500, "test": 1000}``."""
        return {k: len(getattr(self, k)[1]) for k in ("train", "val", "test")}


def stratified_split(y: np.ndarray, fractions, seed: int) -> list[np.ndarray]:
    """Indices of parts with the given fractions, class by class, in a seeded random order.

    Every class is shuffled with ``numpy.random.default_rng(seed)`` and cut at the
    cumulative fractions (rounded down per class; the last part takes the rest), so each
    part keeps the class proportions and the same seed gives the same parts.

    Args:
        y: ``[n]`` integer labels.
        fractions: the parts' shares, summing to 1.
        seed: the seed of the shuffle.

    Returns:
        One sorted index array per part.

    Raises:
        InvalidInputError: a negative fraction, or fractions that do not sum to 1.

    Example:
        >>> import plnet.datasets
        >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
        >>> train, test = plnet.datasets.stratified_split(y, [0.5, 0.5], seed=0)
        >>> np.bincount(y[train]).tolist(), np.bincount(y[test]).tolist()   # 2 + 3 each
        ([2, 3], [2, 3])
    """
    fractions = np.asarray(fractions, float)
    if (fractions < 0).any() or not np.isclose(fractions.sum(), 1.0):
        raise InvalidInputError(f"split fractions must be >= 0 and sum to 1, got "
                                f"{fractions.tolist()}")
    rng = np.random.default_rng(seed)
    parts = [[] for _ in fractions]
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        # the epsilon keeps 0.7 + 0.1 = 0.7999... from losing a point to round-off
        cuts = np.floor(np.cumsum(fractions)[:-1] * len(idx) + 1e-9).astype(int)
        for part, chunk in zip(parts, np.split(idx, cuts)):
            part.append(chunk)
    return [np.sort(np.concatenate(p)) if p else np.zeros(0, int) for p in parts]


def take(x, idx):
    """``x[idx]`` for an array, or the listed items of a list of sequences."""
    if isinstance(x, list):
        return [x[i] for i in idx]
    return x[idx]


def data_missing(what: str, looked: str, fix: str):
    """The error for data that is not on this machine (a :class:`MissingDependencyError`)."""
    from plnet.errors import MissingDependencyError

    return MissingDependencyError(f"{what}: not found ({looked}). {fix}")
