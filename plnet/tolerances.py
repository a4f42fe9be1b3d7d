"""Every numerical tolerance plnet uses, named in one place.

The reference analyses compute in float64; these constants bound the round-off that the
tests and the cross-checks accept.  Change them here, never inline.
"""

import sys

#: Relative slack for "a point inside the certified ball keeps the pattern": points are
#: sampled at radius (1 - INSIDE_SHRINK) * eps.
INSIDE_SHRINK = 1e-7

#: Halfspace rows A y >= b are counted as satisfied when A y - b >= -CONTAINS_ATOL * scale,
#: with scale = 1 + |b| + ||A_i||_1 ||y||_inf (float64 round-off of one dot product).
CONTAINS_RTOL = 1e-9

#: Appendix B: the bisection stops when upper - lower is below this gap (the paper's 1e-7).
BISECTION_GAP = 1e-7

#: Appendix B: the bracket grows by doubling up to this radius (the largest float64); a ray
#: still inside there is reported as capped (a lower bound), never as unbounded.
BISECTION_MAX_RADIUS = sys.float_info.max

#: The numpy reference and autograd / onnxruntime (float64) agree to this relative error.
REFERENCE_RTOL = 1e-9

#: Conversion checks run the source in float32: outputs may differ by this much, relative to
#: the output's scale.
FLOAT32_RTOL = 1e-4

#: Solvers used by plnet.exact stop at about 1e-8; their answers are compared with this.
SOLVER_RTOL = 1e-5
SOLVER_ATOL = 1e-6

#: plnet.exact.verify_ball accepts a row whose minimum over the ball of radius eps falls
#: below its bound by at most this times eps (rows scaled to unit norm): solver accuracy.
EXACT_BALL_RTOL = 1e-6

#: from_torch's check: the module (float64) and the converted network agree to this error,
#: relative to 1 + the output's largest magnitude.
TORCH_CONVERSION_RTOL = 1e-9

#: The torch backend compiled in float32 agrees with the float64 reference to this relative
#: error (logits, unit values, unit gradients and margins, relative to each one's scale).
TORCH_FLOAT32_RTOL = 1e-4

#: Region counting (Lemma 7's lower bound) takes two output Jacobians as equal when
#: max|a - b| <= JACOBIAN_RTOL * max(max|a|, max|b|): Jacobians of one region computed at
#: different points differ by round-off only. Near-equal ones are merged, never split, so
#: the count stays a lower bound. The torch backend's float32 Jacobians use the float32 one.
JACOBIAN_RTOL = 1e-9
JACOBIAN_RTOL_FLOAT32 = 1e-5

#: from_onnx(check=True): the IR (float64) and onnxruntime (the file's float32) must agree to
#: this error, relative to max(1, largest |output| of onnxruntime).
ONNX_CHECK_RTOL = 1e-4

#: plnet.regions: rows are scaled to unit l2 norm. A row is redundant when the smallest
#: value of ``a_i . y - b_i`` over the other rows' polyhedron is >= -FACET_LP_ATOL * (1 +
#: |b_i|): a facet that sticks out by less than this (HiGHS' own accuracy) is dropped.
FACET_LP_ATOL = 1e-9

#: plnet.regions: two unit-norm rows whose normals and offsets agree to this (relative to 1 +
#: |offset|) are one hyperplane: one is kept as the facet, the others cross with it.
COINCIDENT_RTOL = 1e-9

#: plnet.regions: the point across a facet lies at most this far (relative to 1 + ||x||_inf)
#: beyond the facet's interior point; it is halved until the pattern is verified.
NEIGHBOUR_STEP_RTOL = 1e-4

#: plnet.regions: two regions belong to one complete linear region when their affine maps
#: agree: max|W1 - W2|, max|c1 - c2| <= REGION_MAP_RTOL * max(1, largest |entry|).
REGION_MAP_RTOL = 1e-9

#: plnet.regions slices: a unit splits a cell of a 2-d (1-d) slice only when its value at
#: some vertex is below -SLICE_RTOL * scale and at another above +SLICE_RTOL * scale, with
#: scale = |value at the origin| + sum_j |slope_j| * (largest |bound| of coordinate j).
#: Values within that of zero count as on the line: thinner slivers merge into a neighbour.
SLICE_RTOL = 1e-9
