"""The loss normaliser averaged over the workers of a distributed run (two CPU processes, gloo)."""

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from d2dense.modeling import mean_over_workers


def _worker(rank, init_file, values, results):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        results[rank] = mean_over_workers(values[rank], torch.device("cpu"))
    finally:
        dist.destroy_process_group()


def test_mean_over_two_workers(tmp_path):
    results = mp.Manager().dict()
    mp.spawn(_worker, args=(str(tmp_path / "init"), [3, 8], results), nprocs=2, join=True)
    assert dict(results) == {0: 5.5, 1: 5.5}


def test_single_process_returns_the_value():
    assert mean_over_workers(7, torch.device("cpu")) == 7.0
