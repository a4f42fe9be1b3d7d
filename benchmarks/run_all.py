"""Every benchmark in one command, with one JSON record of the run.

Runs bench_linearize, bench_gradients, bench_training, bench_conversion, bench_certify,
bench_regions, bench_sequences and bench_distributed (which launches its own 2 processes
with torchrun) through each script's ``run(args)``, one after the other, and writes one
JSON object:

    {"device", "torch", "threads", "load_average", "started", "seconds",
     "benchmarks": {name: {"seconds", "device", "ratios": {...}, "table": [...]}}}

A benchmark that fails is recorded as ``{"seconds", "error"}`` and the others still run;
the exit status is then 1. One progress line per benchmark goes to stderr.

    python3 benchmarks/run_all.py [--device {cpu,cuda,auto}] [--quick | --smoke]
                                  [--only linearize,gradients,...] [--json PATH]

The default and ``--quick`` each finish in well under 5 minutes on 2 CPU cores (``--quick``
with fewer repeats and a subset of the conversion zoo); ``--smoke`` runs the smallest
settings (tiny batches, one repeat, one network per script) to check that everything runs,
its figures mean nothing.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: script arguments per benchmark and mode; the device and thread flags are added by ``plan``
MODES = {
    "default": {
        "linearize": ["--repeats", "5"],
        "gradients": ["--repeats", "2", "--loop-units", "32"],
        "training": ["--repeats", "3", "--fast-repeats", "20", "--steps", "3"],
        "conversion": [],
        "sequences": ["--repeats", "1", "--sequences", "180"],
        "distributed": ["--repeats", "3"],
        "regions": ["--repeats", "3"],
        "certify": ["--batch", "4", "--repeats", "3"],
    },
    "quick": {
        "linearize": ["--repeats", "2"],
        "gradients": ["--repeats", "1", "--loop-units", "16"],
        "training": ["--repeats", "2", "--fast-repeats", "8", "--steps", "2"],
        "conversion": ["--only", "resnet_basic,squeezenet,googlenet,mobilenet_v2"],
        "sequences": ["--repeats", "1", "--sequences", "90", "--hidden", "64"],
        "distributed": ["--repeats", "2", "--points", "512"],
        "regions": ["--repeats", "1"],
        "certify": ["--batch", "2", "--repeats", "1"],
    },
    "smoke": {
        "linearize": ["--repeats", "1", "--batch", "2", "--cnn-repeats", "1", "--cnn-batch",
                      "2"],
        "gradients": ["--repeats", "1", "--loop-units", "2", "--only", "mlp", "--batch", "2"],
        "training": ["--repeats", "1", "--fast-repeats", "1", "--steps", "1", "--batch", "2"],
        "conversion": ["--only", "squeezenet", "--size", "32"],
        "sequences": ["--repeats", "1", "--sequences", "3", "--hidden", "4"],
        "distributed": ["--repeats", "1", "--points", "16", "--batch", "8"],
        "regions": ["--repeats", "1", "--slice-widths", "8", "--explore-widths", "4"],
        "certify": ["--batch", "1", "--repeats", "1", "--only", "resnet_2b"],
    },
}
#: whether the script takes --device (linearize is numpy-only) and --threads
FLAGS = {"linearize": (False, False), "gradients": (True, False),
         "training": (True, True), "conversion": (True, True), "certify": (True, True),
         "regions": (False, False), "sequences": (True, True), "distributed": (True, False)}


def resolve_device(name: str) -> str:
    """``auto`` is cuda when torch sees a GPU, else cpu; others pass through."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def plan(mode: str, device: str, threads: int, only: list[str]) -> dict[str, list[str]]:
    """The argument list of each selected benchmark's script."""
    plans = {}
    for name in only:
        takes_device, takes_threads = FLAGS[name]
        argv = list(MODES[mode][name])
        if takes_device:
            argv += ["--device", device]
        if takes_threads:  # keep one thread count for the whole run
            argv += ["--threads", str(threads)]
        plans[name] = argv
    return plans


def _jsonable(value):
    if hasattr(value, "item"):  # numpy and torch scalars
        return value.item()
    return str(value)


def run_one(name: str, argv: list[str]) -> dict:
    """Run one benchmark's ``run``; its error, if any, is recorded, not raised."""
    start = time.perf_counter()
    try:
        module = importlib.import_module(f"bench_{name}")
        record = module.run(module.build_parser().parse_args(argv))
    except Exception as error:  # a failing benchmark must not stop the others
        traceback.print_exc(file=sys.stderr)
        record = {"error": f"{type(error).__name__}: {error}"}
    record = {"seconds": time.perf_counter() - start, "args": argv, **record}
    status = f"FAILED ({record['error']})" if "error" in record else "ok"
    print(f"[run_all] {name}: {record['seconds']:.1f} s, {status}", file=sys.stderr, flush=True)
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto")
    speed = parser.add_mutually_exclusive_group()
    speed.add_argument("--quick", action="store_true", help="fewer repeats")
    speed.add_argument("--smoke", action="store_true",
                       help="smallest settings: checks that everything runs")
    parser.add_argument("--only", default=",".join(FLAGS),
                        help=f"comma-separated subset of {','.join(FLAGS)}")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",")]
    unknown = sorted(set(only) - set(FLAGS))
    if unknown:
        parser.error(f"--only: unknown benchmark(s) {unknown}; choose from {list(FLAGS)}")
    mode = "smoke" if args.smoke else "quick" if args.quick else "default"
    device, threads = resolve_device(args.device), torch.get_num_threads()
    result = {"device": device, "torch": torch.__version__, "threads": threads,
              "load_average": list(os.getloadavg()),
              "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
                  timespec="seconds"), "mode": mode}
    start = time.perf_counter()
    result["benchmarks"] = {name: run_one(name, script_args)
                            for name, script_args in plan(mode, device, threads, only).items()}
    result["seconds"] = time.perf_counter() - start
    for name, record in result["benchmarks"].items():
        for ratio, value in record.get("ratios", {}).items():
            print(f"{name:11s} {ratio:40s} {value:9.3f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=_jsonable) + "\n")
    failed = [name for name, record in result["benchmarks"].items() if "error" in record]
    print(f"[run_all] {len(only) - len(failed)} of {len(only)} benchmarks ran in "
          f"{result['seconds']:.1f} s on {device}" + (f"; failed: {failed}" if failed else ""),
          file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
