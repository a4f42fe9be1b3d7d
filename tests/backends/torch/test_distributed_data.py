"""The ranks' share of the training order, and process-group detection (one process)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
from plnet.backends.torch.distributed import Replicas, replicas  # noqa: E402
from plnet.backends.torch.distributed_data import GlobalBatchSampler  # noqa: E402
from plnet.errors import InvalidInputError  # noqa: E402


@given(length=st.integers(1, 40), batch_size=st.integers(1, 12), ranks=st.integers(1, 5),
       epoch=st.integers(0, 3))
def test_the_ranks_parts_of_a_step_make_the_single_process_batch(length, batch_size, ranks,
                                                                 epoch):
    def steps(num_replicas, rank):
        sampler = GlobalBatchSampler(length, batch_size, num_replicas=num_replicas, rank=rank,
                                     seed=7)
        sampler.set_epoch(epoch)
        return list(sampler.parts())

    single = steps(1, 0)
    shares = [steps(ranks, r) for r in range(ranks)]
    assert all(len(s) == len(single) for s in shares)
    for step, (batch, points) in enumerate(single):
        assert points == len(batch)
        counted = [s[step][0][:s[step][1]] for s in shares]
        assert torch.equal(torch.cat(counted), batch)
        for indices, points in (s[step] for s in shares):
            assert points in (len(indices), 0) and len(indices) >= 1


def test_a_rank_left_without_points_gets_a_stand_in_weighted_zero():
    sampler = GlobalBatchSampler(5, 4, num_replicas=2, rank=1, seed=0, shuffle=False)
    assert [(i.tolist(), n) for i, n in sampler.parts()] == [([2, 3], 2), ([4], 0)]


def test_each_epoch_has_its_own_seeded_order_and_the_first_keeps_the_seed():
    sampler = GlobalBatchSampler(30, 30, seed=4)
    first = sampler.order()
    assert torch.equal(first, torch.randperm(30, generator=torch.Generator().manual_seed(4)))
    sampler.set_epoch(1)
    assert not torch.equal(sampler.order(), first)
    again = GlobalBatchSampler(30, 30, seed=4)
    again.set_epoch(1)
    assert torch.equal(again.order(), sampler.order())


def test_without_a_process_group_work_runs_in_this_process(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert not replicas(None).distributed
    assert not replicas(False).distributed
    with pytest.raises(InvalidInputError, match="torchrun --nproc-per-node"):
        replicas(True)
    with pytest.raises(InvalidInputError, match="True, False or None"):
        replicas("yes")


def test_one_process_collectives_return_their_input_and_raise_its_errors():
    ranks = Replicas()
    assert ranks.reduce(lambda: [1, 2.5], 2) == [1.0, 2.5]
    assert ranks.gather("a") == ["a"] and ranks.on_rank0(lambda: 3) == 3
    assert all(ranks.owns(i) for i in range(4))
    with pytest.raises(ZeroDivisionError):
        ranks.run(lambda: 1 / 0)
