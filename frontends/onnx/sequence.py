"""``from_onnx`` of a file whose time axis is dynamic: a sequence model.

The one input axis besides the batch that the file leaves symbolic is the time axis; it
must be the first axis of a sample (``[N, T, F]``, or ``[T, N, F]`` with ``batch_dim=1``).
The model converts the file with that axis fixed at each length on demand, and the
parameters (named after the file's nodes and initializers) are tied across lengths by
:class:`plnet.frontends.tied.TiedUnroll`. The conversion is checked against onnxruntime at
two lengths.
"""

from __future__ import annotations

import numpy as np

from plnet.errors import ShapeError

#: the lengths a conversion is checked at
CHECK_LENGTHS = (2, 5)
#: ONNX element types of integer inputs (sequence lengths)
INTEGER_TYPES = {6: np.int32, 7: np.int64}


class WholeLengths:
    """The value of an RNN's ``sequence_lens`` graph input in a sequence model: every
    sample's length is the length the file is converted at."""

    def __repr__(self) -> str:
        return "<whole lengths>"


WHOLE_LENGTHS = WholeLengths()


def length_inputs(proto) -> dict[str, type]:
    """Integer graph inputs read only as an RNN's ``sequence_lens``, with their dtypes."""
    readers: dict[str, set] = {}
    for node in proto.graph.node:
        for i, name in enumerate(node.input):
            readers.setdefault(name, set()).add((node.op_type, i))
    found = {}
    for value in proto.graph.input:
        elem = value.type.tensor_type.elem_type
        if elem in INTEGER_TYPES and readers.get(value.name) == {("RNN", 4)}:
            found[value.name] = INTEGER_TYPES[elem]
    return found


def dynamic_time_axis(proto, consts, batch_dim: int | None, source: str):
    """``(input name, ONNX axis)`` of the symbolic time axis, or None when every sample
    axis is fixed."""
    found = []
    for value in proto.graph.input:
        if value.name in consts or not value.type.HasField("tensor_type") or \
                value.type.tensor_type.elem_type in INTEGER_TYPES:
            continue
        dims = list(value.type.tensor_type.shape.dim)
        batch = None if batch_dim is None else batch_dim % max(len(dims), 1)
        if len(dims) - (batch is not None) < 2:
            continue  # a sample [T, F...] has two axes at least: this is no time axis
        for axis, dim in enumerate(dims):
            if axis != batch and not dim.HasField("dim_value"):
                found.append((value.name, axis, batch))
    if not found:
        return None
    if len(found) > 1:
        raise ShapeError(f"{source}: inputs have several symbolic axes besides the batch "
                         f"{[(n, a) for n, a, _ in found]}; plnet reads one, the time axis")
    name, axis, batch = found[0]
    first = 1 if batch == 0 else 0
    if axis != first:
        raise ShapeError(f"{source}: input {name!r} has a symbolic axis {axis}; as a time axis "
                         f"it must be the first axis of a sample (axis {first}); pass batch_dim "
                         f"if the batch is elsewhere")
    return name, axis


def with_length(proto, name: str, axis: int, steps: int):
    """A copy of ``proto`` whose input ``name`` has ``steps`` on ``axis``."""
    import onnx

    fixed = onnx.ModelProto()
    fixed.CopyFrom(proto)
    for value in fixed.graph.input:
        if value.name == name:
            dim = value.type.tensor_type.shape.dim[axis]
            dim.Clear()
            dim.dim_value = int(steps)
    return fixed


def sequence_from_onnx(proto, source: str, time: tuple[str, int], convert, check: bool):
    """The sequence model of a file with a dynamic time axis.

    Args:
        proto, source: the model and its name.
        time: ``(input name, axis)`` from :func:`dynamic_time_axis`.
        convert: ``convert(proto, check, steps) -> Network`` at a fixed length.
        check: compare with onnxruntime at :data:`CHECK_LENGTHS`.
    """
    from plnet.frontends.tied import TiedUnroll
    from plnet.sequence import SequenceModel

    name, axis = time
    checked = set()

    def build(steps):
        net = convert(with_length(proto, name, axis, steps), check and steps in CHECK_LENGTHS,
                      steps)
        checked.add(steps)
        return net

    tied = TiedUnroll(build, CHECK_LENGTHS, f"{source}")
    first = tied.network(CHECK_LENGTHS[0])
    feature_shape = first.input_shape[1:]
    model = SequenceModel(tied, tied.params, feature_shape)
    model.source = source
    return model
