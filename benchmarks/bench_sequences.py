"""Variable-length sequences: grouping by length against padding to the longest length.

Data of the Japanese Vowels shape (paper, §5.2 and Appendix H): 270 sequences of 12
channels, lengths drawn uniformly in 7..26 (seeded), 9 classes; a single-layer LeakyReLU
Elman RNN (hidden 128) whose last state feeds a dense head. Two pieces of work, each done
both ways, timed side by side in one run (in turns, best of ``--repeats``):

- certify, float64: the l1, l2 and l_inf margins of every sequence. Ours:
  ``pt.certify(pt.compile(model), sequences)``, which groups the sequences by length and
  runs each length's unrolled network once (and also counts #CLR, work the padded side
  skips);
- one ROLL epoch, float32, exact gradients (Eq. 9 with gamma = 100, as the paper trains
  this model), batches of 32, AMSGrad. Ours: ``pt.fit(model, (sequences, labels),
  epochs=1)``, with length-bucketed batches.

The padded baseline right-pads every sequence with zeros to length 26 and runs ONE network
unrolled at 26 on batches of any mix of lengths (the obvious alternative), made exact:
the RNN is causal, so the states h_1..h_T of a sequence of length T are the same whatever
follows; the padded network outputs the head at every step and sequence i reads its logits
at step T_i. The units of steps after T_i are still computed (the cost of padding) but
masked: their gradient norms are set to 0, so they add no constraint to the margin (as any
unit with a zero gradient), and the ROLL loss averages over each sequence's own units.
The gradients along the padded input axes are 0 for every unmasked unit, so the margins
equal the unpadded ones (checked in the run, with the logits and the regularizer).
Padding without the mask is NOT equivalent: the padded steps' units would constrain the
margin and enter the loss; nor is left padding with zeros, since with biases the state
after the zero steps is act(b + ...) != 0, which changes the output and the region.

Run: python benchmarks/bench_sequences.py [--repeats 3] [--sequences 270] [--hidden 128]
     [--device cpu] [--threads 2]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from plnet.backends import torch as pt
from plnet.backends.torch.certificates import margins_from
from plnet.backends.torch.finite import dual_norms
from plnet.backends.torch.gradients import unit_gradient_norms
from plnet.backends.torch.relaxations import hinge_losses
import plnet.sequence as ps

from bench_gradients import interleaved

CHANNELS, CLASSES, MIN_LENGTH, MAX_LENGTH = 12, 9, 7, 26
ALPHA, LAM, C, BATCH = 0.01, 2.0 ** -5, 24.0, 32  # Table 3's first ROLL row: lam, C
PS = (1.0, 2.0, math.inf)
#: agreement of the two ways in float64 (both sum the same products in other orders)
AGREEMENT_RTOL = 1e-9


def vowels_like(n: int, seed: int = 0):
    """``n`` sequences ``[T_i, 12]`` with T_i uniform in 7..26, and labels in 0..8."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(MIN_LENGTH, MAX_LENGTH + 1, size=n)
    labels = rng.integers(0, CLASSES, size=n)
    return [rng.normal(size=(t, CHANNELS)) + 0.1 * y for t, y in zip(lengths, labels)], labels


