"""Certification throughput on convolutional networks, against its floor and the old path.

``plnet.backends.torch.certify`` (l1, l2 and l_inf margins, #CLR bounds) of a ResNet of
VNN-COMP ``resnet_2b``'s shape (CIFAR 3x32x32, two residual blocks, N=6244, D=3072) and of
a Conv-MaxPool net, float32, printed as points per second. Side by side in one run
(interleaved repeats, medians):

- ours: certify as it is;
- old: the same call the way certify ran before: all D one-hot tangents through every
  layer in chunks of the whole 1 GiB budget, norms over the strided ``[B, n, D]`` view
  (``--no-old`` skips it);
- floor: the FLOPs of D tangents through the frozen network at this machine's conv rate,
  measured in the same run: every convolution and dense layer is timed on 256 tangent
  images of its input (channels-last) and charged for the ``D`` per point it must run
  (``D`` once, for all points, before the first pattern op, where tangents are shared).

Targets: ours >= 3x old's throughput, ours <= 2x the floor.

Run: python benchmarks/bench_certify.py [--batch 8] [--repeats 3] [--only resnet_2b,...]
     [--device cpu] [--threads N] [--no-old]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
import warnings
from unittest import mock

import numpy as np
import torch

from plnet.backends import torch as pt
from plnet.backends.torch.lowerings import ConvLowering, DenseLowering
from plnet.backends.torch.sinks import NormSink

from cert_nets import conv_maxpool, resnet_2b
from devices import sync

NETS = {"resnet_2b": resnet_2b, "conv_maxpool": conv_maxpool}
FLOOR_IMAGES = 256


class _NoPatches:
    pattern_steps = ()


@contextlib.contextmanager
def old_norms():
    """Certify's previous path: dense tangents of all D axes through every layer (no
    receptive-field patches), the sink taking ``[B, n, D]`` views only, in chunks of the
    whole workspace budget (no cache-sized chunks)."""
    with mock.patch.object(NormSink, "put_tangents", None), \
            mock.patch("plnet.backends.torch.gradients.patch_plan", lambda module: _NoPatches), \
            mock.patch("plnet.backends.torch.gradients.CPU_NODE_BYTES", 1 << 62):
        yield


def layer_floor(module, batch, repeats, device) -> tuple[float, float]:
    """``(seconds per point, FLOPs per point)`` of D tangents through every conv/dense."""
    d, params = module.input_size, module.param_tensors()
    shared, seconds, flops = True, 0.0, 0.0
    with torch.no_grad():
        for step in module.steps:
            low = step.lowering
            if low.carries_pattern:
                shared = False
                continue
            if not isinstance(low, (ConvLowering, DenseLowering)):
                continue
            x = torch.randn((FLOOR_IMAGES,) + low.in_shapes[0], dtype=module.dtype,
                            device=device)
            if x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            low.linear([x], params)
            times = []
            for _ in range(repeats):
                sync(device)
                t0 = time.perf_counter()
                low.linear([x], params)
                sync(device)
                times.append(time.perf_counter() - t0)
            images = d / batch if shared else d  # per point
            seconds += statistics.median(times) / FLOOR_IMAGES * images
            weight = params[low.op.weight]
            out = int(np.prod(low.out_shape))
            per_image = 2 * out * weight[0].numel()  # multiply-adds of one output element
            flops += per_image * images
    return seconds, flops


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default=",".join(NETS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-old", action="store_true", help="skip the old path")
    return parser


def run(args) -> dict:
    """Points per second of ours and old, the floor, ratios; table: one row per network."""
    if args.threads:
        torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    device = torch.device(args.device)
    ratios, table = {}, []
    for name in args.only.split(","):
        net = NETS[name]()
        module = pt.compile(net, device=device)
        x = torch.randn((args.batch,) + net.input_shape,
                        generator=torch.Generator().manual_seed(0)).to(device)
        paths = {"ours": contextlib.nullcontext}
        if not args.no_old:
            paths["old"] = old_norms
        times = {path: [] for path in paths}
        floors = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # certify's float32 precision note
            for path, ctx in paths.items():
                with ctx():
                    pt.certify(module, x, progress=False)  # warm up (plans, workspace)
            for _ in range(args.repeats):
                for path, ctx in paths.items():
                    with ctx():
                        sync(device)
                        t0 = time.perf_counter()
                        pt.certify(module, x, progress=False)
                        sync(device)
                        times[path].append(time.perf_counter() - t0)
                floors.append(layer_floor(module, args.batch, 3, device))
        floor = statistics.median(f[0] for f in floors)
        flops = floors[0][1]
        row = {"net": name, "batch": args.batch, "units": net.num_units,
               "inputs": net.input_size, "floor_s_per_point": floor,
               "floor_gflop_per_point": flops / 1e9}
        for path in paths:
            per_point = statistics.median(times[path]) / args.batch
            row[f"{path}_s_per_point"] = per_point
            row[f"{path}_points_per_s"] = 1 / per_point
        ratios[f"{name} ours / floor"] = row["ours_s_per_point"] / floor
        if "old" in paths:
            ratios[f"{name} ours / old throughput"] = (row["old_s_per_point"]
                                                       / row["ours_s_per_point"])
        table.append(row)
    return {"device": device.type, "ratios": ratios, "table": table, "load_average": load}


def main(argv=None):
    args = build_parser().parse_args(argv)
    r = run(args)
    print(f"certify (l1, l2, l_inf margins + #CLR), float32, {r['device']}, "
          f"{torch.get_num_threads()} threads, batch {args.batch}, median of {args.repeats} "
          f"interleaved repeats, load average {r['load_average']:.1f}")
    print(f"{'net':13s} {'N':>6s} {'D':>5s} | {'ours pt/s':>9s} {'old pt/s':>9s} "
          f"{'ours/old':>8s} | {'floor s/pt':>10s} {'GFLOP/pt':>8s} {'ours/floor':>10s}")
    for row in r["table"]:
        old = row.get("old_points_per_s")
        gain = r["ratios"].get(f"{row['net']} ours / old throughput")
        print(f"{row['net']:13s} {row['units']:6d} {row['inputs']:5d} | "
              f"{row['ours_points_per_s']:9.2f} "
              f"{(f'{old:9.2f}' if old else '        -')} "
              f"{(f'{gain:7.2f}x' if gain else '       -')} | "
              f"{row['floor_s_per_point']:10.4f} {row['floor_gflop_per_point']:8.2f} "
              f"{r['ratios'][row['net'] + ' ours / floor']:9.2f}x")
    print("floor: D tangents per point through every conv/dense layer, each timed on "
          f"{FLOOR_IMAGES} images in this run. Targets: ours/old >= 3, ours/floor <= 2.")


if __name__ == "__main__":
    main()
