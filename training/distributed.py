"""Training on several processes (or machines) with PyTorch DistributedDataParallel.

Under ``torchrun`` (which sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` ...)
each process trains on its own share of the text streams; gradients are averaged across
processes every step, so every process holds the same model. Process 0 alone reports
progress and writes files. Outside ``torchrun`` this is a world of one and costs nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from nextword.model import NextwordError


@dataclass
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        """Whether this process reports and writes (process 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sums over all processes (the values themselves in a world of one)."""
        if not self.distributed:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()

    def any(self, flags: list[bool]) -> list[bool]:
        """Element-wise: whether any process raised each flag."""
        if not self.distributed:
            return list(flags)
        t = torch.tensor([float(f) for f in flags], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return [bool(v) for v in t.tolist()]

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def world_from_environment() -> World:
    """Join the process group ``torchrun`` describes (gloo on CPU, nccl on GPUs), or a world of one."""
    size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if size <= 1:
        return World()
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_size = int(os.environ.get("LOCAL_WORLD_SIZE", str(size)))
    cuda = torch.cuda.is_available() and torch.cuda.device_count() > local_rank
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(device)
        try:
            dist.init_process_group(backend="nccl" if cuda else "gloo")
        except (RuntimeError, ValueError) as e:
            raise NextwordError(
                f"could not join the {size} training processes ({e}); start them with torchrun, e.g. `torchrun --nproc_per_node 2 -m nextword.training NOTES`"
            ) from None
    return World(rank=rank, size=size, local_rank=local_rank, local_size=local_size, device=device)


def leave(world: World) -> None:
    """Leave the process group once every process has finished."""
    if world.distributed and dist.is_initialized():
        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()
