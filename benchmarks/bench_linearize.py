"""Reference linearization against the matrix products it must at least perform.

The numpy reference computes every unit's exact input-gradient of a 784-300x4-10 ReLU MLP
at 64 points. Whatever the method, that needs, per hidden layer after the first, one product
of the [B*D, 300] Jacobian with the layer's weights (the first layer's Jacobian is W1^T
itself). The floor times exactly that chain of numpy products, on the same machine, side by
side; the script prints ours / floor (target: under 2).

The second case is the receptive-field saving (plnet.analysis.patches) on bench_gradients'
CNN (1x28x28 -> conv 16 k4 s2 -> ReLU -> avg pool 2 -> conv 32 k4 s2 -> ReLU -> dense 100 ->
ReLU -> dense 10) at 32 points: linearize with patches and with the patches switched off
(every tangent over all D = 784 axes), timed in turns; it prints dense / patched. Both
write the [B, D, N] result once; a fill of that much memory, timed in the same turns, is
printed beside them (the part of both that no saving removes).

Run: python benchmarks/bench_linearize.py [--repeats 5] [--batch 64] [--cnn-repeats 2]
     [--cnn-batch 32]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import plnet
from plnet.analysis import patches
from plnet.demo import relu_mlp

from bench_gradients import cnn_network


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
    parser.add_argument("--cnn-repeats", type=int, default=2)
    parser.add_argument("--cnn-batch", type=int, default=32)
    return parser


def linearize_dense(net, x):
    """``plnet.linearize`` with the receptive-field patches switched off."""
    saved = patches.PATCH_FRACTION
    patches.PATCH_FRACTION = 0.0
    try:
        return plnet.linearize(net, x)
    finally:
        patches.PATCH_FRACTION = saved


def cnn_row(args) -> dict:
    """Patched and dense linearize of the CNN, in turns (best of ``--cnn-repeats``)."""
    net, _ = cnn_network(np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=(args.cnn_batch,) + net.input_shape)
    patched, dense = plnet.linearize(net, x), linearize_dense(net, x)
    err = float(np.abs(patched.grad - dense.grad).max() / (1 + np.abs(dense.grad).max()))
    del patched, dense
    shape = (args.cnn_batch, net.input_size, net.num_units)
    fns = {"patched": lambda: plnet.linearize(net, x),
           "dense": lambda: linearize_dense(net, x),
           "fill": lambda: np.empty(shape).fill(0.0)}
    times = {name: [] for name in fns}
    for _ in range(args.cnn_repeats):  # in turns, so that load spikes hit all alike
        for name, fn in fns.items():
            times[name].append(best_of(fn, 1))
    return {"case": "cnn", "batch": args.cnn_batch, "units": net.num_units,
            **{name: min(t) for name, t in times.items()}, "max_rel_diff": err}


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
    cnn = cnn_row(args)
    return {"device": "cpu (numpy)",
            "ratios": {"ours / floor": ours / floor,
                       "cnn dense / patched": cnn["dense"] / cnn["patched"]},
            "table": [{"widths": list(widths), "batch": args.batch, "units": net.num_units,
                       "ours": ours, "floor": floor, "gflops_floor": flops / floor / 1e9},
                      cnn]}


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
    cnn = r["table"][1]
    print(f"reference linearization, CNN 1x28x28 (bench_gradients), batch {cnn['batch']}, "
          f"N={cnn['units']}, D=784 (best of {args.cnn_repeats}, in turns)")
    print(f"  patched (receptive fields)  {cnn['patched'] * 1e3:9.1f} ms")
    print(f"  dense (patches off)         {cnn['dense'] * 1e3:9.1f} ms")
    print(f"  fill of the fresh result    {cnn['fill'] * 1e3:9.1f} ms   (in both)")
    print(f"  ratio dense / patched       {r['ratios']['cnn dense / patched']:9.2f}   "
          f"(gradients agree to {cnn['max_rel_diff']:.1e})")


if __name__ == "__main__":
    main()
