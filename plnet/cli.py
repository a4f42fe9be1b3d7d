"""The ``plnet`` command line: demo, inspect, convert, certify.

Exit status: 0 on success, 1 when plnet reports an error (the message goes to stderr),
2 on a usage error (as argparse does).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import plnet
from plnet.analysis.margins import margin_percentile
from plnet.errors import InvalidInputError, PlnetError

PERCENTILES = (0, 25, 50, 75, 100)


def load_model(path: str, batch_dim: str = "0", output: str | None = None,
               drop_trailing: bool = False) -> plnet.Network:
    """Load a ``.onnx`` model or a saved plnet network (``.npz``)."""
    p = Path(path)
    if not p.exists():
        raise InvalidInputError(f"{path}: no such file")
    suffix = p.suffix.lower()
    if suffix == ".npz":
        return plnet.load(p)
    if suffix == ".onnx":
        bd = None if batch_dim.lower() == "none" else int(batch_dim)
        kwargs = {"batch_dim": bd, "drop_trailing": drop_trailing}
        if output:
            kwargs["output"] = output
        return plnet.from_onnx(str(p), **kwargs)
    raise InvalidInputError(f"{path}: unknown model format {suffix!r}; plnet reads .onnx files "
                            f"and saved networks (.npz)")


def _p_name(p) -> str:
    """"1", "2" or "inf": how the output names a norm."""
    return "inf" if np.isinf(p) else str(int(p))


def _percentiles(values: np.ndarray) -> dict[str, float]:
    return {f"P{q}": margin_percentile(values, q) for q in PERCENTILES}


def _certify_in_batches(net, x, p, batch_size, progress):
    """Margins and #CLR bounds from one linearization per batch."""
    from plnet.analysis.counting import RegionCounter
    from plnet.analysis.margins import margin_from

    out = np.empty(x.shape[0])
    counter = RegionCounter(on_tie="exclude")
    n_batches = -(-x.shape[0] // batch_size)
    for i, start in enumerate(range(0, x.shape[0], batch_size)):
        lin = plnet.linearize(net, x[start:start + batch_size])
        out[start:start + batch_size] = margin_from(lin, p)
        counter.add(lin)
        if progress:
            print(f"\rcertifying: batch {i + 1}/{n_batches}", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    return out, counter.result()


def cmd_demo(args) -> int:
    from plnet.demo import demo_grid, demo_network

    if args.train:
        return _train_demo(args)
    t0 = time.perf_counter()
    net = demo_network(args.seed)
    x = demo_grid(args.points)
    from plnet.analysis.counting import RegionCounter
    from plnet.analysis.margins import margin_from

    lin = plnet.linearize(net, x)
    margins = {p: margin_from(lin, p) for p in (1, 2, np.inf)}
    counter = RegionCounter(on_tie="exclude")
    counter.add(lin)
    count = counter.result()
    l1 = plnet.l1_margin_bisection(net, x)
    gap = float(np.max(np.abs(l1.lower - margins[1])))
    elapsed = time.perf_counter() - t0
    if args.json:
        print(json.dumps({
            "network": repr(net), "points": int(x.shape[0]),
            "margins": {_p_name(p): _percentiles(m) for p, m in margins.items()},
            "clr": {"lower": count.lower, "upper": count.upper},
            "l1_bisection_max_gap": gap, "seconds": elapsed}))
        return 0
    print(f"plnet demo: {net!r}, built in; {x.shape[0]} points on a "
          f"{args.points}x{args.points} grid over [-1, 1]^2\n")
    print(net.summary(), "\n")
    print("certified margins (radius of the largest l_p ball inside each point's linear region):")
    print("  p     " + "".join(f"{'P' + str(q):>12}" for q in PERCENTILES))
    for p, m in margins.items():
        pct = _percentiles(m)
        print(f"  {_p_name(p):<6}" + "".join(f"{pct['P' + str(q)]:>12.3e}" for q in PERCENTILES))
    print(f"\ncomplete linear regions among the points (Lemma 7): between {count.lower} and "
          f"{count.upper}")
    print(f"l1 margin by Appendix-B bisection vs closed form: max difference {gap:.1e} "
          f"(bisection gap 1e-7)")
    print(f"\ndone in {elapsed:.2f} s")
    return 0


def _train_demo(args) -> int:
    from plnet.demo import train_demo

    t0 = time.perf_counter()
    stats = train_demo(seed=args.seed)
    if args.json:
        print(json.dumps({**stats, "seconds": time.perf_counter() - t0}))
        return 0
    print("plnet demo --train: two moons (200 points), 2-32x4-1 ReLU MLP, 50 epochs of Adam,")
    print("vanilla cross-entropy against ROLL (lambda 1, C 5, gamma 100); margins certified on")
    print("the training points by the float64 reference\n")
    print(f"  {'model':<8} {'accuracy':>8}  {'l2 P25':>9} {'l2 P50':>9} {'l2 P75':>9}  "
          f"{'l1 P50':>9}  #CLR")
    for name, s in stats.items():
        print(f"  {name:<8} {s['accuracy']:>8.1%}  " + " ".join(f"{v:>9.2e}" for v in s["l2"][:3])
              + f"  {s['l1'][1]:>9.2e}  {s['clr'][0]}-{s['clr'][1]}")
    ratio = stats["roll"]["l2"][1] / max(stats["vanilla"]["l2"][1], 1e-300)
    print(f"\nROLL's median l2 margin is {ratio:.1f}x vanilla's; done in "
          f"{time.perf_counter() - t0:.1f} s")
    return 0


def cmd_inspect(args) -> int:
    net = load_model(args.model, args.batch_dim, args.output, args.drop_trailing)
    if args.json:
        print(json.dumps({
            "nodes": [dict(zip(("node", "op", "attributes", "shape", "units"), r))
                      for r in net.summary_rows()],
            "input_shape": list(net.input_shape), "output_shape": list(net.output_shape),
            "D": net.input_size, "N": net.num_units}))
    else:
        print(net.summary())
    return 0


def cmd_convert(args) -> int:
    net = load_model(args.model, args.batch_dim, args.output, args.drop_trailing)
    out = Path(args.out)
    if out.suffix.lower() == ".onnx":
        import onnx

        onnx.save(plnet.to_onnx(net), str(out))
    elif out.suffix.lower() == ".npz":
        net.save(out)
    else:
        raise InvalidInputError(f"{out}: choose an output ending in .onnx or .npz")
    print(f"wrote {out} ({net!r})", file=sys.stderr)
    return 0


def cmd_certify(args) -> int:
    net = load_model(args.model, args.batch_dim, args.output, args.drop_trailing)
    try:
        x = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"{args.input}: cannot read a .npy array ({exc})") from None
    if x.shape == net.input_shape:
        x = x[None]
    x = net.check_input(x, args.input)
    progress = not args.quiet and sys.stderr.isatty()
    if args.backend == "torch":
        margins, clr = _certify_with_torch(net, x, args.p, args.batch_size, progress)
    else:
        margins, count = _certify_in_batches(net, x, args.p, args.batch_size, progress)
        clr = {"lower": count.lower, "upper": count.upper, "tied_points": list(count.tied_points)}
    if args.json:
        print(json.dumps({"p": _p_name(args.p), "margins": margins.tolist(),
                          "percentiles": _percentiles(margins), "clr": clr}))
        return 0
    print(f"{'point':>6}  {'l_' + _p_name(args.p) + ' margin':>14}")
    for i, m in enumerate(margins):
        print(f"{i:>6}  {m:>14.6e}")
    pct = _percentiles(margins)
    print("percentiles: " + "  ".join(f"{k}={v:.3e}" for k, v in pct.items()))
    print(f"complete linear regions among the points: between {clr['lower']} and "
          f"{clr['upper']} ({len(clr['tied_points'])} point(s) on a boundary left out)")
    return 0


def _certify_with_torch(net, x, p, batch_size, progress):
    """The torch backend in float64 (float32 margins are not sound near boundaries)."""
    import torch

    from plnet.backends import torch as backend

    module = backend.compile(net, device="auto", dtype=torch.float64)
    report = backend.certify(module, x, p=(p,), batch_size=batch_size, progress=progress)
    regions = report.regions
    return report.margins[p], {"lower": regions.lower, "upper": regions.upper,
                               "tied_points": list(regions.tied_points)}


def _p_value(text: str):
    from plnet.analysis.margins import check_p

    try:
        return check_p(text)
    except InvalidInputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="plnet", description=(
        "Exact linear-region certificates for piecewise-linear networks."))
    parser.add_argument("--version", action="version", version=f"plnet {plnet.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="certify a built-in 2-d network on a grid of points")
    demo.add_argument("--points", type=int, default=21, help="grid points per axis (default 21)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the built-in weights")
    demo.add_argument("--train", action="store_true",
                      help="train vanilla and ROLL models on a toy set and compare their "
                           "certified margins (needs the torch extra)")
    demo.add_argument("--json", action="store_true", help="machine-readable output")
    demo.set_defaults(func=cmd_demo)

    def model_args(p):
        p.add_argument("model", help="an .onnx file or a saved plnet network (.npz)")
        p.add_argument("--batch-dim", default="0",
                       help="ONNX only: the input's batch axis, or 'none' when the file's "
                            "input is one sample (default 0)")
        p.add_argument("--output", help="ONNX only: the output to use when there are several")
        p.add_argument("--drop-trailing", action="store_true",
                       help="ONNX only: drop a final Softmax/LogSoftmax/Sigmoid (certificates "
                            "concern the logits)")

    inspect = sub.add_parser("inspect", help="table of ops, shapes, units N and input size D")
    model_args(inspect)
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    inspect.set_defaults(func=cmd_inspect)

    convert = sub.add_parser("convert", help="convert a model to ONNX (or to .npz)")
    model_args(convert)
    convert.add_argument("-o", "--out", required=True, help="output path (.onnx or .npz)")
    convert.set_defaults(func=cmd_convert)

    certify = sub.add_parser("certify", help="certified l_p margins of points (.npy)")
    model_args(certify)
    certify.add_argument("--input", required=True, help="points as a .npy array [B, *input]")
    certify.add_argument("--p", type=_p_value, default=2.0, help="1, 2 or inf (default 2)")
    certify.add_argument("--batch-size", type=int, default=64, help="points per batch")
    certify.add_argument("--backend", choices=("numpy", "torch"), default="numpy",
                         help="numpy: the float64 reference (default); torch: the torch "
                              "backend in float64, on CUDA when present (faster on large "
                              "models; needs the torch extra)")
    certify.add_argument("--json", action="store_true", help="machine-readable output")
    certify.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    certify.set_defaults(func=cmd_certify)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args)
    except PlnetError as exc:
        print(f"plnet: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
