"""Japanese Vowels (UCI; Kudo, Toyama and Shimbo, 1999) from the ``.ts`` format.

Nine speakers, 12 LPC cepstrum channels, sequences of 7 to 29 steps: 270 training and 370
testing utterances. The files come from a path or from the installed sktime wheel; they are
parsed here because sktime's own numpy loader refuses unequal lengths. The paper does not
normalize this data (Appendix H).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from plnet.datasets.files import DATA_HINT, open_maybe_gzip, package_file
from plnet.datasets.splits import Splits, data_missing, stratified_split, take
from plnet.errors import InvalidInputError

VOWELS_FILES = {part: ("sktime", f"datasets/data/JapaneseVowels/JapaneseVowels_{part}.ts")
                for part in ("TRAIN", "TEST")}


def read_ts(path: str | os.PathLike) -> tuple[list[np.ndarray], list[str]]:
    """Parse a multivariate ``.ts`` file with class labels.

    Args:
        path: the file (gzipped or not). After the ``@data``
            line each case is one line: its channels, comma-separated values each,
            separated by ``:``, then the label.

    Returns:
        ``(sequences, labels)``: one ``[T_i, channels]`` float64 array per case (lengths may
        differ between cases, not between a case's channels) and the label strings.

    Raises:
        InvalidInputError: a malformed case (named by its line), missing values, or a header
            without ``@data``.

    Example:
        >>> import plnet.datasets
        >>> from pathlib import Path
        >>> _ = Path("tiny.ts").write_text("@problemName tiny\\n@data\\n"
        ...                                "1,2,3:4,5,6:a\\n7,8:9,10:b\\n")
        >>> sequences, labels = plnet.datasets.read_ts("tiny.ts")
        >>> [s.shape for s in sequences], labels          # [T_i, channels] per case
        ([(3, 2), (2, 2)], ['a', 'b'])
    """
    path = Path(path)
    with open_maybe_gzip(path) as fh:
        lines = fh.read().decode("utf-8").splitlines()
    try:
        start = next(i for i, ln in enumerate(lines) if ln.strip().lower() == "@data") + 1
    except StopIteration:
        raise InvalidInputError(f"{path}: no @data line; expected the .ts format") from None
    sequences, labels = [], []
    for number, line in enumerate(lines[start:], start + 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        *channels, label = line.split(":")
        try:
            series = [np.array([float(v) for v in ch.split(",")]) for ch in channels]
        except ValueError:
            raise InvalidInputError(f"{path}, line {number}: a value is not a number (missing "
                                    f"values '?' are not supported)") from None
        lengths = {len(s) for s in series}
        if not series or len(lengths) != 1:
            raise InvalidInputError(f"{path}, line {number}: channels of lengths "
                                    f"{sorted(lengths)}; a case needs one length for all")
        sequences.append(np.stack(series, axis=1))
        labels.append(label.strip())
    if not sequences:
        raise InvalidInputError(f"{path}: no cases after @data")
    if len({s.shape[1] for s in sequences}) != 1:
        raise InvalidInputError(f"{path}: cases with different numbers of channels")
    return sequences, labels


def _locate(path, part: str) -> Path:
    if path is not None:
        candidates = [Path(path) / f"JapaneseVowels_{part}.ts"]
        if not candidates[0].is_file():
            raise data_missing("Japanese Vowels", f"no {candidates[0].name} in {path}",
                               "Pass the folder holding JapaneseVowels_TRAIN.ts and _TEST.ts")
        return candidates[0]
    found = package_file(*VOWELS_FILES[part])
    if found is None:
        raise data_missing("Japanese Vowels", f"sktime/{VOWELS_FILES[part][1]} is not "
                           f"installed", DATA_HINT)
    return found


def load_japanese_vowels(path: str | os.PathLike | None = None, *, val_fraction: float = 0.0,
                         seed: int = 0) -> Splits:
    """Japanese Vowels with the official training/testing split.

    Args:
        path: a folder holding ``JapaneseVowels_TRAIN.ts`` and ``JapaneseVowels_TEST.ts``;
            None reads them from the installed sktime wheel.
        val_fraction: share of the training cases held out (stratified, seeded) for
            validation. The default 0 follows the paper, which has no validation data and
            tunes on the testing set (Appendix H): ``val`` is then the testing set.
        seed: seed of the validation split.

    Returns:
        :class:`Splits` whose ``x`` are lists of ``[T_i, 12]`` float64 arrays and ``y``
        labels 0-8 (the files' 1-9, minus one).

    Raises:
        MissingDependencyError: files not found (the message says what to install).
        InvalidInputError: malformed files or labels outside 1-9.

    Example:
        >>> import plnet.datasets
        >>> data = plnet.datasets.load_japanese_vowels()       # from the sktime wheel
        >>> len(data.train[0]), len(data.test[0]), data.train[0][0].shape, data.classes
        (270, 370, (20, 12), 9)
    """
    parts = {}
    for part in ("TRAIN", "TEST"):
        file = _locate(path, part)
        sequences, labels = read_ts(file)
        try:
            y = np.array([int(v) for v in labels], np.int64) - 1
        except ValueError:
            y = np.array([-1])
        if y.min() < 0 or y.max() > 8:
            raise InvalidInputError(f"{file}: labels must be the integers 1-9")
        parts[part] = (sequences, y)
    x_tr, y_tr = parts["TRAIN"]
    if not 0 <= val_fraction < 1:
        raise InvalidInputError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    if val_fraction > 0:
        train_idx, val_idx = stratified_split(y_tr, (1 - val_fraction, val_fraction), seed)
        train, val = (take(x_tr, train_idx), y_tr[train_idx]), (take(x_tr, val_idx),
                                                                 y_tr[val_idx])
    else:
        train, val = parts["TRAIN"], parts["TEST"]
    source = str(Path(_locate(path, "TRAIN")).parent)
    return Splits("japanese_vowels", train, val, parts["TEST"], classes=9, source=source)
