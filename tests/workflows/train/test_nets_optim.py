from __future__ import annotations

import pytest
import torch

from workflows._distributed import Communicator, _buckets, launched_by_mpi
from workflows._optim import LearningRate


def test_warmup_reaches_scaled_rate_then_cosine_decays():
    rate = LearningRate(0.01, world_size=4, warmup_steps=3, total_steps=13, schedule="cosine")
    assert [rate.at(s) for s in range(3)] == pytest.approx([0.01, 0.02, 0.03])
    assert rate.at(3) == pytest.approx(0.04)
    assert rate.at(8) == pytest.approx(0.02)
    assert rate.at(13) == pytest.approx(0.0, abs=1e-12)


def test_schedule_does_not_depend_on_how_the_target_was_reached():
    # one rank at 2*lr and two ranks at lr follow the same rates
    one = LearningRate(0.02, 1, 5, 20, "constant")
    two = LearningRate(0.01, 2, 5, 20, "constant")
    assert [one.at(s) for s in range(20)] == pytest.approx([two.at(s) for s in range(20)])


def test_buckets_keep_order_and_split_by_dtype():
    tensors = [torch.zeros(3), torch.zeros(2), torch.zeros(1, dtype=torch.int64), torch.zeros(4)]
    buckets = _buckets(tensors)
    assert [len(bucket) for bucket in buckets] == [2, 1, 1]
    assert [t for bucket in buckets for t in bucket] == tensors


def test_single_process_collectives_are_identity():
    comm = Communicator()
    assert comm.allreduce_sum([1, 2.5]) == [1.0, 2.5]
    assert comm.allgather("x") == ["x"] and comm.bcast(3) == 3


def test_mpi_detection_by_launcher_environment():
    assert not launched_by_mpi({})
    assert launched_by_mpi({"PMI_RANK": "0"})
    assert launched_by_mpi({"OMPI_COMM_WORLD_SIZE": "2"})
