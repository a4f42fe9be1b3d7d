"""``from_torch(module, example, sequence_axis=...)``: a torch module as a sequence model.

The module is traced at each length on demand (:mod:`plnet.frontends.torch.concrete_trace`,
so Python loops over the time axis unroll); parameter names come from the module's state
dict, so every length uses the same names and the unrolled networks are tied through the
model's one parameter store. An Elman stack with a readout and a dense head also gets a
serializable recipe (:mod:`plnet.frontends.torch.elman_recipe`).

How the module takes its input (:class:`ModuleInput`): a tensor with the time axis at
``sequence_axis`` (0: ``[T, B, F]``, 1: ``[B, T, F]``); a tensor and the lengths
(``forward(x, lengths)``, e.g. for ``pack_padded_sequence`` inside); or a
``PackedSequence``. Every sample is computed at its own length, which is what the module
gives on that sample alone.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect

import numpy as np
import torch
from torch.nn.utils import rnn as rnn_utils

from plnet.errors import InvalidInputError, UnsupportedOpError
from plnet.frontends.tied import TiedUnroll
from plnet.frontends.torch.convert import lower_traced, parameter_dtype, trace
from plnet.frontends.torch.values import LENGTHS, PackedValue, TensorValue


@dataclasses.dataclass(frozen=True)
class ModuleInput:
    """How a module takes a batch of equal-length sequences ``x`` ``[B, T, *F]``.

    Attributes:
        kind: "tensor", "lengths" (``forward(x, lengths)``) or "packed".
        sequence_axis: the time axis of the tensor the module takes (0 or 1).
    """

    kind: str
    sequence_axis: int

    def args(self, x: torch.Tensor) -> tuple:
        """The forward's arguments for ``x`` ``[B, T, *F]`` (batch first)."""
        lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.int64)
        if self.kind == "packed":
            return (rnn_utils.pack_padded_sequence(x, lengths, batch_first=True,
                                                   enforce_sorted=False),)
        xs = x.transpose(0, 1) if self.sequence_axis == 0 else x
        return (xs, lengths) if self.kind == "lengths" else (xs,)

    def input_value(self, node: str):
        """What the traced first input stands for, given the IR input node."""
        tv = TensorValue(node, 1 if self.sequence_axis == 0 else 0)
        return PackedValue(TensorValue(node, 0)) if self.kind == "packed" else tv

    @property
    def extra_inputs(self) -> tuple:
        return (LENGTHS,) if self.kind == "lengths" else ()


def _required_arguments(module) -> int:
    params = list(inspect.signature(module.forward).parameters.values())
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in params if p.kind in kinds and p.default is inspect.Parameter.empty)


def module_input(module, example, sequence_axis) -> tuple[ModuleInput, list[np.ndarray]]:
    """How ``module`` takes its input, and the example as samples ``[T_i, *F]``."""
    if sequence_axis not in (0, 1):
        raise InvalidInputError(f"sequence_axis={sequence_axis!r}: the time axis must be 0 "
                                f"([T, B, F]) or 1 ([B, T, F]); move it next to the batch")
    required = _required_arguments(module)
    if required > 2:
        raise UnsupportedOpError(f"{type(module).__name__}.forward takes {required} inputs; "
                                 f"a sequence model passes the sequences and, optionally, "
                                 f"their lengths")
    lengths = None
    if isinstance(example, rnn_utils.PackedSequence):
        padded, lengths = rnn_utils.pad_packed_sequence(example, batch_first=True)
        kind = "packed"
    else:
        if isinstance(example, (tuple, list)) and len(example) == 2:
            example, lengths = example
        padded = torch.as_tensor(example)
        if padded.ndim < 3:
            raise InvalidInputError(f"the example has shape {tuple(padded.shape)}; a "
                                    f"sequence model needs [B, T, F] (or [T, B, F])")
        padded = padded.transpose(0, 1) if sequence_axis == 0 else padded
        kind = "lengths" if required == 2 else "tensor"
    padded = padded.detach().cpu().double().numpy()
    lengths = [padded.shape[1]] * padded.shape[0] if lengths is None else \
        [int(n) for n in lengths]
    samples = [padded[i, :n] for i, n in enumerate(lengths)]
    return ModuleInput(kind, sequence_axis), samples


