"""``plnet plot``: the exact linear regions of a model on a plane through a point, drawn."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from plnet.cli.inputs import load_model, load_points
from plnet.cli.report import emit_json
from plnet.errors import InvalidInputError, ShapeError, require

#: what ``-o`` may end in (matplotlib's writer is chosen by the suffix)
PICTURE_FORMATS = (".png", ".svg", ".pdf")


def check_picture_path(out: str, flag: str = "-o") -> Path:
    """Fail before any work when the picture cannot be written: suffix, folder, matplotlib."""
    path = Path(out)
    if path.suffix.lower() not in PICTURE_FORMATS:
        raise InvalidInputError(f"{flag} {out}: choose a picture ending in "
                                f"{', '.join(PICTURE_FORMATS)}")
    if not path.parent.is_dir():
        raise InvalidInputError(f"{flag} {out}: the folder {path.parent} does not exist; "
                                f"create it first (mkdir -p {path.parent}) or choose another "
                                f"path")
    if path.is_dir():
        raise InvalidInputError(f"{flag} {out}: is a folder; give a file name ending in .png")
    require("matplotlib", "plot", f"{flag} (drawing the picture)")
    return path


def cmd_plot(args) -> int:
    from plnet.regions import slice2d

    if args.out is None and not args.json:
        raise InvalidInputError("plot: give -o OUT.png for the picture, --json for the counts "
                                "and areas, or both")
    if (args.u is None) != (args.v is None):
        raise InvalidInputError("plot: give both --u and --v (the plane's directions), or "
                                "neither for the input's first two coordinate axes")
    _check_bounds(args.bounds)
    out = check_picture_path(args.out) if args.out is not None else None
    net = load_model(args.model, args.batch_dim, args.output, args.drop_trailing,
                     not args.no_check)
    origin = _one_point(args.origin, "--origin", net.input_shape)
    if args.u is None:
        if net.input_size < 2:
            raise ShapeError(f"plot: the model's input has {net.input_size} entry; a plane "
                             f"needs two directions: give --u and --v")
        u, v = np.zeros((2, net.input_size))
        u[0] = v[1] = 1.0
        u, v = u.reshape(net.input_shape), v.reshape(net.input_shape)
    else:
        u = _one_point(args.u, "--u", net.input_shape)
        v = _one_point(args.v, "--v", net.input_shape)
    s = slice2d(net, origin, u, v, bounds=args.bounds)
    if out is not None:
        a0, a1, b0, b1 = s.bounds
        inside = a0 < 0 < a1 and b0 < 0 < b1
        ax = s.plot(points=[[0.0, 0.0]] if inside else None, gradients=not args.no_gradients)
        ax.figure.savefig(out, bbox_inches="tight")
        print(f"wrote {out} ({s.count} regions)", file=sys.stderr)
    if args.json:
        emit_json(s.to_json())
    else:
        print(f"{s.count} linear regions by activation pattern, {s.linear_count} by affine "
              f"map, on [{s.bounds[0]:g}, {s.bounds[1]:g}] x [{s.bounds[2]:g}, "
              f"{s.bounds[3]:g}]")
    return 0


def _check_bounds(bounds) -> None:
    a0, a1, b0, b1 = bounds
    if not all(np.isfinite(bounds)) or not (a0 < a1 and b0 < b1):
        raise InvalidInputError(f"--bounds {' '.join(f'{b:g}' for b in bounds)}: give finite "
                                f"XMIN XMAX YMIN YMAX with XMIN < XMAX and YMIN < YMAX")


def _one_point(path, flag, shape) -> np.ndarray:
    x = load_points(path, shape, flag=flag)
    if x.shape[0] != 1 or x.shape[1:] != tuple(shape):
        raise ShapeError(f"{flag} {path}: holds an array of shape {x.shape}; give one point "
                         f"of the model's input shape {tuple(shape)}")
    return x[0]
