"""Certification throughput on 1 and 2 processes (torch.distributed, launched by torchrun).

A 100-200-200-10 ReLU MLP in float64 certifies ``--points`` points (l1, l2, l_inf margins
and #CLR bounds) with :func:`plnet.backends.torch.certify`. One ``torchrun --standalone
--nproc-per-node 2`` launch times, in alternating rounds: rank 0 alone (``distributed=False``,
rank 1 waiting at a barrier), then both ranks sharing the batches (``distributed=True``); the
median of ``--repeats`` rounds each. Process start-up is outside the timings. Both results
are checked equal (margins and bounds) before any figure is printed.

Every process runs one thread, so 2 processes can use 2 cores: on an idle 2-core machine
the ratio approaches 2, less the final gather of margins and first Jacobians to rank 0; on
the shared 2 cores of the CI machine it is whatever the other jobs leave (the point there
is that both give the same certificates). With one GPU per process (``--device cuda``,
one GPU per rank) every rank certifies its own batches on its own device.

Run: python benchmarks/bench_distributed.py [--points 1024] [--batch 64] [--repeats 3]
     [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WIDTHS = (100, 200, 200, 10)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    return parser


def worker(args) -> None:
    """One rank: time the rounds, check the results agree, rank 0 writes the JSON."""
    import torch
    import torch.distributed as dist

    from plnet.backends import torch as pt
    from plnet.backends.torch.distributed import replicas
    from plnet.demo import relu_mlp

    torch.set_num_threads(1)
    ranks = replicas(True, args.device)
    torch.manual_seed(0)
    module = pt.compile(relu_mlp(WIDTHS), device=ranks.device(args.device),
                        dtype=torch.float64)
    x = torch.randn(args.points, WIDTHS[0], dtype=torch.float64)
    times = {"1 process": [], "2 processes": []}
    reports = {}
    for _ in range(args.repeats):
        for name, shared in (("1 process", False), ("2 processes", True)):
            dist.barrier()
            start = time.perf_counter()
            if shared or ranks.rank == 0:
                reports[name] = pt.certify(module, x, batch_size=args.batch, progress=False,
                                           distributed=shared)
            dist.barrier()
            times[name].append(time.perf_counter() - start)
    if ranks.rank == 0:
        one, two = reports["1 process"], reports["2 processes"]
        equal = (all(np.array_equal(one.margins[p], two.margins[p]) for p in one.margins)
                 and tuple(one.regions) == tuple(two.regions))
        (args.worker / "result.json").write_text(json.dumps(
            {"times": times, "equal": equal, "regions": list(one.regions),
             "world_size": ranks.world_size}))


def run(args) -> dict:
    """Launch the 2-process measurement; ratios: throughput of 2 processes over 1."""
    with tempfile.TemporaryDirectory() as folder:
        env = {k: v for k, v in os.environ.items()
               if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc-per-node", "2", str(Path(__file__).resolve()), "--worker", folder,
                   "--points", str(args.points), "--batch", str(args.batch),
                   "--repeats", str(args.repeats), "--device", args.device]
        done = subprocess.run(command, env={**env, "OMP_NUM_THREADS": "1"},
                              capture_output=True, text=True, timeout=1200)
        if done.returncode != 0:
            raise RuntimeError(f"torchrun exited with {done.returncode}: "
                               f"{done.stderr[-2000:]}")
        result = json.loads((Path(folder) / "result.json").read_text())
    if not result["equal"]:
        raise AssertionError("2 processes certified other margins or bounds than 1")
    seconds = {name: statistics.median(t) for name, t in result["times"].items()}
    table = [{"processes": name, "seconds": s, "points_per_second": args.points / s}
             for name, s in seconds.items()]
    ratio = seconds["1 process"] / seconds["2 processes"]
    return {"device": args.device, "ratios": {"2 processes / 1 process throughput": ratio},
            "table": table, "regions": result["regions"], "load_average": os.getloadavg()[0]}


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.worker is not None:
        worker(args)
        return
    r = run(args)
    print(f"certify throughput, {'-'.join(map(str, WIDTHS))} MLP float64, {args.points} "
          f"points, batch {args.batch}, {r['device']} (median of {args.repeats} alternating "
          f"rounds; load average {r['load_average']:.1f}; margins and #CLR bounds "
          f"{r['regions']} equal on 1 and 2 processes)")
    for row in r["table"]:
        print(f"  {row['processes']:12s} {row['seconds']:8.3f} s  "
              f"{row['points_per_second']:10.1f} points/s")
    print(f"  2 processes / 1 process throughput  "
          f"{r['ratios']['2 processes / 1 process throughput']:6.2f}")


if __name__ == "__main__":
    main()
