"""``python -m nextword.training PATH... [options]``: ``nextword train`` without the server
package, in a form ``torchrun`` can start on several processes:

    torchrun --nproc_per_node 2 -m nextword.training ~/notes --out model.safetensors

Each process trains on its share of the text (DistributedDataParallel: gloo on CPU, nccl on
GPUs); process 0 alone reports progress and writes the checkpoint.
"""

from __future__ import annotations

import argparse
import sys

from .command import prepare_process, run_subcommand


def main(argv: list[str] | None = None) -> int:
    prepare_process()
    from . import cli_train

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["train"]:
        args = args[1:]
    parser = argparse.ArgumentParser(prog="python -m nextword.training", description=cli_train.DESCRIPTION)
    cli_train.add_arguments(parser)
    return run_subcommand("train", cli_train.run, parser.parse_args(args))


if __name__ == "__main__":
    sys.exit(main())
