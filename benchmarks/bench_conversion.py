"""Conversion time per architecture of the test zoo: ``plnet.from_torch`` (its float64
check included) and ``plnet.from_onnx`` of the architecture exported by torch's dynamo and
legacy ONNX exporters (conversion only: the export is not timed), next to the time of one
torch forward of the same batch.

    python benchmarks/bench_conversion.py [--size 64] [--width 1.0] [--threads 2]
        [--device cpu] [--only resnet_basic,alexnet]

Prints one row per architecture: the three conversion times in seconds ("-" where the
exporter cannot write the architecture), torch forward seconds (float32, the example batch,
best of three), and the ratio of ``from_torch`` to the forward.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import sys
import time
import warnings
from pathlib import Path

import torch

import plnet
from plnet.quiet import silenced_fds

from devices import sync


def load_zoo():
    path = Path(__file__).resolve().parents[1] / "tests" / "frontends" / "torch" / "zoo.py"
    spec = importlib.util.spec_from_file_location("plnet_test_zoo", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["plnet_test_zoo"] = module
    spec.loader.exec_module(module)
    return module


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def export(module, x, dynamo: bool) -> bytes | None:
    """The ONNX bytes of ``module`` at ``x`` by one exporter (None when it cannot export)."""
    # the exporters print graphs and diagnostics (the legacy one dumps the whole TorchScript
    # graph to stdout when it refuses an op): keep them out of the benchmark's output
    with warnings.catch_warnings(), silenced_fds():
        warnings.simplefilter("ignore")
        try:
            if dynamo:
                return torch.onnx.export(module, (x,), dynamo=True,
                                         verbose=False).model_proto.SerializeToString()
            buffer = io.BytesIO()
            torch.onnx.export(module, (x,), buffer, dynamo=False)
            return buffer.getvalue()
        except torch.onnx.errors.OnnxExporterError:
            return None


def _onnx_seconds(module, x, dynamo: bool) -> float | None:
    data = export(module, x, dynamo)
    return None if data is None else _timed(plnet.from_onnx, data)


def _timed_forward(module, x) -> float:
    sync(x.device)
    start = time.perf_counter()
    module(x)
    sync(x.device)
    return time.perf_counter() - start


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="input height and width")
    parser.add_argument("--width", type=float, default=1.0,
                        help="MobileNetV2 width multiplier (1.0: torchvision's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu",
                        help="where the module, the example and the forward run")
    parser.add_argument("--only", default=None,
                        help="comma-separated architectures (default: the whole zoo)")
    return parser


def run(args) -> dict:
    """Convert every architecture; ratios: ``from_torch`` over one forward per
    architecture; table: one row per architecture (seconds; None: no export)."""
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    zoo = load_zoo()
    builders = {name: make for name, (make, _) in zoo.ZOO.items()}
    builders["mobilenet_v2"] = lambda: zoo.MobileNetV2(width_mult=args.width)
    if args.only:
        names = [name.strip() for name in args.only.split(",")]
        unknown = sorted(set(names) - set(builders))
        if unknown:
            raise ValueError(f"--only {args.only!r}: unknown architecture(s) {unknown}; "
                             f"choose from {sorted(builders)}")
        builders = {name: builders[name] for name in names}
    ratios, table = {}, []
    for name, make in builders.items():
        torch.manual_seed(0)
        module = make().eval().to(device)
        x = torch.randn(2, 3, args.size, args.size, device=device)
        with torch.no_grad():
            module(x)  # warm up
            forward = min(_timed_forward(module, x) for _ in range(3))
        convert = _timed(plnet.from_torch, module, x)
        dynamo, legacy = (_onnx_seconds(module, x, flag) for flag in (True, False))
        ratios[f"{name} from_torch / forward"] = convert / forward
        table.append({"architecture": name, "from_torch": convert, "dynamo_onnx": dynamo,
                      "legacy_onnx": legacy, "forward": forward, "ratio": convert / forward})
    return {"device": device.type, "ratios": ratios, "table": table}


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    print(f"{'architecture':<20}{'from_torch s':>14}{'dynamo+onnx s':>15}{'legacy+onnx s':>15}"
          f"{'forward s':>12}{'ratio':>10}", flush=True)
    for row in run(args)["table"]:
        dynamo, legacy = ("-" if t is None else f"{t:.3f}"
                          for t in (row["dynamo_onnx"], row["legacy_onnx"]))
        print(f"{row['architecture']:<20}{row['from_torch']:>14.3f}{dynamo:>15}{legacy:>15}"
              f"{row['forward']:>12.4f}{row['ratio']:>10.0f}")


if __name__ == "__main__":
    main()
