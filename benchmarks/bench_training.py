"""Training-step time of vanilla, full ROLL and approximate ROLL (paper, Table 2).

One step = forward, loss, backward and an SGD (Nesterov) update of the 784-300x4-10 ReLU MLP
at batch 64, as in the paper's MNIST experiment, for
  - vanilla: cross-entropy only;
  - full ROLL: cross-entropy + lam * Eq. 9 with gamma = 100, every gradient exact (D = 784);
  - approximate ROLL: the Eq. 10 estimate from D' = 3 sampled input axes, written with the
    public API in two ways: the documented one-pass loop
    ``logits, reg = pt.roll_regularizer(module, x, ..., return_logits=True)`` (what fit
    runs) and the two-pass loop ``ce(module(x), y) + lam * pt.roll_regularizer(module, x)``.
The alternative a user would pick without plnet, the same approximate step written by hand
in eager PyTorch on an ``nn.Sequential`` copy of the network (every point's forward row and
k tangent rows through every layer, hand_written_roll.py), is timed beside them, after a
check that it computes plnet's logits and regularizer.
The same approximate rows are timed on a small CNN (1x28x28, two 3x3 conv + ReLU layers of
8 and 16 channels, stride 2, then dense 64 + ReLU and dense 10), which takes the stacked
pass with forward cones (each sampled axis's tangents only on the window of positions its
pixel reaches, backends/torch/cones.py), once more with full-size tangent rows (the cones
off: forward and tangent rows in one call per layer, the path before them), and once
through the general engine (forward pass, then the tangents).
Exact ROLL (D = 784) on the same CNN, every axis on its forward cone, is timed against the
general engine's D one-hot tangents under autograd (the path before the cones).
A CIFAR-sized CNN (3x32x32, 3x3 convolutions of 16, 32 and 64 channels, the last two
stride 2, then dense 128 + ReLU and dense 10) shows the cones where the full-size rows'
convolutions cost most of the step: vanilla, cones, full-size rows and the hand-written
step, fewer repeats (its steps take 20-100 ms).
The settings are timed side by side in one run (best of several repeats, each the mean of
a few steps; the millisecond steps apart from the full one and many more times), with the
matrix-product rate of this machine measured in the same run. The floor of the full step
is three times the tangent products every exact method performs: the [B*D, 300] x
[300, 300] products of hidden layers 2-4 (layer 1's Jacobian is W1^T itself; the output
layer carries no unit); forward once and backward twice as much.

The full-size rows' floor is vanilla + k x the forward and backward (no update) of the
layers after the first ReLU at batch B, timed beside it: each of a point's k full-size
tangent rows pays at least that (before the first ReLU the tangents are shared by the
batch). The MLP's rows are full-size; the CNN's cones do less work than that floor (their
ratio to it is below 1).

Targets: one-pass approximate step <= 2.3x vanilla on the MLP (the paper's GPU figure),
<= 3x on the CNN; full step <= 2 x (3 x floor). For reference the MLP's D'=3 step does
about 2.9x a vanilla step's GEMM work (printed); vanilla's fixed costs (update, loss) and
the better rate of the stacked GEMMs bring the measured ratio under that.

Run: python benchmarks/bench_training.py [--repeats 5] [--fast-repeats 40] [--steps 3]
     [--batch 64] [--device cpu] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from unittest import mock

import numpy as np
import torch

from plnet.backends import torch as pt
from plnet.backends.torch import cones, stacked
from plnet.builder import NetworkBuilder
from plnet.demo import relu_mlp

from devices import sync
from hand_written_roll import (check_hand_written, hand_written_step, sequential_copy,
                               tangent_row_work)

WIDTHS = (784, 300, 300, 300, 300, 10)
APPROX_ONE, APPROX_TWO = "approx D'=3, one pass", "approx D'=3, two passes"
APPROX_ENGINE = "approx D'=3, general engine"
APPROX_ROWS = "approx D'=3, full-size rows"
FULL, FULL_ENGINE = "ROLL full (gamma=100)", "ROLL full, general engine"
HAND_WRITTEN = "approx D'=3, hand-written"
TANGENT_ROWS = "layers after the first ReLU"  # timed for the approximate step's floor
SAMPLES = 3
#: (name, lam, samples, one forward pass for loss and regularizer)
SETTINGS = {"vanilla": (0.0, None, True), "ROLL full (gamma=100)": (1.0, None, True),
            APPROX_ONE: (1.0, SAMPLES, True), APPROX_TWO: (1.0, SAMPLES, False),
            APPROX_ENGINE: (1.0, SAMPLES, True), APPROX_ROWS: (1.0, SAMPLES, True),
            FULL_ENGINE: (1.0, None, True),
            HAND_WRITTEN: (1.0, SAMPLES, True)}


def small_cnn(seed: int = 0):
    """1x28x28 -> conv 3x3/2 (8) -> ReLU -> conv 3x3/2 (16) -> ReLU -> dense 64 -> ReLU -> 10."""
    rng = np.random.default_rng(seed)

    def he(*shape):
        return rng.normal(scale=np.sqrt(2.0 / np.prod(shape[1:])), size=shape)

    b = NetworkBuilder((1, 28, 28))
    h = b.relu(b.conv(b.input, he(8, 1, 3, 3), np.zeros(8), stride=2, padding=1))
    h = b.relu(b.conv(h, he(16, 8, 3, 3), np.zeros(16), stride=2, padding=1))
    h = b.flatten(h)
    h = b.relu(b.dense(h, he(64, b.shape(h)[0]), np.zeros(64)))
    return b.build(b.dense(h, he(10, 64)))


def cifar_cnn(seed: int = 0):
    """3x32x32 -> conv 3x3 (16) -> conv 3x3/2 (32) -> conv 3x3/2 (64), ReLUs -> dense 128 ->
    ReLU -> 10: a CIFAR-sized CNN, where full-size tangent rows cost most of the step."""
    rng = np.random.default_rng(seed)

    def he(*shape):
        return rng.normal(scale=np.sqrt(2.0 / np.prod(shape[1:])), size=shape)

    b = NetworkBuilder((3, 32, 32))
    h = b.relu(b.conv(b.input, he(16, 3, 3, 3), np.zeros(16), padding=1))
    h = b.relu(b.conv(h, he(32, 16, 3, 3), np.zeros(32), stride=2, padding=1))
    h = b.relu(b.conv(h, he(64, 32, 3, 3), np.zeros(64), stride=2, padding=1))
    h = b.flatten(h)
    h = b.relu(b.dense(h, he(128, b.shape(h)[0]), np.zeros(128)))
    return b.build(b.dense(h, he(10, 128)))


def gemm_work_ratio(widths, k: int) -> float:
    """Multiply-adds of a D'=k fused step over a vanilla step's, for a dense chain.

    Vanilla: forward, weight gradient and (above layer 1) input gradient of every layer.
    The fused pass runs the hidden-to-hidden layers on 1 + k row blocks (the tangents'
    slopes differ per point, so nothing is shared); layer 1's tangents are its weight's
    columns and the output layer sees the forward rows only.
    """
    sizes = list(zip(widths[:-1], widths[1:]))
    first, last = sizes[0][0] * sizes[0][1], 3 * sizes[-1][0] * sizes[-1][1]
    hidden = sum(3 * n_in * n_out for n_in, n_out in sizes[1:-1])
    return (2 * first + (1 + k) * hidden + last) / (2 * first + hidden + last)


def make_step(module, x, y, lam, samples, one_pass, generator):
    opt = torch.optim.SGD(module.parameters(), lr=0.01, momentum=0.5, nesterov=True)
    ce = torch.nn.functional.cross_entropy

    def step():
        opt.zero_grad(set_to_none=True)
        if not lam:
            loss = ce(module(x), y)
        elif one_pass:  # the documented loop (and fit's): one forward pass for both terms
            logits, reg = pt.roll_regularizer(module, x, C=1.0, samples=samples,
                                              generator=generator, return_logits=True)
            loss = ce(logits, y) + lam * reg
        else:  # the obvious loop: the task loss runs the network a second time
            loss = ce(module(x), y) + lam * pt.roll_regularizer(module, x, C=1.0,
                                                                samples=samples,
                                                                generator=generator)
        loss.backward()
        opt.step()

    return step


def step_functions(net, x, y, names, device):
    fns = {}
    for name in names:
        lam, samples, one_pass = SETTINGS[name]
        module = pt.compile(net, device=device)  # fresh parameters and optimizer per setting
        if name == HAND_WRITTEN:
            model = sequential_copy(module).to(device)
            check_hand_written(module, model, x, samples)
            fns[name] = hand_written_step(model, x, y, lam, samples,
                                          torch.Generator().manual_seed(0))
            continue
        step = make_step(module, x, y, lam, samples, one_pass, torch.Generator().manual_seed(0))
        fns[name] = {APPROX_ENGINE: general_engine, APPROX_ROWS: full_size_rows,
                     FULL_ENGINE: full_size_rows}.get(name, lambda s: s)(step)
    return fns


def full_size_rows(step):
    """``step`` with the forward cones switched off: full-size tangent rows per layer."""
    def run():
        with mock.patch.object(cones, "MAX_AXES", 0):
            step()
    return run


def general_engine(step):
    """``step`` with the stacked pass switched off: the general engine's two passes."""
    def run():
        with mock.patch.object(stacked, "unsupported_steps", lambda module: ["(off)"]):
            step()
    return run


