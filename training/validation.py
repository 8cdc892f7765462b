"""Validation, kept apart from the training step: the exact (full-softmax) loss of the model on
held-out text, each text cut into streams and shared among the training processes."""

from __future__ import annotations

import torch
from nextword.model import LanguageModel

from .batches import batchify, windows
from .distributed import World

VALID_STREAMS = 16  # parallel streams for validation
VALID_BPTT = 128  # tokens per stream per forward pass


def shard(ids: torch.Tensor, streams: int, world: World) -> torch.Tensor | None:
    """This process's columns of ``ids`` cut into ``streams`` streams per process (None if too short)."""
    streams = min(streams, len(ids) // (2 * world.size))
    if streams < 1:
        return None
    data = batchify(ids, streams * world.size)
    return data[:, world.rank * streams : (world.rank + 1) * streams].contiguous()


@torch.inference_mode()
def loss_sum(model: LanguageModel, data: torch.Tensor, bptt: int = VALID_BPTT) -> tuple[float, int]:
    """Summed cross-entropy (full softmax) of ``model`` on batchified ``data``, and the token count."""
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    for inputs, targets in windows(data, bptt):
        hidden, state = model(inputs, state)
        total += float(model.full_loss(hidden, targets, reduction="sum"))
        count += targets.numel()
    model.train(was_training)
    return total, count


class ValidationSet:
    """One validation text, sharded across processes when it is long enough."""

    def __init__(self, name: str, ids: torch.Tensor, world: World):
        self.name, self.tokens = name, len(ids)
        data = shard(ids, VALID_STREAMS, world)
        self.sharded = data is not None
        self.data = (data if data is not None else batchify(ids, VALID_STREAMS)).to(world.device)

    def loss(self, model: LanguageModel, world: World) -> float:
        """The mean loss over the whole text, every process's share of it summed."""
        total, count = loss_sum(model, self.data)
        sums = world.sum([total, float(count)]) if self.sharded else [total, float(count)]
        return sums[0] / max(sums[1], 1)


def estimate_loss(model: LanguageModel, sets: list[ValidationSet], world: World) -> tuple[float, dict[str, float]]:
    """The figure that decides (the mean of the sets' losses), and each set's loss by name."""
    losses = {s.name: s.loss(model, world) for s in sets}
    return sum(losses.values()) / len(losses), losses
