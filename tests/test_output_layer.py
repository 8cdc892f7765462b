"""The output layer as the C kernels run it: the most frequent tokens' rows exact, the rest a
thin product fitted to the vectors the network produces; exact wherever that saves little,
and on the portable path."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from nextword.model import InferenceNetwork, compiled, default_model_path, load_checkpoint
from nextword.model.output_layer import HEAD_ROWS, TAIL_RANK, low_rank_rows, projected_moment, worth_factoring
from nextword.model.tokenize import tokenize
from nextword.training.evaluate import load_split

NOTES = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "notes" / "simonw-til"
needs_kernels = pytest.mark.skipif(not compiled.available(), reason="the C kernels are not built or not supported here")


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("n", [500, 9000])  # 9,000: fitted a block of rows at a time
@pytest.mark.parametrize("weighted", [False, True])
def test_rows_of_low_rank_are_reproduced(weighted, n):
    rows = torch.randn(n, 6, generator=generator(0)) @ torch.randn(6, 32, generator=generator(1))
    spread = torch.randn(32, 48, generator=generator(2))
    thin, wide = low_rank_rows(rows.half().numpy(), 6, (spread @ spread.T).numpy() if weighted else None)
    assert thin.shape == (n, 6) and wide.shape == (6, 32)
    assert thin.dtype == wide.dtype == np.float32
    product = torch.from_numpy(thin @ wide)
    assert torch.allclose(product, rows.half().float(), atol=1e-3 * rows.abs().max().item())


def test_the_fit_is_best_where_the_network_outputs_lie():
    """Fitted for the outputs of a projection, the product errs less on them than the plain
    best fit does; and the plain fit errs less on vectors in every direction."""
    rows = torch.randn(2000, 32, generator=generator(3))
    projection = torch.nn.Linear(48, 32)
    with torch.no_grad():
        projection.weight.mul_(torch.logspace(0, -2, 32).unsqueeze(1))
        outputs = projection(torch.randn(4000, 48, generator=generator(5))).T
    anywhere = torch.randn(32, 4000, generator=generator(6))
    moment = projected_moment(projection.weight.detach().numpy(), projection.bias.detach().numpy())
    assert moment.dtype == np.float64 and moment.shape == (32, 32)
    weighted, plain = low_rank_rows(rows.numpy(), 8, moment), low_rank_rows(rows.numpy(), 8)

    def error(fit, x):
        thin, wide = (torch.from_numpy(a) for a in fit)
        return ((rows - thin @ wide) @ x).pow(2).mean().item()

    assert error(weighted, outputs) < 0.7 * error(plain, outputs)
    assert error(plain, anywhere) < error(weighted, anywhere)


def test_small_layers_stay_exact(tiny_model_path):
    for rows, dim in [(3000, 16), (HEAD_ROWS + 100, 256), (HEAD_ROWS * 4, TAIL_RANK + 8), (HEAD_ROWS * 4, 64)]:
        assert not worth_factoring(rows, dim)  # too little to save
    assert worth_factoring(HEAD_ROWS * 4, 256) and worth_factoring(28000, 256)
    tiny = load_checkpoint(tiny_model_path).model
    assert InferenceNetwork.build(tiny).factored_output is None


@pytest.fixture(scope="module")
def shipped():
    checkpoint = load_checkpoint(default_model_path())
    model = checkpoint.model
    ids = []
    for document in load_split(NOTES, read_train=False).test[:6]:
        ids += checkpoint.vocab.encode(tokenize(document.text))[:400]
    portable = InferenceNetwork.build(model, "torch")
    outputs, _ = portable.read(ids, portable.initial_state())
    with torch.inference_mode():
        # The exact layer's scores, normalised in double precision: single precision's
        # log-softmax over 44,000 scores is itself off by a few 1e-5.
        exact = torch.log_softmax(model.logits(torch.from_numpy(outputs)).double(), dim=-1)
    return model, outputs, exact


@needs_kernels
def test_the_shipped_model_scores_rare_words_through_the_thin_product(shipped):
    model, outputs, _ = shipped
    network = InferenceNetwork.build(model, compiled.KERNELS)
    assert network.factored_output == (HEAD_ROWS, TAIL_RANK)
    # The frequent tokens' scores are the exact layer's in 8 bits, to the bit.
    weights = model.weights()
    exact_head = compiled.CompiledLinear(
        weights.arrays["embedding.weight"][:HEAD_ROWS], weights.single("out_bias")[:HEAD_ROWS]
    )
    assert np.array_equal(network.logits(outputs)[:, :HEAD_ROWS], exact_head(outputs))


@needs_kernels
def test_the_distribution_is_that_of_the_exact_layer(shipped):
    """On real notes: the same most probable token nearly everywhere and a small divergence
    from the exact single-precision distribution (most of it is 8-bit rounding)."""
    model, outputs, exact = shipped
    ours = torch.from_numpy(InferenceNetwork.build(model, compiled.KERNELS).next_log_probs(outputs))
    divergence = (exact.exp() * (exact - ours)).sum(-1)
    assert len(outputs) > 1000
    # A model of English and Korean has 40,000 rows in the factored part (28,000 for English
    # alone): more divergence, with KSR and next-word accuracy still to a tenth of a point.
    assert divergence.mean().item() < 0.015 and divergence.max().item() < 0.6
    assert (exact.argmax(-1) == ours.argmax(-1)).float().mean().item() > 0.97
    top5 = lambda logp: set(logp.topk(5).indices.tolist())  # noqa: E731
    assert sum(len(top5(a) & top5(b)) for a, b in zip(exact, ours)) / (5 * len(outputs)) > 0.95


def test_the_portable_path_keeps_the_exact_layer(shipped):
    model, outputs, exact = shipped
    ours = InferenceNetwork.build(model, "torch").next_log_probs(outputs)
    assert torch.allclose(torch.from_numpy(ours).double(), exact, atol=1e-5)


@needs_kernels
def test_info_tells_how_the_output_layer_is_kept(shipped, capsys):
    from nextword.server.cli import main

    assert main(["info", str(default_model_path()), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["prediction_output_layer"] == {
        "exact_rows": HEAD_ROWS,
        "rank": TAIL_RANK,
    }
    assert main(["info", str(default_model_path())]) == 0
    assert (
        f"the {HEAD_ROWS:,} most frequent tokens exact, the other {shipped[0].config.vocab_size - HEAD_ROWS:,} as a rank-{TAIL_RANK} product"
        in capsys.readouterr().out
    )
