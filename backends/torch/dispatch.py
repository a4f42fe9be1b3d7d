"""The public entry points that take a network or a sequence model alike.

``pt.compile``, ``pt.margins``, ``pt.unit_gradients``, ``pt.certify``,
``pt.roll_regularizer`` and ``pt.regularized_forward`` are the network functions of
:mod:`~plnet.backends.torch.compiled`, :mod:`~plnet.backends.torch.certificates`,
:mod:`~plnet.backends.torch.gradients` and :mod:`~plnet.backends.torch.losses`; given a
:class:`plnet.sequence.SequenceModel` or its compiled module they run the variable-length
versions of :mod:`~plnet.backends.torch.sequence_analyses` instead. This is the one place
that chooses: the functions on either side know nothing of the other.
"""

from __future__ import annotations

import functools
import inspect

import torch

from plnet.backends.torch import certificates, compiled, gradients, losses, sequence_analyses
from plnet.backends.torch.sequence_compiled import CompiledSequence, compile_sequence
from plnet.errors import InvalidInputError

SEQUENCE_NOTE = """
    Sequence models: ``module`` may also be a :class:`plnet.sequence.SequenceModel`
    (compiled here in float64 for this call) or its compiled module (``pt.compile(model)``);
    the inputs are then a list of samples ``[T_i, *F]``, or a padded ``[B, T, *F]`` array
    with ``lengths=[B]``, and each sample gets exactly what the network unrolled at its
    length gives, in input order ({what}).
"""


def is_sequence_model(obj) -> bool:
    """Whether ``obj`` is an uncompiled :class:`plnet.sequence.SequenceModel`."""
    from plnet.sequence import SequenceModel

    return isinstance(obj, SequenceModel)


def as_sequence_module(obj) -> CompiledSequence | None:
    """``obj``'s compiled sequence module (compiling a SequenceModel in float64), or None."""
    if isinstance(obj, CompiledSequence):
        return obj
    if is_sequence_model(obj):
        return compile_sequence(obj, dtype=torch.float64)
    return None


def accepts_sequences(network_fn, sequence_fn, what: str):
    """``network_fn`` extended to sequence models by ``sequence_fn`` (same arguments, plus
    a keyword ``lengths`` for padded inputs)."""

    @functools.wraps(network_fn)
    def public(module, *args, lengths=None, **kwargs):
        sequence_module = as_sequence_module(module)
        if sequence_module is not None:
            return sequence_fn(sequence_module, *args, lengths=lengths, **kwargs)
        if lengths is not None:
            raise InvalidInputError(f"lengths is for sequence models; {network_fn.__name__} "
                                    f"got a {type(module).__name__}")
        return network_fn(module, *args, **kwargs)

    signature = inspect.signature(network_fn)
    lengths = inspect.Parameter("lengths", inspect.Parameter.KEYWORD_ONLY, default=None)
    public.__signature__ = signature.replace(
        parameters=list(signature.parameters.values()) + [lengths])
    public.__doc__ = (network_fn.__doc__ or "") + SEQUENCE_NOTE.format(what=what)
    return public


def compile(model, device="auto", dtype=torch.float32):  # noqa: A001 - public name
    """Compile a network or a sequence model into a torch module.

    Args:
        model: a :class:`plnet.Network`, or a :class:`plnet.sequence.SequenceModel` (one
            module whose single parameter set serves every length; see
            :class:`~plnet.backends.torch.sequence_compiled.CompiledSequence`).
        device: ``"auto"`` (CUDA when available, else CPU), or any torch device.
        dtype: parameter dtype; ``torch.float64`` matches the numpy reference to round-off.

    Returns:
        A :class:`~plnet.backends.torch.compiled.CompiledNetwork` or a
        :class:`~plnet.backends.torch.sequence_compiled.CompiledSequence`.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> module = pt.compile(net, dtype=torch.float64)
        >>> module(torch.tensor(x)).tolist()         # an nn.Module: logits [B, *output_shape]
        [[0.5]]
    """
    if is_sequence_model(model):
        return compile_sequence(model, device=device, dtype=dtype)
    return compiled.compile(model, device=device, dtype=dtype)


margins = accepts_sequences(certificates.margins, sequence_analyses.sequence_margins,
                            "margins ``[B]``")
unit_gradients = accepts_sequences(
    gradients.unit_gradients, sequence_analyses.sequence_unit_gradients,
    "lists of ``z [N_T]`` and ``grad [N_T, K]``, as the unit count and D depend on T")
certify = accepts_sequences(
    certificates.certify, sequence_analyses.sequence_certify,
    "``data`` is the sequences or a ``(sequences, labels)`` pair; #CLR bounds are summed "
    "over lengths, whose regions lie in different input spaces")
roll_regularizer = accepts_sequences(
    losses.roll_regularizer, sequence_analyses.sequence_roll_regularizer,
    "the regularizer is the mean over all samples, so the sample-weighted mean of the "
    "per-length ones; Eq. 10's axes are drawn once per length")
regularized_forward = accepts_sequences(
    losses.regularized_forward, sequence_analyses.sequence_regularized_forward,
    "as ``roll_regularizer``; a ``[B, T, *F]`` batch of one length is one group")

__all__ = ["accepts_sequences", "as_sequence_module", "certify", "compile", "is_sequence_model",
           "margins", "regularized_forward", "roll_regularizer", "unit_gradients"]