class TracedUnroll:
    """``unroll(T)``: the module traced at length ``T``, lowered to a network."""

    def __init__(self, module, how: ModuleInput, feature_shape, drop_trailing: bool):
        self.module, self.how = module, how
        self.feature_shape = tuple(feature_shape)
        self.drop_trailing = drop_trailing
        self.traced: dict[int, tuple] = {}

    def trace(self, steps: int):
        """``(network, graph module, output fx node)`` at length ``steps``."""
        if steps not in self.traced:
            rng = np.random.default_rng(steps)
            batches = [torch.as_tensor(rng.standard_normal((n, steps) + self.feature_shape))
                       for n in (2, 3)]
            module = self.module
            dtype = parameter_dtype(module) or torch.float32
            gm = trace(module, tuple(self.how.args(b.to(dtype)) for b in batches))
            net, output_fx = lower_traced(module, gm, (steps,) + self.feature_shape,
                                          self.drop_trailing, self.how.input_value,
                                          self.how.extra_inputs, output_batch_first=False)
            self.traced[steps] = (net, gm, output_fx)
        return self.traced[steps]


def check_lengths(samples) -> list[int]:
    """The lengths a conversion is checked at: the example's (at most 3), and two at least."""
    lengths = sorted({len(s) for s in samples})
    picked = sorted({lengths[0], lengths[-1], lengths[len(lengths) // 2]})
    if len(picked) < 2:
        picked.append(picked[0] + 1)
    return picked


def check_sequence_conversion(module, unroll: TracedUnroll, model, lengths, samples, count,
                              seed) -> float:
    """The module and the model agree at every length in ``lengths`` (float64)."""
    from plnet.frontends.torch.check import compare_outputs, reference_output

    rng = np.random.default_rng(seed)
    scale = float(np.mean([np.abs(s).mean() for s in samples])) + 1.0
    worst = 0.0
    for steps in lengths:
        net, gm, output_fx = unroll.trace(steps)
        x = rng.standard_normal((count, steps) + unroll.feature_shape) * scale
        want = reference_output(module, gm, output_fx, x, unroll.how.args)
        want = np.moveaxis(want, net.graph.graph.get("output_batch_axis", 0), 0)
        err = compare_outputs(want, model.unroll(steps)(x), "the converted sequence model",
                              f"at length {steps}")
        worst = max(worst, err)
    return worst


def sequence_from_torch(module, example, *, sequence_axis: int = 1, check: bool = True,
                        check_samples: int = 8, seed: int = 0, drop_trailing: bool = False):
    """A sequence model computing ``module`` on every length (see
    :func:`plnet.from_torch`, whose ``sequence_axis`` leads here).

    Args:
        module: the model (evaluated as is: call ``eval()`` first).
        example: ``[B, T, *F]`` (``[T, B, *F]`` with ``sequence_axis=0``), a pair
            ``(padded, lengths)``, or a ``PackedSequence``.
        sequence_axis: the time axis of the tensor the module takes.
        check, check_samples, seed, drop_trailing: as for :func:`plnet.from_torch`; the
            check runs at the example's shortest and longest lengths (and one more when
            they are equal).

    Returns:
        A :class:`plnet.sequence.SequenceModel`; its ``recipe`` is set when the module is
        an Elman stack plnet recognises, else None (the model re-traces the module).
    """
    from plnet.frontends.torch.elman_recipe import elman_recipe
    from plnet.sequence import SequenceModel

    how, samples = module_input(module, example, sequence_axis)
    feature_shape = samples[0].shape[1:]
    unroll = TracedUnroll(module, how, feature_shape, drop_trailing)
    lengths = check_lengths(samples)
    tied = TiedUnroll(lambda steps: unroll.trace(steps)[0], lengths,
                      f"{type(module).__name__} traced")
    model = elman_recipe(module, unroll, lengths) or SequenceModel(tied, tied.params,
                                                                   feature_shape)
    if check:
        check_sequence_conversion(copy.deepcopy(module), unroll, model, lengths, samples,
                                  check_samples, seed)
    return model
