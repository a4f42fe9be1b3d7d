"""``pack_padded_sequence`` / ``pad_packed_sequence`` for a sequence model.

A sequence model converts every sample at its own length, so inside one unrolled network
every sequence of the batch has the traced length: packing keeps every step and unpacking
gives the padded tensor back. The lengths must be those the model passes (the second
forward argument, :data:`LENGTHS`) or those ``pad_packed_sequence`` returned.
"""

from __future__ import annotations

from torch.nn.utils import rnn as rnn_utils

from plnet.frontends.torch.registry import converts_function
from plnet.frontends.torch.values import LENGTHS, PackedValue, TensorValue


def _check_lengths(lower, lengths):
    if lengths is not LENGTHS:
        raise lower.unsupported(f"pack_padded_sequence needs the batch's own lengths (the "
                                f"forward's second argument, which a sequence model passes; "
                                f"convert with sequence_axis=...), got {lengths!r}")


@converts_function(rnn_utils.pack_padded_sequence)
def convert_pack_padded_sequence(lower, node, x, lengths, batch_first=False,
                                 enforce_sorted=True):
    _check_lengths(lower, lengths)
    tv = lower.tensor(x, batch_first=False)
    expected = 0 if batch_first else 1
    if tv.batch_axis != expected or len(lower.shape(tv)) < 2:
        raise lower.unsupported(f"pack_padded_sequence(batch_first={batch_first}) expects "
                                f"the batch at axis {expected} of a [.., T, F] tensor; its "
                                f"input has the batch at axis {tv.batch_axis}")
    return PackedValue(tv)


@converts_function(rnn_utils.pad_packed_sequence)
def convert_pad_packed_sequence(lower, node, sequence, batch_first=False, padding_value=0.0,
                                total_length=None):
    if not isinstance(sequence, PackedValue):
        raise lower.unsupported("pad_packed_sequence needs a packed sequence made by "
                                "pack_padded_sequence or an RNN in the traced module")
    steps = lower.shape(sequence.data)[0]
    if total_length is not None and int(total_length) != steps:
        raise lower.unsupported(f"pad_packed_sequence(total_length={total_length}) pads "
                                f"beyond the sequence's own length {steps}; a sequence model "
                                f"computes each sample at its own length (drop total_length)")
    return TensorValue(sequence.data.node, 0 if batch_first else 1), LENGTHS
