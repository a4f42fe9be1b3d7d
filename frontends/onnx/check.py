"""The conversion check: onnxruntime and the IR on the same random inputs."""

from __future__ import annotations

import math

import numpy as np

from plnet.errors import ConversionMismatch, InvalidInputError, require
from plnet.tolerances import ONNX_CHECK_RTOL


def providers() -> list[str]:
    """onnxruntime providers, CUDA first when the installed onnxruntime has it."""
    ort = require("onnxruntime", "onnx", "Checking an ONNX conversion")
    available = ort.get_available_providers()
    return (["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []) + \
        ["CPUExecutionProvider"]


def session(model_bytes: bytes, source: str):
    """An onnxruntime session; errors become plnet errors."""
    ort = require("onnxruntime", "onnx", "Checking an ONNX conversion")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    names = providers()
    # TF32 matmuls (on by default on recent GPUs) round to ~1e-3 and would fail the check
    provider_options = [{"use_tf32": "0"} if n == "CUDAExecutionProvider" else {}
                        for n in names]
    try:
        # onnxruntime's Pad_Fusion folds a zero Pad into a following MaxPool as if the
        # padding were -inf (a different function) and can break its own "pads < kernel"
        # rule; the check wants the model as written
        return ort.InferenceSession(model_bytes, sess_options=options, providers=names,
                                    provider_options=provider_options,
                                    disabled_optimizers=["Pad_Fusion"])
    except Exception as exc:
        raise InvalidInputError(f"{source}: onnxruntime cannot load the model to check the "
                                f"conversion ({type(exc).__name__}: {exc}); pass check=False "
                                f"to skip the check") from None


def _model_with_output(proto, out_name: str):
    """A copy of the model whose only output is ``out_name``."""
    import onnx
    from onnx import helper

    model = onnx.ModelProto()
    model.CopyFrom(proto)
    elem = {o.name: o.type.tensor_type.elem_type for o in proto.graph.output}.get(out_name)
    if elem is None:
        try:
            inferred = onnx.shape_inference.infer_shapes(proto)
            elem = {v.name: v.type.tensor_type.elem_type
                    for v in inferred.graph.value_info}.get(out_name)
        except Exception:
            elem = None
    del model.graph.output[:]
    model.graph.output.append(helper.make_tensor_value_info(out_name, elem or 1, None))
    # keep only what the output needs: onnxruntime asks for every input a kept node reads
    producer = {o: i for i, n in enumerate(proto.graph.node) for o in n.output if o}
    keep, todo = set(), [out_name]
    while todo:
        i = producer.get(todo.pop())
        if i is not None and i not in keep:
            keep.add(i)
            todo.extend(n for n in proto.graph.node[i].input if n)
    used = {n for i in keep for n in proto.graph.node[i].input} | {out_name}
    del model.graph.node[:]
    model.graph.node.extend(n for i, n in enumerate(proto.graph.node) if i in keep)
    del model.graph.input[:]
    model.graph.input.extend(v for v in proto.graph.input if v.name in used)
    return model


def check_against_onnxruntime(proto, net, specs, out_name, out_batch_axis, source,
                              samples: int = 8, seed: int = 0, extra_feeds=None) -> float:
    """Compare the network with onnxruntime; raise ConversionMismatch beyond the tolerance.

    ``extra_feeds``: input name -> ``f(run_size)`` giving the value of an input that is
    not part of the network input (an RNN's sequence lengths).

    Returns:
        The largest absolute difference seen.
    """
    if samples < 1:
        raise InvalidInputError(f"check_samples must be >= 1, got {samples}")
    sess = session(_model_with_output(proto, out_name).SerializeToString(), source)
    batch = specs[0].batch_size if specs[0].batch_axis is not None else 1
    run_size = samples if batch is None else batch
    runs = math.ceil(samples / run_size)
    rng = np.random.default_rng(seed)
    flat = rng.standard_normal((runs * run_size, net.input_size))
    # both sides see the same values: those the file's input type can hold
    sizes = [math.prod(s.sample_shape) for s in specs]
    parts = np.split(flat, np.cumsum(sizes)[:-1], axis=1)
    parts = [p.astype(s.dtype) for p, s in zip(parts, specs)]
    flat = np.concatenate([p.astype(np.float64) for p in parts], axis=1)
    expected = net(flat.reshape((-1,) + net.input_shape)).reshape(runs * run_size, -1)

    got = []
    for r in range(runs):
        feeds = {}
        for part, spec in zip(parts, specs):
            chunk = part[r * run_size:(r + 1) * run_size].reshape((run_size,) + spec.sample_shape)
            feeds[spec.name] = (chunk[0] if spec.batch_axis is None
                                else np.moveaxis(chunk, 0, spec.batch_axis))
        feeds.update({name: make(run_size) for name, make in (extra_feeds or {}).items()})
        try:
            (out,) = sess.run([out_name], feeds)
        except Exception as exc:
            raise InvalidInputError(f"{source}: onnxruntime fails on the model "
                                    f"({type(exc).__name__}: {exc}); pass check=False to skip "
                                    f"the check") from None
        out = np.asarray(out, dtype=np.float64)
        out = out[None] if out_batch_axis is None else np.moveaxis(out, out_batch_axis, 0)
        if out.shape != (run_size,) + tuple(net.output_shape):
            raise ConversionMismatch(f"{source}: output {out_name!r}: onnxruntime gives shape "
                                     f"{list(out.shape)} per run of {run_size}, the network "
                                     f"{list(net.output_shape)} per sample")
        got.append(out.reshape(run_size, -1))
    got = np.concatenate(got)
    if not np.isfinite(got).all():
        raise ConversionMismatch(f"{source}: onnxruntime's output {out_name!r} holds NaN or inf "
                                 f"on random inputs (float32 overflow?), so the conversion "
                                 f"cannot be checked; pass check=False to skip the check",
                                 max_abs_error=float("inf"), tolerance=0.0)
    error = float(np.max(np.abs(got - expected)))
    tolerance = ONNX_CHECK_RTOL * max(1.0, float(np.max(np.abs(got))))
    if not error <= tolerance:
        raise ConversionMismatch(
            f"{source}: the converted network differs from onnxruntime on output {out_name!r} "
            f"by up to {error:.3g} (tolerance {tolerance:.3g}) on {len(got)} random inputs. "
            f"This is a plnet bug or an op with semantics plnet does not model; please report "
            f"it with the model.", max_abs_error=error, tolerance=tolerance)
    return error
