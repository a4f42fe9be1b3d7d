"""Jacobians of the recursion (:mod:`plnet.backends.torch.recursion`) and their storage.

A :class:`Jac` is ``diag(scale) @ mat`` held lazily, possibly on a span of the chunk's
input axes outside which it is zero; these functions turn one into a tensor, all k columns
or its span alone, and write one into a sink's memory with the zeros outside its span.
"""

from __future__ import annotations

import torch


class Jac:
    """``diag(scale) @ mat`` (scale ``[Rs, n]`` or None); ``mat`` None is the identity.

    ``stored`` names the unit slice of the sink that ``mat`` already is. ``span`` is None
    (``mat`` has all k columns) or ``(lo, hi)``: ``mat`` holds the columns ``lo:hi`` of the
    Jacobian and every other column is zero.
    """

    __slots__ = ("mat", "scale", "stored", "span")

    def __init__(self, mat, scale=None, stored=None, span=None):
        self.mat, self.scale, self.stored, self.span = mat, scale, stored, span


def materialize(jac, rows_to, eye, out=None):
    """``jac`` as a tensor ``[R, n, k]`` (expanded to ``rows_to`` rows, or into ``out``)."""
    if jac.span is None:
        return materialize_span(jac, rows_to, eye, out)
    lo, hi = jac.span
    if out is None:
        part = materialize_span(jac, None, eye)
        out = part.new_zeros(part.shape[:2] + (eye.shape[2],))
        out[:, :, lo:hi] = part
        return out if rows_to is None else out.expand((rows_to,) + out.shape[1:])
    write_span(jac, eye, out)
    return out


def materialize_span(jac, rows_to, eye, out=None):
    """``jac``'s columns in its span (all k without one) as ``[R, n, width]``."""
    mat = eye if jac.mat is None else jac.mat
    if jac.scale is None:
        if out is not None:
            out.copy_(mat.expand(out.shape))
            return out
        return mat if rows_to is None else mat.expand((rows_to,) + mat.shape[1:])
    if out is not None:
        return torch.mul(mat.expand(out.shape), jac.scale.unsqueeze(2).expand(out.shape), out=out)
    mat = mat * jac.scale.unsqueeze(2)
    return mat if rows_to is None else mat.expand((rows_to,) + mat.shape[1:])


def write_span(jac, eye, out, fill=True):
    """Write ``jac`` into ``out [R, n, k]``: zeros outside its span; returns the view of
    ``out`` that holds the span (all of ``out`` without one). ``fill=False`` writes the
    zeros only, for the caller to fill the span."""
    lo, hi = (0, out.shape[2]) if jac.span is None else jac.span
    out[:, :, :lo].zero_()
    out[:, :, hi:].zero_()
    return materialize_span(jac, None, eye, out[:, :, lo:hi]) if fill else out[:, :, lo:hi]


def fits_span(target, shape, span):
    """Whether a result of ``shape`` (the columns of ``span``) fits the memory ``target``."""
    width = target.shape[2] if span is None else span[1] - span[0]
    return tuple(target.shape[:2]) + (width,) == tuple(shape)
