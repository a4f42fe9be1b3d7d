"""Exact all-unit input-gradients: the torch backend against torch.func and autograd.

Three float32 networks (a 784-300x4-10 ReLU MLP; a CNN 1x28x28 -> conv 16 k4 s2 -> avg pool
2 -> conv 32 k4 s2 -> dense 100 -> dense 10; an unrolled LeakyReLU RNN with T=28, F=28,
H=128 and a dense head). For each, every hidden unit's gradient with respect to every
input axis, ``[B, N, D]``, is computed by

- ours: ``plnet.backends.torch.unit_gradients`` under ``torch.no_grad()``;
- ``vmap(jacrev(units))`` and ``vmap(jacfwd(units))`` from ``torch.func``, where ``units``
  is the plain torch model returning its pre-activations;
- a per-unit autograd loop (``autograd.grad`` of one unit summed over the batch); only a
  subset of the units is timed and the time is extrapolated to all N (printed as such).

All are timed side by side in one run, in turns (best of ``--repeats`` rounds; a call of
over two seconds, a slow baseline, is timed by its warm-up call alone), and checked to
agree (against ``jacfwd``). The floor is the matrix products the computation needs (for
the RNN, each step's products on the input axes it can depend on) at the machine's matmul
rate (``torch.bmm`` of the MLP's shapes, timed in the same rounds) plus
writing the ``[B, N, D]`` result once (a fill of memory of that size fresh from
``torch.empty``). On the CPU a second, lower floor fills fresh memory that numpy maps in
the kernel's huge pages (as plnet's results are): the cheapest fresh fill this machine offers.
The same call writing into one reused buffer (``out=``) is timed too, against a floor
that fills a reused buffer.

Run: python benchmarks/bench_gradients.py [--repeats 3] [--only mlp,cnn,rnn] [--device cpu]
     [--batch B]
"""

from __future__ import annotations

import argparse
import functools
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

import plnet
from plnet.backends.torch import compile, unit_gradients

from devices import sync


def _w(rng, *shape):
    return rng.normal(scale=np.sqrt(2.0 / np.prod(shape[1:])), size=shape)


# --- the three networks, as plnet IR and as plain torch functions of one sample --------
def mlp_case(rng, batch, device):
    widths = (784, 300, 300, 300, 300, 10)
    b = plnet.NetworkBuilder((784,))
    h, layers = b.input, []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        w, bias = _w(rng, n_out, n_in), rng.normal(scale=0.1, size=n_out)
        layers.append((w, bias))
        h = b.dense(h, w, bias)
        if i < len(widths) - 2:
            h = b.relu(h)
    net = b.build(h)
    ts = [(torch.tensor(w, dtype=torch.float32, device=device),
           torch.tensor(c, dtype=torch.float32, device=device))
          for w, c in layers[:-1]]

    def units(x):
        zs, h = [], x
        for w, c in ts:
            z = F.linear(h, w, c)
            zs.append(z)
            h = torch.relu(z)
        return torch.cat(zs)

    flops = sum(2 * batch * 784 * n_out * n_in for n_in, n_out in zip(widths[1:-2], widths[2:-1]))
    return net, units, flops


def cnn_network(rng):
    """The CNN as plnet IR, and its hidden layers' weights ``(w1, c1, w2, c2, w3, c3)``."""
    b = plnet.NetworkBuilder((1, 28, 28))
    w1, c1 = _w(rng, 16, 1, 4, 4), rng.normal(scale=0.1, size=16)
    w2, c2 = _w(rng, 32, 16, 4, 4), rng.normal(scale=0.1, size=32)
    w3, c3 = _w(rng, 100, 128), rng.normal(scale=0.1, size=100)
    w4 = _w(rng, 10, 100)
    h = b.relu(b.conv(b.input, w1, c1, stride=2))        # 16 x 13 x 13
    h = b.avg_pool(h, 2)                                   # 16 x 6 x 6
    h = b.relu(b.conv(h, w2, c2, stride=2))                # 32 x 2 x 2
    h = b.relu(b.dense(b.flatten(h), w3, c3))
    return b.build(b.dense(h, w4)), (w1, c1, w2, c2, w3, c3)


def cnn_case(rng, batch, device):
    net, weights = cnn_network(rng)
    t = [torch.tensor(a, dtype=torch.float32, device=device) for a in weights]

    def units(x):
        z1 = F.conv2d(x.reshape(1, 1, 28, 28), t[0], t[1], stride=2)
        h = F.avg_pool2d(torch.relu(z1), 2)
        z2 = F.conv2d(h, t[2], t[3], stride=2)
        z3 = F.linear(torch.relu(z2).reshape(-1), t[4], t[5])
        return torch.cat([z1.reshape(-1), z2.reshape(-1), z3])

    d = 784
    flops = (2 * d * 16 * 169 * 16                      # conv 1 on the shared one-hot inputs
             + 2 * batch * d * 32 * 4 * 16 * 16        # conv 2 on every tangent
             + 2 * batch * d * 100 * 128)              # dense 100
    return net, units, flops


