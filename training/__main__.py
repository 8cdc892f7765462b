"""``python -m nextword.training PATH... [options]``: the same as ``nextword train``, in a form
``torchrun`` can start on several processes:

    torchrun --nproc_per_node 2 -m nextword.training ~/notes --out model.safetensors

Each process trains on its share of the text (DistributedDataParallel: gloo on CPU, nccl on
GPUs); process 0 alone reports progress and writes the checkpoint.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from nextword.server.cli import main as cli_main

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["train"]:
        args = args[1:]
    return cli_main(["train", *args])


if __name__ == "__main__":
    sys.exit(main())
