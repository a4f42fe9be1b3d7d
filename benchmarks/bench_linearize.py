"""Reference linearization against the matrix products it must at least perform.

The numpy reference computes every unit's exact input-gradient of a 784-300x4-10 ReLU MLP
at 64 points. Whatever the method, that needs, per hidden layer after the first, one product
of the [B*D, 300] Jacobian with the layer's weights (the first layer's Jacobian is W1^T
itself). The floor times exactly that chain of numpy products, on the same machine, side by
side; the script prints ours / floor (target: under 2).

Run: python benchmarks/bench_linearize.py [--repeats 5] [--batch 64]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import plnet
from plnet.demo import relu_mlp


def floor_chain(weights, batch, d):
    """The bare products: J_l = J_{l-1} @ W_l^T for every layer after the first."""
    j = np.ascontiguousarray(np.broadcast_to(weights[0].T, (batch, d, weights[0].shape[0])))
    j = j.reshape(batch * d, -1)
    t0 = time.perf_counter()
    for w in weights[1:]:
        j = j @ w.T
    return time.perf_counter() - t0


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    return parser


def run(args) -> dict:
    """Time ``plnet.linearize`` and the floor chain (numpy on the CPU whatever the device)."""
    widths = (784, 300, 300, 300, 300, 10)
    net = relu_mlp(widths)
    x = np.random.default_rng(1).normal(size=(args.batch, 784))
    weights = [net.params[f"fc{i}.weight"] for i in range(1, len(widths))]
    plnet.linearize(net, x)  # warm up
    ours = best_of(lambda: plnet.linearize(net, x), args.repeats)
    floor = min(floor_chain(weights, args.batch, 784) for _ in range(args.repeats))
    flops = sum(2 * args.batch * 784 * w.shape[0] * w.shape[1] for w in weights[1:])
    return {"device": "cpu (numpy)", "ratios": {"ours / floor": ours / floor},
            "table": [{"widths": list(widths), "batch": args.batch, "units": net.num_units,
                       "ours": ours, "floor": floor, "gflops_floor": flops / floor / 1e9}]}


def main(argv=None):
    args = build_parser().parse_args(argv)
    r = run(args)
    row = r["table"][0]
    print(f"reference linearization, {'-'.join(map(str, row['widths']))} MLP, batch "
          f"{args.batch}, N={row['units']}, D=784 (best of {args.repeats})")
    print(f"  plnet.linearize      {row['ours'] * 1e3:9.1f} ms")
    print(f"  floor (numpy chain)  {row['floor'] * 1e3:9.1f} ms   "
          f"{row['gflops_floor']:6.1f} GFLOP/s")
    print(f"  ratio ours / floor   {r['ratios']['ours / floor']:9.2f}   (target < 2)")


if __name__ == "__main__":
    main()