def rnn_case(rng, batch, device, steps=28, features=28, hidden=128):
    b = plnet.NetworkBuilder((steps, features))
    wih, whh = _w(rng, hidden, features), _w(rng, hidden, hidden) * 0.5
    bih, bhh = rng.normal(scale=0.1, size=hidden), rng.normal(scale=0.1, size=hidden)
    h = b.rnn(b.input, wih, whh, bih, bhh, nonlinearity="leaky_relu", alpha=0.1,
              return_sequences=False)
    net = b.build(b.dense(h, _w(rng, 10, hidden)))
    t = [torch.tensor(a, dtype=torch.float32, device=device) for a in (wih, whh, bih, bhh)]

    def units(x):
        x, zs, h = x.reshape(steps, features), [], None
        for s in range(steps):
            z = F.linear(x[s], t[0], t[2]) + t[3]
            if h is not None:
                z = z + F.linear(h, t[1])
            zs.append(z)
            h = F.leaky_relu(z, 0.1)
        return torch.cat(zs)

    d = steps * features
    # the input products do not depend on the point (no ReLU upstream): done once; the
    # recurrent product into step s (s = 1..steps-1) needs only the s * features input axes
    # that step s - 1 depends on (the rest of its Jacobian is zero)
    flops = (2 * d * hidden * features * steps
             + 2 * batch * hidden * hidden * features * steps * (steps - 1) // 2)
    return net, units, flops


CASES = {"mlp": (mlp_case, 64), "cnn": (cnn_case, 32), "rnn": (rnn_case, 16)}


# --- timing ---------------------------------------------------------------------------------
#: a function whose warm-up call takes this long (``jacrev`` on the CNN and the RNN, never
#: the best baseline) is timed by that call alone: one-time costs are noise at that
#: length, and repeating the seconds-long calls took most of run_all's five minutes
SLOW_CALL_SECONDS = 2.0


def _timed(fn, device):
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def interleaved(fns, repeats, device):
    """Best time of each function, the functions run in turns so that load spikes of a
    shared machine hit all of them alike (after a warm-up call: allocator, kernels)."""
    best = {name: _timed(fn, device) for name, fn in fns.items()}
    slow = {name for name, seconds in best.items() if seconds >= SLOW_CALL_SECONDS}
    best = {name: best[name] if name in slow else math.inf for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            if name not in slow:
                best[name] = min(best[name], _timed(fn, device))
    return best


def _no_grad(fn, *args):
    with torch.no_grad():
        return fn(*args)


def loop_fn(units, flat, n, subset):
    """Per-unit autograd over ``subset`` evenly spread units (time it, then scale by
    n / subset)."""
    picks = np.linspace(0, n - 1, min(subset, n)).astype(int)

    def run():
        x = flat.clone().requires_grad_(True)
        z = torch.vmap(units)(x)
        for j in picks:
            torch.autograd.grad(z[:, j].sum(), x, retain_graph=True)

    return run, n / len(picks)


# --- one case -------------------------------------------------------------------------------
def run_case(name, repeats, loop_units, device, batch=None, seed=0):
    factory, default_batch = CASES[name]
    batch = batch or default_batch
    net, units, flops = factory(np.random.default_rng(seed), batch, device)
    module = compile(net, device=device, dtype=torch.float32)
    x = torch.randn((batch,) + net.input_shape, device=device)
    flat = x.reshape(batch, -1)
    n, d = net.num_units, net.input_size
    jacrev = torch.func.vmap(torch.func.jacrev(units))
    jacfwd = torch.func.vmap(torch.func.jacfwd(units))
    with torch.no_grad():
        _, ours = unit_gradients(module, x)
    ref = jacfwd(flat)  # exact like jacrev, and several times faster here
    err = float((ref - ours).abs().max() / (1 + ref.abs().max()))
    del ref, ours
    loop, loop_scale = loop_fn(units, flat, n, loop_units)
    a, b = (torch.randn(64, 300, k, device=device) for k in (300, 784))
    mm_out = torch.empty(64, 300, 784, device=device)
    # a caller's buffer reused from batch to batch (out=), and the floor's fill of it
    buffers = [torch.empty((batch, n, d), device=device) for _ in range(2)]
    # the cheapest fresh memory: numpy maps large arrays in huge pages (where the kernel
    # offers them); on an accelerator there is no such difference
    fresh_huge = (lambda: torch.from_numpy(np.empty((batch, n, d), np.float32))) \
        if device.type == "cpu" else (lambda: torch.empty((batch, n, d), device=device))
    t = interleaved({
        "ours": lambda: _no_grad(unit_gradients, module, x),
        "ours_out": lambda: _no_grad(functools.partial(unit_gradients, out=buffers[0]),
                                     module, x),
        "mm": lambda: torch.bmm(a, b, out=mm_out),
        "fill": lambda: torch.empty((batch, n, d), device=device).fill_(1.0),
        "fill_huge": lambda: fresh_huge().fill_(1.0),
        "fill_reused": lambda: buffers[1].fill_(1.0),
        "jacrev": lambda: jacrev(flat),
        "jacfwd": lambda: jacfwd(flat),
        "loop": loop,
    }, repeats, device)
    rate = 2 * 64 * 300 * 300 * 784 / t["mm"]
    floor = flops / rate + t["fill"]
    return dict(name=name, batch=batch, n=n, d=d, ours=t["ours"], rev=t["jacrev"],
                fwd=t["jacfwd"], loop=t["loop"] * loop_scale, fill=t["fill"], floor=floor,
                floor_huge=flops / rate + min(t["fill"], t["fill_huge"]),
                ours_out=t["ours_out"], floor_out=flops / rate + t["fill_reused"],
                flops=flops, rate=rate, err=err)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="mlp,cnn,rnn")
    parser.add_argument("--loop-units", type=int, default=64,
                        help="units timed by the per-unit autograd loop (then extrapolated)")
    parser.add_argument("--batch", type=int, default=None,
                        help="points per network (default: 64 mlp, 32 cnn, 16 rnn)")
    parser.add_argument("--device", default="cpu")
    return parser


def run(args) -> dict:
    """Time every case of ``args.only``; ratios: best baseline over ours and ours over the
    floor per network; table: one row per network (seconds, GFLOP/s, relative error)."""
    torch.manual_seed(0)
    device = torch.device(args.device)
    ratios, table = {}, []
    for name in args.only.split(","):
        r = run_case(name.strip(), args.repeats, args.loop_units, device, args.batch)
        r["best_base_over_ours"] = min(r["rev"], r["fwd"], r["loop"]) / r["ours"]
        r["ours_over_floor"] = r["ours"] / r["floor"]
        r["gflops"] = r["flops"] / r["ours"] / 1e9
        ratios[f"{r['name']} best base / ours"] = r["best_base_over_ours"]
        ratios[f"{r['name']} ours / floor"] = r["ours_over_floor"]
        ratios[f"{r['name']} ours / floor with huge pages"] = r["ours"] / r["floor_huge"]
        ratios[f"{r['name']} ours / ours with out="] = r["ours"] / r["ours_out"]
        ratios[f"{r['name']} ours with out= / its floor"] = r["ours_out"] / r["floor_out"]
        table.append(r)
    return {"device": device.type, "ratios": ratios, "table": table}


def main(argv=None):
    args = build_parser().parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, best of "
          f"{args.repeats} interleaved runs (calls over {SLOW_CALL_SECONDS:g} s: one run); "
          f"mm = measured bmm rate 64x[300x300 @ 300x784]")
    header = (f"{'net':4} {'B':>3} {'N':>5} {'D':>4} | {'ours s':>7} {'jacrev':>7} "
              f"{'jacfwd':>7} {'loop*':>8} | {'best base/ours':>14} | {'floor s':>7} "
              f"{'ours/floor':>10} | {'GFLOP/s':>7} {'mm rate':>7} | {'max rel err':>11}")
    print(header)
    print("-" * len(header), flush=True)
    table = run(args)["table"]
    for r in table:
        print(f"{r['name']:4} {r['batch']:>3} {r['n']:>5} {r['d']:>4} | {r['ours']:7.3f} "
              f"{r['rev']:7.3f} {r['fwd']:7.3f} {r['loop']:8.2f} | "
              f"{r['best_base_over_ours']:13.2f}x | {r['floor']:7.3f} "
              f"{r['ours_over_floor']:9.2f}x | {r['gflops']:7.1f} "
              f"{r['rate'] / 1e9:7.1f} | {r['err']:11.1e}")
    print(f"* loop: per-unit autograd timed on {args.loop_units} units, extrapolated to N. "
          f"floor = matmul FLOPs at the measured rate + one fill of a fresh [B, N, D] tensor.")
    print(f"\nthe floor with the cheapest fresh memory: the same fill of memory numpy maps "
          f"in huge pages (on the CPU)")
    print(f"{'net':4} | {'ours s':>7} | {'floor s':>7} {'floor* s':>8} {'ours/floor*':>11}")
    for r in table:
        print(f"{r['name']:4} | {r['ours']:7.3f} | {r['floor']:7.3f} {r['floor_huge']:8.3f} "
              f"{r['ours'] / r['floor_huge']:10.2f}x")
    print(f"\nout=: the same call writing into one [B, N, D] buffer reused from call to "
          f"call; its floor fills a reused buffer")
    print(f"{'net':4} | {'ours s':>7} {'out= s':>7} {'ours/out=':>9} | {'floor s':>7} "
          f"{'out=/floor':>10}")
    for r in table:
        print(f"{r['name']:4} | {r['ours']:7.3f} {r['ours_out']:7.3f} "
              f"{r['ours'] / r['ours_out']:8.2f}x | {r['floor_out']:7.3f} "
              f"{r['ours_out'] / r['floor_out']:9.2f}x")


if __name__ == "__main__":
    main()
