"""Files the command line reads and writes: models, points, output paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import plnet
from plnet.errors import InvalidInputError

#: What ``--input`` reads.
POINT_FORMATS = {".npy": "a numpy array (numpy.save)",
                 ".npz": "a numpy archive (numpy.savez) of one array, or choose one with "
                         "--input-key",
                 ".csv": "numbers separated by commas, one point per row, no header"}

#: What a model path may be, and what ``convert -o`` writes.
MODEL_FORMATS = (".onnx", ".npz")


def load_model(path: str, batch_dim: int | None = 0, output: str | None = None,
               drop_trailing: bool = False, check: bool = True) -> plnet.Network:
    """Load a ``.onnx`` model or a saved plnet network (``.npz``)."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"{path}: no such file" if not p.exists() else
                                f"{path}: is a folder; give a model file (.onnx or .npz)")
    suffix = p.suffix.lower()
    if suffix == ".npz":
        return plnet.load(p)
    if suffix == ".onnx":
        kwargs = {"batch_dim": batch_dim, "drop_trailing": drop_trailing, "check": check}
        if output:
            kwargs["output"] = output
        return plnet.from_onnx(str(p), **kwargs)
    raise InvalidInputError(f"{path}: unknown model format {suffix!r}; plnet reads .onnx files "
                            f"and saved networks (.npz)")


def check_output_path(out: str) -> Path:
    """Fail before any work when ``-o OUT`` cannot be written: bad suffix, missing folder."""
    path = Path(out)
    if path.suffix.lower() not in MODEL_FORMATS:
        raise InvalidInputError(f"-o {out}: choose an output ending in .onnx or .npz")
    folder = path.parent
    if not folder.is_dir():
        raise InvalidInputError(f"-o {out}: the folder {folder} does not exist; create it "
                                f"first (mkdir -p {folder}) or choose another path")
    if path.is_dir():
        raise InvalidInputError(f"-o {out}: is a folder; give a file name ending in .onnx or "
                                f".npz")
    return path


def load_points(path: str, input_shape: tuple, key: str | None = None,
                flag: str = "--input") -> np.ndarray:
    """Points ``[B, *input_shape]`` from ``--input`` (or ``flag``; a single point may omit B).

    Raises:
        InvalidInputError: a missing or unreadable file, an unknown suffix, a ``.npz`` with
            several arrays and no ``key``, or a ``.csv`` cell that is not a number.
        ShapeError: points that do not fit the model's input shape.
    """
    p = Path(path)
    what = f"{flag} {path}"
    if not p.is_file():
        raise InvalidInputError(f"{what}: no such file" if not p.exists() else
                                f"{what}: is a folder; give a file of points")
    suffix = p.suffix.lower()
    if suffix not in POINT_FORMATS:
        accepted = "; ".join(f"{s} ({d})" for s, d in POINT_FORMATS.items())
        raise InvalidInputError(f"{what}: unknown format {suffix or '(no suffix)'!r}; "
                                f"{flag} accepts {accepted}")
    if key is not None and suffix != ".npz":
        raise InvalidInputError(f"--input-key {key}: only a .npz input holds named arrays, "
                                f"but {path} is a {suffix} file; leave --input-key out")
    if suffix == ".csv":
        x = _read_csv(p, what, int(np.prod(input_shape, dtype=np.int64)))
        return x.reshape((x.shape[0], *input_shape))
    x = _read_npz(p, what, key) if suffix == ".npz" else _read_npy(p, what)
    if x.shape == tuple(input_shape):
        x = x[None]
    return x


def _read_npy(path: Path, what: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise InvalidInputError(f"{what}: holds pickled Python objects, which plnet does "
                                    f"not load; save a numeric array with numpy.save") from None
        raise InvalidInputError(f"{what}: not a readable .npy array ({exc})") from None
    except OSError as exc:
        raise InvalidInputError(f"{what}: cannot read it ({exc})") from None


def _read_npz(path: Path, what: str, key: str | None) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            if key is None:
                if len(names) != 1:
                    listed = ", ".join(names) if names else "none"
                    raise InvalidInputError(
                        f"{what}: the archive holds {len(names)} arrays ({listed}); choose "
                        f"one with --input-key NAME")
                key = names[0]
            elif key not in names:
                raise InvalidInputError(f"--input-key {key}: {path} has no array of that "
                                        f"name; its arrays are: {', '.join(names)}")
            return archive[key]
    except InvalidInputError:
        raise
    except ValueError as exc:
        raise InvalidInputError(f"{what}: holds pickled Python objects or is not a numpy "
                                f"archive ({exc}); save numeric arrays with numpy.savez") \
            from None
    except OSError as exc:
        raise InvalidInputError(f"{what}: not a readable .npz archive ({exc})") from None


def _read_csv(path: Path, what: str, size: int) -> np.ndarray:
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{what}: cannot read it as text ({exc})") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cells = [cell.strip() for cell in line.split(",")]
        try:
            rows.append([float(cell) for cell in cells])
        except ValueError:
            bad = next(c for c in cells if not _is_number(c))
            hint = " (a header row? remove it)" if not rows else ""
            raise InvalidInputError(f"{what}, line {number}: {bad!r} is not a number{hint}; "
                                    f"the file must hold only numbers, one point per "
                                    f"row") from None
        if len(rows[-1]) != size:
            raise InvalidInputError(f"{what}, line {number}: {len(rows[-1])} values, but the "
                                    f"model's input has {size} (one point per row)")
    if not rows:
        raise InvalidInputError(f"{what}: holds no points")
    return np.asarray(rows, dtype=np.float64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
