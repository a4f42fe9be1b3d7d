"""chunk, split, unbind and stack: converted exactly and compared with torch (float64)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def _swap_halves(x):
    first, second = x.chunk(2, dim=1)  # fx unpacks a proxy only in an assignment
    return torch.cat([second, 2 * first], 1)


@pytest.mark.parametrize("fn", [
    lambda x: _swap_halves(x),
    lambda x: torch.cat(torch.chunk(x, 3, 1)[::-1], 1),
    lambda x: torch.chunk(x, 4, -1)[1],
    lambda x: torch.cat(x.split(2, 1)[::-1], 1),
    lambda x: torch.cat(torch.split(x, [1, 4], dim=1)[::-1], 1),
    lambda x: x.unbind(1)[2] - x.unbind(1)[0],
    lambda x: torch.unbind(x, -1)[3],
], ids=["chunk2", "chunk3_uneven", "chunk_last", "split_size", "split_sections",
        "unbind", "unbind_last"])
def test_splits_match_torch(convert_exactly, as_module, fn):
    convert_exactly(as_module(fn), (5, 4))


@pytest.mark.parametrize("fn", [
    lambda x: torch.stack([x, 2 * x], dim=1),
    lambda x: torch.stack([x, -x, x + 1], dim=-1),
    lambda x: torch.stack(x.unbind(1), dim=2),
], ids=["stack1", "stack_last", "unbind_stack_transposes"])
def test_stack_matches_torch(convert_exactly, as_module, fn):
    convert_exactly(as_module(fn), (5, 4))
