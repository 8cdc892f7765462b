"""Token streams to training batches: the corpus as one long sequence, cut into parallel
streams, read in windows for truncated backpropagation through time."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from nextword.model import Vocabulary
from nextword.model.tokenize import PARAGRAPH, tokenize


def encode_documents(texts: list[str], vocab: Vocabulary) -> torch.Tensor:
    """All documents as one id sequence, each opened by a paragraph break, as the Predictor sees a document."""
    para = vocab.id(PARAGRAPH)
    ids: list[int] = []
    for text in texts:
        ids.append(para)
        ids.extend(vocab.encode(tokenize(text)))
    return torch.tensor(ids, dtype=torch.long)


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``[steps, batch_size]``: the sequence cut into ``batch_size`` contiguous streams."""
    batch_size = max(1, min(batch_size, len(ids) // 2))
    steps = len(ids) // batch_size
    return ids[: steps * batch_size].view(batch_size, steps).t().contiguous()


def windows(data: torch.Tensor, bptt: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Inputs and next-token targets, ``bptt`` positions at a time."""
    for start in range(0, data.size(0) - 1, bptt):
        length = min(bptt, data.size(0) - 1 - start)
        yield data[start : start + length], data[start + 1 : start + 1 + length]