def print_table(title, times):
    vanilla = times["vanilla"]
    print(title)
    print(f"  {'setting':28s} {'ms/step':>10s} {'vs vanilla':>11s}")
    for name, seconds in times.items():
        print(f"  {name:28s} {seconds * 1e3:10.1f} {seconds / vanilla:10.2f}x")


def interleaved_best(fns, repeats, steps, device, medians=None):
    """Best mean time per call of each function, timed round-robin so that load spikes on a
    shared machine hit every setting alike; ``medians`` (a dict) receives the medians."""
    for fn in fns.values():
        fn()  # warm up (allocations, plans)
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync(device)
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            sync(device)
            times[name].append((time.perf_counter() - t0) / steps)
    if medians is not None:
        medians.update({name: statistics.median(t) for name, t in times.items()})
    return {name: min(t) for name, t in times.items()}


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--fast-repeats", type=int, default=40,
                        help="repeats of the millisecond steps (vanilla, approximate)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return parser


def run(args) -> dict:
    """Time the MLP and CNN steps; ratios against vanilla (and the full step against three
    times its floor), table: one row per network and setting in seconds per step."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    net = relu_mlp(WIDTHS)
    d, b = WIDTHS[0], args.batch
    x = torch.randn(b, d, device=device)
    y = torch.randint(0, WIDTHS[-1], (b,), device=device)
    fast = ("vanilla", APPROX_ONE, APPROX_TWO, HAND_WRITTEN)
    # the millisecond steps are timed apart from the second-long full step, many times, so
    # that the best window of each misses the load spikes of a shared machine
    medians = {"mlp": {}, "cnn": {}}
    fns = step_functions(net, x, y, fast, device)
    fns[TANGENT_ROWS] = tangent_row_work(net, x, device)
    mlp = interleaved_best(fns, args.fast_repeats, args.steps, device, medians["mlp"])
    fns = step_functions(net, x, y, ("ROLL full (gamma=100)",), device)
    # the tangent products' shape: [B*D, 300] x [300, 300], float32
    a = torch.randn(b * d, WIDTHS[1], device=device)
    w = torch.randn(WIDTHS[1], WIDTHS[1], device=device)
    fns["torch.mm"] = lambda: torch.mm(a, w)
    mlp.update(interleaved_best(fns, args.repeats, args.steps, device))
    load = os.getloadavg()[0]
    rate = 2 * b * d * WIDTHS[1] * WIDTHS[1] / mlp.pop("torch.mm")
    hidden = WIDTHS[1:-1]
    flops = sum(2 * b * d * n_in * n_out for n_in, n_out in zip(hidden[:-1], hidden[1:]))
    floor = flops / rate
    cnn = small_cnn()
    xc = torch.randn((b,) + cnn.input_shape, device=device)
    fns = step_functions(cnn, xc, y, fast + (APPROX_ROWS, APPROX_ENGINE), device)
    fns[TANGENT_ROWS] = tangent_row_work(cnn, xc, device)
    cnn_times = interleaved_best(fns, args.fast_repeats, args.steps, device, medians["cnn"])
    # exact ROLL on the CNN: every axis on its forward cone, or the general engine's D
    # one-hot tangents under autograd (the path before the cones), a few single steps
    fns = step_functions(cnn, xc, y, (FULL, FULL_ENGINE), device)
    cnn_times.update(interleaved_best(fns, max(2, args.repeats // 2), 1, device))
    # the CIFAR-sized CNN: steps of 20-100 ms, a few repeats (forward cones against rows)
    cifar = cifar_cnn()
    xs = torch.randn((b,) + cifar.input_shape, device=device)
    fns = step_functions(cifar, xs, y, ("vanilla", APPROX_ONE, APPROX_ROWS, HAND_WRITTEN),
                         device)
    cifar_times = interleaved_best(fns, max(2, args.fast_repeats // 5), args.steps, device)
    ratios_cifar = {f"cifar cnn {name} / vanilla": t / cifar_times["vanilla"]
                    for name, t in cifar_times.items() if name != "vanilla"}
    ratios_cifar[f"cifar cnn {APPROX_ONE} / full-size rows"] = \
        cifar_times[APPROX_ONE] / cifar_times[APPROX_ROWS]
    ratios_cifar[f"cifar cnn {APPROX_ONE} / hand-written"] = \
        cifar_times[APPROX_ONE] / cifar_times[HAND_WRITTEN]
    floors = {}
    for net_name, times in (("mlp", mlp), ("cnn", cnn_times)):
        rows = times.pop(TANGENT_ROWS)
        medians[net_name].pop(TANGENT_ROWS)
        floors[net_name] = times["vanilla"] + SAMPLES * rows
    ratios = {f"{net_name} {name} / vanilla": times[name] / times["vanilla"]
              for net_name, times in (("mlp", mlp), ("cnn", cnn_times))
              for name in times if name != "vanilla"}
    ratios.update({f"{net_name} {name} / vanilla (medians)": times[name] / times["vanilla"]
                   for net_name, times in medians.items()
                   for name in times if name != "vanilla"})
    ratios["mlp full / (3 x floor)"] = mlp["ROLL full (gamma=100)"] / (3 * floor)
    for net_name, times in (("mlp", mlp), ("cnn", cnn_times)):
        ratios[f"{net_name} {APPROX_ONE} / hand-written"] = times[APPROX_ONE] / times[HAND_WRITTEN]
        ratios[f"{net_name} {APPROX_ONE} / its floor"] = times[APPROX_ONE] / floors[net_name]
    ratios[f"cnn {APPROX_ONE} / full-size rows"] = cnn_times[APPROX_ONE] / cnn_times[APPROX_ROWS]
    ratios["cnn full / full by the general engine"] = cnn_times[FULL] / cnn_times[FULL_ENGINE]
    ratios.update(ratios_cifar)
    table = [{"net": net_name, "setting": name, "seconds": seconds,
              "vs_vanilla": seconds / times["vanilla"]}
             for net_name, times in (("mlp", mlp), ("cnn", cnn_times))
             for name, seconds in times.items()]
    return {"device": device.type, "ratios": ratios, "table": table, "mlp": mlp,
            "cnn": cnn_times, "mlp_units": net.num_units, "cnn_units": cnn.num_units,
            "cifar_cnn": cifar_times, "cifar_units": cifar.num_units,
            "rate": rate, "flops": flops, "floor": floor, "load_average": load,
            "medians": medians, "approx_floor": floors}


def main(argv=None):
    args = build_parser().parse_args(argv)
    r = run(args)
    d, b, floor = WIDTHS[0], args.batch, r["floor"]
    print_table(f"training step, {'-'.join(map(str, WIDTHS))} MLP, batch {b}, "
                f"N={r['mlp_units']}, D={d}, {r['device']}, {torch.get_num_threads()} threads "
                f"(best of {args.fast_repeats} or {args.repeats} x {args.steps} steps; load "
                f"average "
                f"{r['load_average']:.1f})", r["mlp"])
    print(f"  torch.mm rate {r['rate'] / 1e9:.1f} GFLOP/s; tangent products "
          f"{r['flops'] / 1e9:.1f} GFLOP -> floor {floor * 1e3:.1f} ms, 3 x floor "
          f"{3 * floor * 1e3:.1f} ms")
    print(f"  approx one pass / vanilla  {r['ratios'][f'mlp {APPROX_ONE} / vanilla']:6.2f}   "
          f"(target <= 2.3, the paper's GPU figure; GEMM work ratio "
          f"{gemm_work_ratio(WIDTHS, 3):.2f})")
    print(f"  approx one pass / hand-written  "
          f"{r['ratios'][f'mlp {APPROX_ONE} / hand-written']:6.2f}")
    print(f"  approx one pass / its floor     "
          f"{r['ratios'][f'mlp {APPROX_ONE} / its floor']:6.2f}   (floor "
          f"{r['approx_floor']['mlp'] * 1e3:.1f} ms: vanilla + {SAMPLES} x the forward "
          f"and backward of the layers after the first ReLU)")
    print(f"  full / (3 x floor)         {r['ratios']['mlp full / (3 x floor)']:6.2f}   "
          f"(target <= 2)")
    print_table(f"training step, small CNN 1x28x28 -> conv8 -> conv16 -> 64 -> 10, batch {b}, "
                f"N={r['cnn_units']}", r["cnn"])
    print(f"  approx one pass / vanilla  {r['ratios'][f'cnn {APPROX_ONE} / vanilla']:6.2f}   "
          f"(target <= 3)")
    print(f"  approx one pass / hand-written  "
          f"{r['ratios'][f'cnn {APPROX_ONE} / hand-written']:6.2f}")
    print(f"  approx one pass / full-size rows  "
          f"{r['ratios'][f'cnn {APPROX_ONE} / full-size rows']:6.2f}   (forward cones "
          f"against full-size tangent rows)")
    print(f"  full (cones) / full by the general engine  "
          f"{r['ratios']['cnn full / full by the general engine']:6.2f}   (exact ROLL: every "
          f"axis on its forward cone, against D one-hot tangents under autograd)")
    print(f"  approx one pass / rows' floor   "
          f"{r['ratios'][f'cnn {APPROX_ONE} / its floor']:6.2f}   (floor "
          f"{r['approx_floor']['cnn'] * 1e3:.1f} ms: vanilla + {SAMPLES} x the forward "
          f"and backward of the layers after the first ReLU, what full-size rows pay)")
    print_table(f"training step, CIFAR-sized CNN 3x32x32 -> conv16 -> conv32 -> conv64 -> 128 "
                f"-> 10, batch {b}, N={r['cifar_units']}", r["cifar_cnn"])
    print(f"  approx one pass / full-size rows  "
          f"{r['ratios'][f'cifar cnn {APPROX_ONE} / full-size rows']:6.2f}   (forward cones "
          f"against full-size tangent rows)")
    print(f"  approx one pass / hand-written  "
          f"{r['ratios'][f'cifar cnn {APPROX_ONE} / hand-written']:6.2f}")
    for net_name, times in r["medians"].items():
        print(f"  {net_name}, medians vs vanilla: " + "; ".join(
            f"{name} {t / times['vanilla']:.2f}x" for name, t in times.items()
            if name != "vanilla"))


if __name__ == "__main__":
    main()
