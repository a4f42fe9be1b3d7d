"""The converter registry: ONNX (op_type, opset range) -> converter function.

A converter is registered with :func:`converter`::

    @converter("Relu", opsets=(6, None))
    def convert_relu(node: NodeContext):
        x = node.tensor(0)
        return node.ctx.emit(ReLU(), [x], node.name, x)

It returns the node's output values (a Tensor, a numpy array for a constant, or a list of
them, one per ONNX output). Ops whose meaning changed across opsets get one function per
range; :func:`lookup` picks the range holding the model's opset.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from plnet.errors import NotPiecewiseLinearError, UnsupportedOpError

#: Oldest default-domain opset the loader accepts.
MIN_OPSET = 7


@dataclasses.dataclass(frozen=True)
class Registration:
    op_type: str
    first: int
    last: int | None  # inclusive; None = open-ended
    function: Callable

    def covers(self, opset: int) -> bool:
        return self.first <= opset and (self.last is None or opset <= self.last)


REGISTRY: dict[str, list[Registration]] = {}

#: Ops that are not piecewise linear, with what to do instead.
NOT_PIECEWISE_LINEAR = {
    "Sigmoid": "replace it by a piecewise-linear activation (ReLU, LeakyReLU), or, if it is "
               "the last op, load with drop_trailing=True (it is monotone, so it does not "
               "change the argmax)",
    "Tanh": "replace it by a piecewise-linear activation (ReLU, LeakyReLU)",
    "Softmax": "if it is the last op, load with drop_trailing=True to certify the logits",
    "LogSoftmax": "if it is the last op, load with drop_trailing=True to certify the logits",
    "HardSwish": "replace it by ReLU",
    "Elu": "replace it by LeakyReLU", "Selu": "replace it by LeakyReLU",
    "Celu": "replace it by LeakyReLU", "Gelu": "replace it by ReLU",
    "Softplus": "replace it by ReLU", "Softsign": "replace it by a piecewise-linear activation",
    "Mish": "replace it by ReLU", "Erf": "replace it by a piecewise-linear activation",
    "Exp": "", "Log": "", "Sqrt": "", "Pow": "", "Reciprocal": "", "Sin": "", "Cos": "",
    "Tan": "", "Asin": "", "Acos": "", "Atan": "", "Sinh": "", "Cosh": "", "Asinh": "",
    "Acosh": "", "Atanh": "", "LRN": "",
    "InstanceNormalization": "it divides by the input's own statistics",
    "LayerNormalization": "it divides by the input's own statistics",
    "GroupNormalization": "it divides by the input's own statistics",
    "LSTM": "use an Elman RNN with ReLU activations", "GRU": "use an Elman RNN with ReLU",
    "Round": "it is discontinuous", "Floor": "it is discontinuous",
    "Ceil": "it is discontinuous", "Sign": "it is discontinuous",
    "ReduceL2": "it is a square root of a sum of squares; ReduceL1 is piecewise linear",
    "ReduceSumSquare": "", "ReduceProd": "", "ReduceLogSum": "",
    "ReduceLogSumExp": "ReduceMax is its piecewise-linear counterpart",
}

#: Ops whose output is random: never constant-folded, never converted.
NONDETERMINISTIC = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike",
                    "Multinomial", "Bernoulli"}


def converter(op_type: str, opsets: tuple[int, int | None] = (1, None)):
    """Decorator registering ``convert_<op>`` for ``op_type`` over an inclusive opset range."""
    first, last = opsets

    def register(function: Callable) -> Callable:
        if not function.__name__.startswith("convert_"):
            raise ValueError(f"converter {function.__name__} must be named convert_<op>")
        for other in REGISTRY.get(op_type, []):
            overlap = first <= (other.last if other.last is not None else 10**9) and \
                other.first <= (last if last is not None else 10**9)
            if overlap:
                raise ValueError(f"converters for {op_type} overlap: {other.function.__name__} "
                                 f"and {function.__name__}")
        REGISTRY.setdefault(op_type, []).append(Registration(op_type, first, last, function))
        return function

    return register


def lookup(op_type: str, opset: int, where: str) -> Callable:
    """The converter for ``op_type`` at ``opset``; raises a plnet error naming the node."""
    _load_converters()
    if op_type in NOT_PIECEWISE_LINEAR:
        hint = NOT_PIECEWISE_LINEAR[op_type] or "plnet certifies piecewise-linear networks only"
        raise NotPiecewiseLinearError(f"{where}: {op_type} is not piecewise linear, so the "
                                      f"network has no exact linear regions; {hint}.")
    entries = REGISTRY.get(op_type)
    if not entries:
        raise UnsupportedOpError(f"{where}: the ONNX op {op_type} has no plnet converter. "
                                 f"Supported ops: {', '.join(sorted(REGISTRY))}. See "
                                 f"frontends/onnx/README.md to add one.")
    for entry in entries:
        if entry.covers(opset):
            return entry.function
    ranges = ", ".join(f"{e.first}..{e.last or 'latest'}" for e in entries)
    raise UnsupportedOpError(f"{where}: {op_type} is supported for opsets {ranges}, not "
                             f"{opset}; re-export the model with a supported opset.")


def supported_ops() -> dict[str, list[tuple[int, int | None]]]:
    """Op type -> the opset ranges it is supported for."""
    _load_converters()
    return {op: [(e.first, e.last) for e in entries] for op, entries in sorted(REGISTRY.items())}


def _load_converters() -> None:
    # importing the package runs every @converter decorator; late, because the converter
    # modules import this registry (a top-level import would be a cycle)
    import plnet.frontends.onnx.converters  # noqa: F401