def rnn_params(hidden: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``nn.RNN``'s initialization (uniform in +-1/sqrt(H)) under its parameter names."""
    rng = np.random.default_rng(seed)
    bound = 1.0 / math.sqrt(hidden)
    shapes = {"weight_ih_l0": (hidden, CHANNELS), "weight_hh_l0": (hidden, hidden),
              "bias_ih_l0": (hidden,), "bias_hh_l0": (hidden,),
              "fc.weight": (CLASSES, hidden), "fc.bias": (CLASSES,)}
    return {name: rng.uniform(-bound, bound, size=shape) for name, shape in shapes.items()}


def sequence_model(params, readout: str = "last"):
    """The RNN and its head; ``readout="sequence"`` applies the head at every step."""
    layers = ps.torch_rnn_layers(1, nonlinearity="leaky_relu", alpha=ALPHA)
    return ps.elman(params, layers, readout=readout, head=[ps.DenseLayer("fc.weight",
                                                                         "fc.bias")])


class Padded:
    """The padded baseline: one network unrolled at the longest length, masked."""

    def __init__(self, model, sequences, dtype, device):
        every_step = sequence_model(model.params, readout="sequence")
        self.module = pt.compile(every_step.unroll(MAX_LENGTH), device=device, dtype=dtype)
        self.x = torch.zeros((len(sequences), MAX_LENGTH, CHANNELS), dtype=dtype, device=device)
        for i, s in enumerate(sequences):
            self.x[i, :len(s)] = torch.as_tensor(s, dtype=dtype)
        self.lengths = torch.tensor([len(s) for s in sequences], device=device)
        slices = self.module.unit_slices
        self.unit_step = torch.cat([torch.full((s.stop - s.start,), t, device=device)
                                    for t, s in ((t, slices[f"l0.h{t}"])
                                                 for t in range(MAX_LENGTH))])

    def valid(self, rows) -> torch.Tensor:
        """``[b, N]``: the units of each sequence's own steps."""
        return self.unit_step[None, :] < self.lengths[rows, None]

    def margins(self, rows, kinds=("max", "sq", "abs")) -> dict:
        x = self.x[rows]
        pattern, norms, _ = unit_gradient_norms(self.module, x, kinds)
        valid = self.valid(rows)
        return {p: margins_from(pattern.z, torch.where(valid, dual_norms(self.module, x, norms,
                                                                          p), 0.0))
                for p in PS}

    def regularized_forward(self, rows):
        """Logits at each sequence's last step and the mean masked ROLL relaxation."""
        pattern, norms, _ = unit_gradient_norms(self.module, self.x[rows], ("sq",))
        valid = self.valid(rows).to(pattern.z.dtype)
        per_point = (hinge_losses(pattern.z, norms["sq"], C) * valid).sum(1) / valid.sum(1)
        logits = pattern.output[torch.arange(len(rows)), self.lengths[rows] - 1]
        return logits, per_point.mean()


def padded_certify(padded: Padded, batch: int):
    with torch.no_grad():
        parts = [padded.margins(torch.arange(i, min(i + batch, len(padded.x))))
                 for i in range(0, len(padded.x), batch)]
    return {p: torch.cat([part[p] for part in parts]) for p in PS}


def padded_epoch(padded: Padded, labels, generator):
    opt = torch.optim.Adam(padded.module.parameters(), lr=1e-3, amsgrad=True)
    y = torch.as_tensor(labels, device=padded.x.device)
    for rows in torch.randperm(len(padded.x), generator=generator).split(BATCH):
        rows = rows.to(padded.x.device)
        opt.zero_grad(set_to_none=True)
        logits, reg = padded.regularized_forward(rows)
        (torch.nn.functional.cross_entropy(logits, y[rows]) + LAM * reg).backward()
        opt.step()


def check_agreement(model, padded64: Padded, sequences):
    """The padded baseline computes what the per-length networks compute (float64)."""
    ours = pt.compile(model, dtype=torch.float64, device=padded64.x.device)
    rows = torch.arange(min(len(sequences), 48), device=padded64.x.device)
    subset = [sequences[i] for i in rows.tolist()]
    theirs = padded64.margins(rows)
    logits, reg = pt.roll_regularizer(ours, subset, C=C, return_logits=True)
    padded_logits, padded_reg = padded64.regularized_forward(rows)
    pairs = [(pt.margins(ours, subset, p=p), theirs[p]) for p in PS]
    pairs += [(logits, padded_logits), (reg, padded_reg)]
    for a, b in pairs:
        torch.testing.assert_close(a.detach(), b.detach(), rtol=AGREEMENT_RTOL, atol=0)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sequences", type=int, default=270)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return parser


def run(args) -> dict:
    """Time certify and one ROLL epoch both ways; ratios padded / ours (> 1: ours faster)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    sequences, labels = vowels_like(args.sequences)
    model = sequence_model(rnn_params(args.hidden))
    padded64 = Padded(model, sequences, torch.float64, device)
    check_agreement(model, padded64, sequences)
    ours64 = pt.compile(model, dtype=torch.float64, device=device)
    ours32 = pt.compile(model, dtype=torch.float32, device=device)
    padded32 = Padded(model, sequences, torch.float32, device)
    generator = torch.Generator().manual_seed(0)
    fns = {
        "certify, ours": lambda: pt.certify(ours64, (sequences, labels), p=PS, batch_size=256,
                                            progress=False),
        "certify, padded": lambda: padded_certify(padded64, 256),
        "ROLL epoch, ours": lambda: pt.fit(ours32, (sequences, labels), epochs=1, lam=LAM, C=C,
                                           optimizer="amsgrad", lr=1e-3, batch_size=BATCH,
                                           eval_margins=False, progress=False),
        "ROLL epoch, padded": lambda: padded_epoch(padded32, labels, generator),
    }
    times = interleaved(fns, args.repeats, device)  # after a warm-up: every length compiled
    ratios = {f"{work} padded / ours": times[f"{work}, padded"] / times[f"{work}, ours"]
              for work in ("certify", "ROLL epoch")}
    lengths = np.array([len(s) for s in sequences])
    table = [{"work": name.split(", ")[0], "way": name.split(", ")[1], "seconds": seconds}
             for name, seconds in times.items()]
    return {"device": device.type, "ratios": ratios, "table": table, "times": times,
            "mean_length": float(lengths.mean()),
            "step_ratio": MAX_LENGTH / float(lengths.mean()),
            "square_ratio": MAX_LENGTH ** 2 / float((lengths ** 2).mean())}


def main(argv=None):
    args = build_parser().parse_args(argv)
    r = run(args)
    print(f"variable-length sequences: {args.sequences} x [7..26, {CHANNELS}], hidden "
          f"{args.hidden}, {r['device']}, {torch.get_num_threads()} threads "
          f"(best of {args.repeats}); mean length {r['mean_length']:.1f}")
    print(f"  {'work':28s} {'seconds':>9s}")
    for name, seconds in r["times"].items():
        print(f"  {name:28s} {seconds:9.3f}")
    for name, value in r["ratios"].items():
        print(f"  {name:28s} {value:9.2f}x")
    print(f"  (padding runs {r['step_ratio']:.2f}x the steps; the exact gradients cost about "
          f"T^2 per sequence, so up to {r['square_ratio']:.2f}x the work)")


if __name__ == "__main__":
    main()
