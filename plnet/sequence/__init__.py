"""Sequence models: one tied parameter set, unrolled into a :class:`plnet.Network` per length.

- :class:`SequenceModel`: ``model.unroll(T)`` builds (and caches) the network of one length;
  the analyses (``plnet.margin``, ``linearize``, ``region``, ...) accept a model with a list
  of variable-length samples and give, per sample, what the network of its length gives.
- :func:`elman`: the built-in recipe of stacked (bidirectional) Elman RNNs with a readout and
  a dense head; :func:`register_recipe` adds more kinds.
- :func:`sequence_batch`, :func:`group_by_length`: validate a list of ``[T_i, *F]`` arrays or a
  padded array with lengths, and group the samples by length.
- :func:`stability_bounds`: for every (time step, channel), how far it can move alone inside
  the linear region (the paper's Figure 3).
"""

from plnet.sequence.batching import SequenceBatch, group_by_length, sequence_batch
from plnet.sequence.elman import (READOUTS, DenseLayer, ElmanDirection, ElmanLayer, elman,
                                  torch_rnn_layers)
from plnet.sequence.model import SequenceModel
from plnet.sequence.recipes import RECIPES, register_recipe
from plnet.sequence.stability import StabilityBounds, coordinate_bounds, stability_bounds

__all__ = [
    "DenseLayer", "ElmanDirection", "ElmanLayer", "READOUTS", "RECIPES", "SequenceBatch",
    "SequenceModel", "StabilityBounds", "coordinate_bounds", "elman", "group_by_length",
    "register_recipe", "sequence_batch", "stability_bounds", "torch_rnn_layers",
]
