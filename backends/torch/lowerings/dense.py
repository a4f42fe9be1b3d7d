"""Dense layers: ``x W^T + b`` over the last axis."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from plnet.backends.torch.lowerings.base import AffineLowering, lowers
from plnet.ops import Dense


@lowers(Dense)
class DenseLowering(AffineLowering):
    supports_recursion = True
    fused_role = "dense"

    def weight_and_bias(self, params):
        """``(weight [out, in], bias [out] or None)``."""
        bias = params[self.op.bias] if self.op.bias is not None else None
        return params[self.op.weight], bias

    def forward(self, xs, params):
        return F.linear(xs[0], *self.weight_and_bias(params))

    def linear(self, xs, params):
        return F.linear(xs[0], params[self.op.weight])

    def offset(self, params):
        return params[self.op.bias] if self.op.bias is not None else None

    def tangent(self, ts, params, frozen=None, out=None):
        """The weight's product on ``[R, K, in]`` tangents, into ``out`` memory if given."""
        t = ts[0]
        return self._product(t.reshape(-1, t.shape[-1]), params[self.op.weight],
                             t.shape[:-1], out)

    def columns_tangent(self, t, columns, params):
        """``tangent`` of ``[R, k]`` vectors, each non-zero only at its ``columns [k, m]``:
        ``t [R, k, m]`` times those columns of the weight, ``[R, k, out]`` (forward cones'
        windows, :mod:`plnet.backends.torch.cones`)."""
        k, m = columns.shape
        weight = params[self.op.weight].index_select(1, columns.reshape(-1))
        per_axis = weight.view(-1, k, m).permute(1, 2, 0)  # [k, m, out]
        return torch.bmm(t.transpose(0, 1), per_axis).transpose(0, 1)

    def image_tangent(self, t, params, out=None):
        """``tangent`` of ``flatten(t)`` for image tangents ``t [R, K, C, H, W]``."""
        rows, weight = self._image_rows(t, params)
        return self._product(rows, weight, t.shape[:2], out)

    def _image_rows(self, t, params):
        """``(rows [R * K, C * H * W], weight)`` of image tangents. Channels-last images
        are read as they lie, with the weight's columns put in that order: flattening them
        first copies every tangent image into channels-first order, which costs about as
        much as the product itself."""
        r, k, c, h, w = t.shape
        weight = params[self.op.weight]
        if t.permute(0, 1, 3, 4, 2).is_contiguous():
            rows = t.permute(0, 1, 3, 4, 2).reshape(r * k, h * w * c)
            weight = weight.reshape(-1, c, h, w).permute(0, 2, 3, 1).reshape(-1, h * w * c)
            return rows, weight
        return t.reshape(r * k, c * h * w), weight

    def unit_major_tangent(self, t, params, images=False, out=None):
        """``tangent`` (``image_tangent`` with ``images``) as a ``[R, K, out]`` view of
        ``[R, out, K]`` memory (from ``out(shape)`` if given): one product per point,
        ``W @ T^T``. For units whose gradients go straight to a ``[B, N, K]`` result, the
        axis-major product would need a transposing copy there (on the benchmark CNN's
        dense head: 16-17 ms against 7-8 ms for this)."""
        rows, weight = self._image_rows(t, params) if images else \
            (t.reshape(-1, t.shape[-1]), params[self.op.weight])
        r, k = t.shape[:2]
        shape = (r, weight.shape[0], k)
        result = torch.matmul(weight, rows.view(r, k, -1).transpose(1, 2),
                              out=None if out is None else out(shape))
        return result.transpose(1, 2)

    @staticmethod
    def _product(rows, weight, lead, out):
        """``rows [M, in] @ weight^T`` shaped ``[*lead, out]``; into ``out(shape)`` memory
        when given (reused memory: a fresh result costs a page fault per 4 KiB)."""
        shape = tuple(lead) + (weight.shape[0],)
        if out is not None and not (rows.requires_grad or weight.requires_grad):
            target = out(shape)
            if target.is_contiguous():
                torch.mm(rows, weight.t(), out=target.view(rows.shape[0], -1))
                return target
        return F.linear(rows, weight).reshape(shape)

    def jacobian_step(self, rec, jacs, params, frozen=None):
        return rec.matmul(jacs[0], params[self.op.weight], self.in_shapes[0])
