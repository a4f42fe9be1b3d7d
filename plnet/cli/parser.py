"""The argument parser of ``plnet``: subcommands, flags and their help."""

from __future__ import annotations

import argparse
import sys

import plnet
from plnet.cli import options


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors reported as ``plnet: error: ...`` (exit 2)."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"plnet: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand; ``args.func(args)`` runs the chosen one."""
    from plnet.cli.certify import cmd_certify
    from plnet.cli.commands import cmd_convert, cmd_demo, cmd_inspect

    parser = Parser(prog="plnet", description=(
        "Exact linear-region certificates for piecewise-linear networks. Results go to "
        "stdout, progress and messages to stderr. Exit status: 0 success, 1 error, 2 usage "
        "error, 130 interrupted, 141 stdout closed early. PLNET_DEBUG=1 shows the traceback "
        "of an error."))
    parser.add_argument("--version", action="version", version=f"plnet {plnet.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="certify a built-in 2-d network on a grid of points",
                          description="Certify a built-in 2-32-32-32-2 ReLU network on a "
                                      "grid over [-1, 1]^2: l1/l2/l_inf margin percentiles, "
                                      "#CLR bounds, and the Appendix-B l1 cross-check.")
    demo.add_argument("--points", type=options.grid_points, default=21,
                      help="grid points per axis, at least 2 (default 21)")
    demo.add_argument("--seed", type=options.seed, default=0,
                      help="seed of the built-in weights (and of --train's data; default 0)")
    demo.add_argument("--train", action="store_true",
                      help="instead, train vanilla and ROLL models on two moons and compare "
                           "their certified margins (needs the torch extra)")
    demo.add_argument("--json", action="store_true", help="one JSON object on stdout "
                                                          "(schema: docs/cli.md)")
    demo.add_argument("--plot", metavar="OUT.png",
                      help="also draw the network's linear regions on [-1, 1]^2 with the "
                           "certified balls of a few points (needs the plot extra)")
    _progress_args(demo, "--train's epochs")
    demo.set_defaults(func=cmd_demo)

    inspect = sub.add_parser("inspect", help="table of ops, shapes, units N and input size D",
                             description="Load a model and print one row per node: op, "
                                         "attributes, per-sample shape, units; then D and N.")
    _model_args(inspect)
    inspect.add_argument("--json", action="store_true", help="one JSON object on stdout "
                                                             "(schema: docs/cli.md)")
    inspect.set_defaults(func=cmd_inspect)

    convert = sub.add_parser("convert", help="convert a model to ONNX (or to .npz)",
                             description="Load a model into plnet's IR and write it as ONNX "
                                         "(-o OUT.onnx) or as a saved network (-o OUT.npz).")
    _model_args(convert)
    convert.add_argument("-o", "--out", required=True,
                         help="output path ending in .onnx or .npz (its folder must exist)")
    convert.set_defaults(func=cmd_convert)

    certify = sub.add_parser("certify", help="certified l_p margins of points and #CLR bounds",
                             description="Certified l_p margin of every point (the radius of "
                                         "the largest l_p ball inside its linear region), "
                                         "margin percentiles, and #CLR bounds among the "
                                         "points (points on a boundary left out).")
    _model_args(certify)
    certify.add_argument("--input", required=True,
                         help="the points: .npy [B, *input] (or one point), .npz (one array, "
                              "or choose with --input-key), or .csv (numbers only, one "
                              "point per row, reshaped to the model's input)")
    certify.add_argument("--input-key", metavar="NAME",
                         help="the array of a .npz --input that holds the points")
    certify.add_argument("--p", type=options.norms, default=(2.0,), metavar="P[,P...]",
                         help="norms: 1, 2, inf or a list such as 1,2,inf (default 2)")
    certify.add_argument("--batch-size", type=options.batch_size, default="auto",
                         metavar="N|auto",
                         help="most points per pass (default auto: numpy, as many as the "
                              "memory budget allows; torch, 256). With progress shown, "
                              "batches start at 1 point and grow while a pass takes under "
                              "a second")
    certify.add_argument("--memory-budget", type=options.memory_size, metavar="SIZE",
                         help="memory the numpy backend may use per pass, e.g. 2GiB, 500MB "
                              "or bytes (default $PLNET_MEMORY_BUDGET, else 2GiB)")
    certify.add_argument("--backend", choices=("numpy", "torch"), default="numpy",
                         help="numpy: the float64 reference (default); torch: the torch "
                              "backend in float64, on CUDA when present (faster on large "
                              "models; needs the torch extra)")
    certify.add_argument("--json", action="store_true", help="one JSON object on stdout "
                                                             "(schema: docs/cli.md)")
    _progress_args(certify, "points")
    certify.set_defaults(func=cmd_certify)

    _reproduce_parser(sub)
    _plot_parser(sub)
    return parser


def _reproduce_parser(sub) -> None:
    from plnet.cli.reproduce import cmd_reproduce
    from plnet.reproduce.registry import NAMES

    reproduce = sub.add_parser(
        "reproduce", help="reproduce a table or figure of the paper on offline data",
        description="Train what a table or figure of the paper needs (vanilla and ROLL), "
                    "certify it, and print the result beside the paper's numbers; writes "
                    "JSON and PNG files under --out. Needs the torch, data and plot extras. "
                    "See docs/reproduction.md.")
    reproduce.add_argument("name", choices=NAMES, metavar="NAME",
                           help=f"one of: {', '.join(NAMES)}")
    reproduce.add_argument("--quick", action="store_true",
                           help="small models, data and grids: a few minutes on 2 cores")
    reproduce.add_argument("--out", default="reproduce-results", metavar="DIR",
                           help="folder for the JSON, PNG and cached results (default "
                                "reproduce-results)")
    reproduce.add_argument("--seed", type=options.seed, default=0,
                           help="seed of the split, weights and training (default 0)")
    reproduce.add_argument("--json", action="store_true",
                           help="one JSON object on stdout (schema: docs/reproduction.md)")
    _progress_args(reproduce, "training runs")
    reproduce.set_defaults(func=cmd_reproduce)


def _plot_parser(sub) -> None:
    from plnet.cli.plot import cmd_plot

    plot = sub.add_parser("plot", help="draw the exact linear regions on a plane through a "
                                       "point",
                          description="Partition the plane {X + a U + b V} over the --bounds "
                                      "box exactly into the model's linear regions and draw "
                                      "them (-o), with the certified l1/l2/l_inf balls of X "
                                      "and the top logit's gradients; --json gives the count, "
                                      "areas and pattern ids.")
    _model_args(plot)
    plot.add_argument("--origin", required=True, metavar="X.npy",
                      help="the point X the plane goes through (.npy, .npz or .csv, one "
                           "point of the model's input shape)")
    plot.add_argument("--u", metavar="U.npy", help="the plane's first direction, of the "
                      "input's shape (default: the input's first coordinate axis)")
    plot.add_argument("--v", metavar="V.npy", help="the plane's second direction (default: "
                      "the input's second coordinate axis)")
    plot.add_argument("--bounds", type=float, nargs=4, default=(-1.0, 1.0, -1.0, 1.0),
                      metavar=("XMIN", "XMAX", "YMIN", "YMAX"),
                      help="the box of plane coordinates (a, b) (default -1 1 -1 1)")
    plot.add_argument("-o", "--out", metavar="OUT.png",
                      help="write the picture there (.png, .svg or .pdf; needs the plot "
                           "extra)")
    plot.add_argument("--no-gradients", action="store_true",
                      help="leave out the gradient arrows")
    plot.add_argument("--json", action="store_true", help="one JSON object on stdout "
                                                          "(schema: docs/cli.md)")
    plot.set_defaults(func=cmd_plot)


def _model_args(p) -> None:
    p.add_argument("model", help="an .onnx file or a saved plnet network (.npz)")
    p.add_argument("--batch-dim", type=options.batch_dim, default=0, metavar="AXIS|none",
                   help="ONNX only: the input's batch axis, or 'none' when the file's input is "
                        "one sample (default 0)")
    p.add_argument("--output", metavar="NAME",
                   help="ONNX only: the graph output to use when there are several")
    p.add_argument("--drop-trailing", action="store_true",
                   help="ONNX only: drop a final Softmax/LogSoftmax/Sigmoid (certificates "
                        "concern the logits)")
    p.add_argument("--no-check", action="store_true",
                   help="ONNX only: skip comparing the converted network with onnxruntime "
                        "on random inputs (done by default)")


def _progress_args(p, what: str) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--progress", action="store_true",
                       help=f"show progress over {what} on stderr even when it is not a "
                            f"terminal (default: only on a terminal)")
    group.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
