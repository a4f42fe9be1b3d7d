"""Training-step time of vanilla, full ROLL and approximate ROLL (paper, Table 2).

One step = forward, loss, backward and an SGD (Nesterov) update of the 784-300x4-10 ReLU MLP
at batch 64, as in the paper's MNIST experiment, for
  - vanilla: cross-entropy only;
  - full ROLL: cross-entropy + lam * Eq. 9 with gamma = 100, every gradient exact (D = 784);
  - approximate ROLL: the Eq. 10 estimate from D' = 3 sampled input axes.
All three are timed side by side in one run (best of several repeats, each the mean of a few
steps), with the matrix-product rate of this machine measured in the same run. The floor of
the full step is three times the tangent products every exact method performs: the
[B*D, 300] x [300, 300] products of hidden layers 2-4 (layer 1's Jacobian is W1^T itself;
the output layer carries no unit); forward once and backward twice as much.

Targets (CPU): approximate step <= 2.5x vanilla (paper: 2.3x on a GPU); full step
<= 2 x (3 x floor).

Run: python benchmarks/bench_training.py [--repeats 5] [--steps 3] [--batch 64] [--device cpu]
     [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from plnet.backends.torch import compile
from plnet.backends.torch.losses import regularized_forward
from plnet.demo import relu_mlp

WIDTHS = (784, 300, 300, 300, 300, 10)


def make_step(module, x, y, lam, samples, generator):
    opt = torch.optim.SGD(module.parameters(), lr=0.01, momentum=0.5, nesterov=True)

    def step():
        opt.zero_grad(set_to_none=True)
        if lam:  # as fit does: the logits come from the regularizer's own forward pass
            logits, reg = regularized_forward(module, x, C=1.0, gamma=100, samples=samples,
                                              generator=generator)
            loss = torch.nn.functional.cross_entropy(logits, y) + lam * reg
        else:
            loss = torch.nn.functional.cross_entropy(module(x), y)
        loss.backward()
        opt.step()

    return step


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def interleaved_best(fns, repeats, steps, device):
    """Best mean time per call of each function, timed round-robin so that load spikes on a
    shared machine hit every setting alike."""
    for fn in fns.values():
        fn()  # warm up (allocations, plans)
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync(device)
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            sync(device)
            best[name] = min(best[name], (time.perf_counter() - t0) / steps)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    net = relu_mlp(WIDTHS)
    d, b = WIDTHS[0], args.batch
    x = torch.randn(b, d, device=device)
    y = torch.randint(0, WIDTHS[-1], (b,), device=device)

    fns = {}
    for name, lam, samples in (("vanilla", 0.0, None), ("ROLL full (gamma=100)", 1.0, None),
                               ("ROLL approx (D'=3)", 1.0, 3)):
        module = compile(net, device=device)  # fresh parameters and optimizer per setting
        fns[name] = make_step(module, x, y, lam, samples, torch.Generator().manual_seed(0))
    # the tangent products' shape: [B*D, 300] x [300, 300], float32
    a = torch.randn(b * d, WIDTHS[1], device=device)
    w = torch.randn(WIDTHS[1], WIDTHS[1], device=device)
    fns["torch.mm"] = lambda: torch.mm(a, w)
    times = interleaved_best(fns, args.repeats, args.steps, device)
    rate = 2 * b * d * WIDTHS[1] * WIDTHS[1] / times.pop("torch.mm")
    hidden = WIDTHS[1:-1]
    flops = sum(2 * b * d * n_in * n_out for n_in, n_out in zip(hidden[:-1], hidden[1:]))
    floor = flops / rate
    vanilla = times["vanilla"]
    print(f"training step, {'-'.join(map(str, WIDTHS))} MLP, batch {b}, N={net.num_units}, "
          f"D={d}, {device.type}, {torch.get_num_threads()} threads "
          f"(best of {args.repeats} x {args.steps} steps; load average "
          f"{os.getloadavg()[0]:.1f})")
    print(f"  {'setting':24s} {'ms/step':>10s} {'vs vanilla':>11s}")
    for name, seconds in times.items():
        print(f"  {name:24s} {seconds * 1e3:10.1f} {seconds / vanilla:10.2f}x")
    print(f"  torch.mm rate {rate / 1e9:.1f} GFLOP/s; tangent products {flops / 1e9:.1f} GFLOP "
          f"-> floor {floor * 1e3:.1f} ms, 3 x floor {3 * floor * 1e3:.1f} ms")
    approx_ratio = times["ROLL approx (D'=3)"] / vanilla
    full_ratio = times["ROLL full (gamma=100)"] / (3 * floor)
    print(f"  approx / vanilla        {approx_ratio:6.2f}   (target <= 2.5; paper 2.3 on a GPU)")
    print(f"  full / (3 x floor)      {full_ratio:6.2f}   (target <= 2)")


if __name__ == "__main__":
    main()
