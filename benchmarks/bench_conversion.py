"""Conversion time per architecture of the test zoo: ``plnet.from_torch`` (its float64
check included) and ``plnet.from_onnx`` of the architecture exported by torch's dynamo and
legacy ONNX exporters (conversion only: the export is not timed), next to the time of one
torch forward of the same batch.

    python benchmarks/bench_conversion.py [--size 64] [--width 1.0] [--threads 2]

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
    with warnings.catch_warnings():
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


def _onnx_seconds(module, x, dynamo: bool) -> str:
    data = export(module, x, dynamo)
    return "-" if data is None else f"{_timed(plnet.from_onnx, data):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="input height and width")
    parser.add_argument("--width", type=float, default=1.0,
                        help="MobileNetV2 width multiplier (1.0: torchvision's)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    zoo = load_zoo()
    builders = {name: make for name, (make, _) in zoo.ZOO.items()}
    builders["mobilenet_v2"] = lambda: zoo.MobileNetV2(width_mult=args.width)
    print(f"{'architecture':<20}{'from_torch s':>14}{'dynamo+onnx s':>15}{'legacy+onnx s':>15}"
          f"{'forward s':>12}{'ratio':>10}")
    for name, make in builders.items():
        torch.manual_seed(0)
        module = make().eval()
        x = torch.randn(2, 3, args.size, args.size)
        with torch.no_grad():
            module(x)  # warm up
            forward = min(_timed(module, x) for _ in range(3))
        convert = _timed(plnet.from_torch, module, x)
        dynamo, legacy = (_onnx_seconds(module, x, flag) for flag in (True, False))
        print(f"{name:<20}{convert:>14.3f}{dynamo:>15}{legacy:>15}{forward:>12.4f}"
              f"{convert / forward:>10.0f}")


if __name__ == "__main__":
    main()
