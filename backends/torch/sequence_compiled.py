"""Compile a :class:`plnet.sequence.SequenceModel`: one parameter set for every length.

The module holds ONE ``nn.ParameterDict``; the network unrolled at each length is compiled
on first use onto that same dict and cached, so a training step at any length updates the
parameters every length reads. Only the shared dict is registered: the state dict (and so
a checkpoint) is the same whichever lengths have been compiled.
"""

from __future__ import annotations

import math

import torch

from plnet.backends.torch.compiled import (CompiledNetwork, DeviceAnchored, parameter_dict,
                                           resolve_device)
from plnet.backends.torch.sequence_batches import TorchSequenceBatch


class CompiledSequence(DeviceAnchored):
    """A sequence model as a torch module (see :func:`compile_sequence`).

    Attributes:
        model: the source :class:`plnet.sequence.SequenceModel` (its parameters are not
            updated by training; :meth:`to_sequence_model` has the current ones).
        params: the shared ``nn.ParameterDict`` (keys: escaped IR parameter names).
        feature_shape: per-step feature shape.
        min_length, max_length: the lengths the model accepts (max None: any).

    Example:
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> model = plnet.sequence.elman({"wi": np.eye(1), "wh": np.eye(1)},
        ...                              [{"weight_ih": "wi", "weight_hh": "wh"}])
        >>> module = pt.compile(model, dtype=torch.float64, device="cpu")
        >>> module([np.array([[1.0], [0.5]]), np.array([[2.0]])]).tolist()   # T = 2 and 1
        [[1.5], [2.0]]
        >>> type(module.at(2)).__name__, sorted(module.to_sequence_model().params)
        ('CompiledNetwork', ['wh', 'wi'])
    """

    def __init__(self, model, device, dtype):
        super().__init__()
        self.anchor(device, dtype)
        self.model = model
        self.params = parameter_dict(model.params, device, dtype)
        self.feature_shape = tuple(model.feature_shape)
        self.min_length, self.max_length = int(model.min_length), model.max_length
        self._lengths = {}  # length -> CompiledNetwork; not registered (see the module doc)

    # --- lengths -------------------------------------------------------------------------
    def check_length(self, length) -> int:
        """``length`` as an int the model accepts, else :class:`plnet.ShapeError`."""
        return self.model.check_length(length)

    def at(self, length: int) -> CompiledNetwork:
        """The network unrolled at ``length``, compiled onto the shared parameters (cached)."""
        length = self.check_length(length)
        compiled = self._lengths.get(length)
        if compiled is None or compiled.dtype != self.dtype or compiled.device != self.device:
            # after .to(), the cached modules still see the moved parameters (moved in
            # place) but their own dtype/device anchor is stale: compile again
            compiled = CompiledNetwork(self.model.unroll(length), self.device, self.dtype,
                                       params=self.params)
            self._lengths[length] = compiled
        return compiled

    @property
    def compiled_lengths(self) -> tuple[int, ...]:
        """The lengths compiled so far."""
        return tuple(sorted(self._lengths))

    def release_workspace(self) -> None:
        """Free the gradient engines' buffers of every compiled length."""
        for compiled in self._lengths.values():
            compiled.release_workspace()

    def __getstate__(self):
        # pickles recompile lengths on demand rather than carry every unrolled net
        state = dict(self.__dict__)
        state["_lengths"] = {}
        return state

    def __deepcopy__(self, memo):
        # the source model is immutable (read-only arrays): the copy shares it, and gets
        # its own copy of the parameters
        twin = CompiledSequence(self.model, self.device, self.dtype)
        twin.load_state_dict(self.state_dict())
        for mine, theirs in zip(self.parameters(), twin.parameters()):
            theirs.requires_grad_(mine.requires_grad)
        return twin.train(self.training)

    # --- parameters ----------------------------------------------------------------------
    @property
    def input_size(self) -> int:
        """D at the shortest length the model accepts (bounds Eq. 10's ``samples``)."""
        return self.min_length * math.prod(self.feature_shape)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Per-sample output shape (the shortest length's)."""
        return tuple(self.at(self.min_length).output_shape)

    def param_tensors(self) -> dict[str, torch.Tensor]:
        """IR parameter name -> its shared ``nn.Parameter``."""
        return self.at(self.min_length).param_tensors()

    def to_sequence_model(self):
        """A :class:`plnet.sequence.SequenceModel` with the current parameters (float64)."""
        return self.model.with_params({name: p.detach().cpu().double().numpy()
                                       for name, p in self.param_tensors().items()})

    def to_network(self):
        """The trained model as its source was given: :meth:`to_sequence_model`."""
        return self.to_sequence_model()

    # --- evaluation ----------------------------------------------------------------------
    def batch(self, x, lengths=None) -> TorchSequenceBatch:
        """``x`` (a list of ``[T_i, *F]`` samples, or padded ``[B, T, *F]`` with
        ``lengths``) grouped by length (see :class:`TorchSequenceBatch`)."""
        return TorchSequenceBatch(x, lengths, self.feature_shape, self.check_length)

    def forward(self, x, lengths=None, return_units: bool = False):
        """Logits ``[B, *output_shape]`` in input order, each from its length's network.

        ``x`` is a list of samples ``[T_i, *F]``, a padded ``[B, T, *F]`` with ``lengths``,
        or a ``[B, T, *F]`` batch of one length. With ``return_units``, also each sample's
        units: a list of ``[N_{T_i}]`` tensors (their number depends on the length).
        """
        batch = self.batch(x, lengths)
        outs, units = [], []
        for length, group in batch.groups(self.device, self.dtype):
            result = self.at(length)(group, return_units=return_units)
            if return_units:
                outs.append(result[0])
                units.extend(result[1].unbind(0))
            else:
                outs.append(result)
        out = batch.restore(outs)
        if not return_units:
            return out
        return out, batch.restore_list(units)

    def extra_repr(self) -> str:
        return (f"features={self.feature_shape}, lengths=[{self.min_length}, "
                f"{self.max_length or 'any'}], params={len(self.params)}, "
                f"compiled={list(self.compiled_lengths)}")


def compile_sequence(model, device="auto", dtype=torch.float32) -> CompiledSequence:
    """Compile a sequence model into one torch module with one shared parameter set.

    Args:
        model: a :class:`plnet.sequence.SequenceModel`.
        device: ``"auto"`` (CUDA when available, else CPU), or any torch device.
        dtype: parameter dtype; ``torch.float64`` matches the numpy reference to round-off.

    Returns:
        A :class:`CompiledSequence`.
    """
    return CompiledSequence(model, resolve_device(device), dtype)
