"""``plnet demo``, ``plnet inspect`` and ``plnet convert``."""

from __future__ import annotations

import sys
import time

import numpy as np

import plnet
from plnet.cli.inputs import check_output_path, load_model
from plnet.cli.progress import Progress, progress_wanted
from plnet.cli.report import emit_json, network_object, p_name, percentile_table, percentiles
from plnet.errors import InvalidInputError, require


def cmd_demo(args) -> int:
    from plnet.analysis.counting import RegionCounter
    from plnet.analysis.margins import margin_from
    from plnet.cli.plot import check_picture_path
    from plnet.demo import demo_grid, demo_network, demo_picture

    if args.train:
        if args.plot is not None:
            raise InvalidInputError("--plot draws the built-in network of the plain demo; "
                                    "leave out --train (or --plot)")
        return _train_demo(args)
    picture = check_picture_path(args.plot, "--plot") if args.plot is not None else None
    started = time.perf_counter()
    net = demo_network(args.seed)
    x = demo_grid(args.points)
    lin = plnet.linearize(net, x)
    margins = {p: margin_from(lin, p) for p in (1, 2, np.inf)}
    counter = RegionCounter(on_tie="exclude")
    counter.add(lin)
    count = counter.result()
    gap = float(np.max(np.abs(plnet.l1_margin_bisection(net, x).lower - margins[1])))
    if picture is not None:
        regions = demo_picture(net, picture)
        print(f"wrote {picture}: the {regions} linear regions on [-1, 1]^2 with certified "
              f"balls", file=sys.stderr)
    elapsed = time.perf_counter() - started
    if args.json:
        emit_json({"network": network_object(net), "points": int(x.shape[0]),
                   "margins": {p_name(p): percentiles(m) for p, m in margins.items()},
                   "clr": {"lower": count.lower, "upper": count.upper},
                   "l1_bisection_max_gap": gap, "seconds": elapsed})
        return 0
    print(f"plnet demo: {net!r}, built in; {x.shape[0]} points on a "
          f"{args.points}x{args.points} grid over [-1, 1]^2\n")
    print(net.summary(), "\n")
    print("certified margins (radius of the largest l_p ball inside each point's linear region):")
    print("\n".join(percentile_table(margins)))
    print(f"\ncomplete linear regions among the points (Lemma 7): between {count.lower} and "
          f"{count.upper}")
    print(f"l1 margin by Appendix-B bisection vs closed form: max difference {gap:.1e} "
          f"(bisection gap 1e-7)")
    print(f"\ndone in {elapsed:.2f} s")
    if picture is None:
        print("(plnet demo --plot demo.png draws the linear regions and certified balls)")
    return 0


def _train_demo(args) -> int:
    from plnet.demo import TRAIN_EPOCHS, train_demo

    started = time.perf_counter()
    with Progress(2 * TRAIN_EPOCHS, "train", "epoch", progress_wanted(args)) as progress:
        stats = train_demo(seed=args.seed, on_epoch=lambda: progress.update(1))
    if args.json:
        emit_json({**stats, "seconds": time.perf_counter() - started})
        return 0
    print(f"plnet demo --train: two moons (200 points), 2-32x4-1 ReLU MLP, {TRAIN_EPOCHS} "
          f"epochs of Adam,")
    print("vanilla cross-entropy against ROLL (lambda 1, C 5, gamma 100); margins certified on")
    print("the training points by the float64 reference\n")
    print(f"  {'model':<8} {'accuracy':>8}  {'l2 P25':>9} {'l2 P50':>9} {'l2 P75':>9}  "
          f"{'l1 P50':>9}  #CLR")
    for name, s in stats.items():
        print(f"  {name:<8} {s['accuracy']:>8.1%}  " + " ".join(f"{v:>9.2e}" for v in s["l2"][:3])
              + f"  {s['l1'][1]:>9.2e}  {s['clr'][0]}-{s['clr'][1]}")
    ratio = stats["roll"]["l2"][1] / max(stats["vanilla"]["l2"][1], 1e-300)
    print(f"\nROLL's median l2 margin is {ratio:.1f}x vanilla's; done in "
          f"{time.perf_counter() - started:.1f} s")
    return 0


def cmd_inspect(args) -> int:
    net = load_model(args.model, args.batch_dim, args.output, args.drop_trailing,
                     not args.no_check)
    if args.json:
        emit_json(network_object(net))
    else:
        print(net.summary())
    return 0


def cmd_convert(args) -> int:
    out = check_output_path(args.out)
    net = load_model(args.model, args.batch_dim, args.output, args.drop_trailing,
                     not args.no_check)
    try:
        if out.suffix.lower() == ".onnx":
            onnx = require("onnx", "onnx", "writing an .onnx file")
            onnx.save(plnet.to_onnx(net), str(out))
        else:
            net.save(out)
    except OSError as exc:
        raise InvalidInputError(f"-o {out}: cannot write it ({exc.strerror or exc}); choose "
                                f"another path") from None
    print(f"wrote {out} ({net!r})", file=sys.stderr)
    return 0
