"""Independent checks of a slice: patterns inside, across every edge, and on a grid."""

from __future__ import annotations

import numpy as np

import plnet

#: probes sit this far (relative to the box) inside or outside a polygon's edge
PROBE = 1e-7


def keys_at(net, s, coords):
    if len(coords) == 0:
        return []
    pat = plnet.activation_pattern(net, s.to_input(coords))
    return pat.keys()


def box_area(s):
    b = np.asarray(s.bounds).reshape(-1, 2)
    return float(np.prod(b[:, 1] - b[:, 0]))


def check_partition(net, s):
    """Areas sum to the box; patterns distinct; output maps right; pattern on each polygon."""
    assert s.count == len(s.polygons) == len(s.patterns) == len(s.areas)
    assert (s.areas > 0).all()
    np.testing.assert_allclose(s.areas.sum(), box_area(s), rtol=1e-9)
    assert len(set(s.patterns)) == s.count  # one polygon per pattern: neighbours differ
    assert sorted(s.pattern_ids.tolist()) == list(range(s.count))
    for i, poly in enumerate(s.polygons):
        center = poly.mean(axis=0)
        inside = np.concatenate([center[None], 0.5 * (poly + center)])
        keys = keys_at(net, s, inside)
        assert all(k == s.patterns[i] for k in keys), f"polygon {i}: interior pattern differs"
        out = net(s.to_input(inside)).reshape(len(inside), -1)
        expect = inside @ s.jacobians[i].T + s.offsets[i]
        scale = 1 + np.abs(out).max()
        np.testing.assert_allclose(out, expect, atol=1e-8 * scale)


def check_edges(net, s):
    """Just beyond each inner edge (2-d) or end point (1-d) the pattern is another one."""
    b = np.asarray(s.bounds, dtype=np.float64).reshape(-1, 2)
    step = PROBE * (b[:, 1] - b[:, 0]).max()
    probes, owners = [], []
    for i, poly in enumerate(s.polygons):
        if s.dim == 1:
            ends = poly[:, 0]
            for end, sign in ((ends[0], -1.0), (ends[1], 1.0)):
                probes.append([end + sign * step])
                owners.append(i)
            continue
        nxt = np.roll(poly, -1, axis=0)
        for p, q in zip(poly, nxt):
            edge = q - p
            length = np.linalg.norm(edge)
            if length < 1e3 * step:
                continue
            normal = np.array([edge[1], -edge[0]]) / length  # outward (counter-clockwise)
            probes.append((p + q) / 2 + step * normal)
            owners.append(i)
    probes = np.asarray(probes, dtype=np.float64).reshape(-1, s.dim)
    owners = np.asarray(owners)
    inside_box = ((probes > b[:, 0] + step / 2) & (probes < b[:, 1] - step / 2)).all(axis=1)
    keys = keys_at(net, s, probes[inside_box])
    for key, owner in zip(keys, owners[inside_box]):
        assert key != s.patterns[owner], f"polygon {owner}: the pattern does not change across an edge"


def locate(s, points):
    """Index of the polygon holding each point (2-d), or -1 when none strictly does."""
    out = np.full(len(points), -1)
    for i, poly in enumerate(s.polygons):
        nxt = np.roll(poly, -1, axis=0)
        cross = ((nxt[:, 0] - poly[:, 0])[None] * (points[:, None, 1] - poly[None, :, 1])
                 - (nxt[:, 1] - poly[:, 1])[None] * (points[:, None, 0] - poly[None, :, 0]))
        scale = np.linalg.norm(nxt - poly, axis=1)[None]
        out[(cross > 1e-9 * scale).all(axis=1)] = i
    return out


def check_grid(net, s, n=60):
    """Brute force: on a dense grid every point has the pattern of the polygon holding it."""
    a0, a1, b0, b1 = s.bounds
    aa, bb = np.meshgrid(np.linspace(a0, a1, n + 2)[1:-1], np.linspace(b0, b1, n + 2)[1:-1])
    points = np.stack([aa.ravel(), bb.ravel()], axis=1)
    where = locate(s, points)
    keep = where >= 0
    assert keep.mean() > 0.9
    keys = keys_at(net, s, points[keep])
    assert set(keys) <= set(s.patterns)
    for key, i in zip(keys, where[keep]):
        assert key == s.patterns[i]
