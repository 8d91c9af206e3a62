"""GLUE token features at real scale in rows stay within bounded memory (issue: the paper profile's
QQP would need ~290 GB as dense padded float32). A tiny randomly initialised BERT from
``transformers`` encodes QQP-sized pair tasks in a subprocess; its peak resident memory must not
grow with the number of rows beyond the texts and token ids themselves."""

import json
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, resource, sys, tempfile
    from pathlib import Path

    import numpy as np
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    from qmtl_utils.models.backbones.glue import GlueBackbone, RaggedTokens, write_ragged_tokens

    n, hidden = int(sys.argv[1]), int(sys.argv[2])
    torch.manual_seed(0)
    torch.set_num_threads(1)
    words = [f"w{i}" for i in range(500)]
    folder = Path(tempfile.mkdtemp())
    (folder / "vocab.txt").write_text("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]))
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    model = BertModel(BertConfig(vocab_size=len(words) + 5, hidden_size=hidden, num_hidden_layers=1,
                                 num_attention_heads=2, intermediate_size=2 * hidden, max_position_embeddings=32))
    rng = np.random.default_rng(0)
    sentences = {side: [" ".join(words[j] for j in rng.integers(0, 500, rng.integers(4, 11))) for _ in range(n)]
                 for side in "ab"}
    sizes = {side: write_ragged_tokens(folder, f"tokens_{side}", texts, tokenizer, model, max_length=16,
                                       batch_size=1024) for side, texts in sentences.items()}
    del sentences
    a, b = RaggedTokens.load(folder, "tokens_a"), RaggedTokens.load(folder, "tokens_b")
    net = GlueBackbone(encoder_hidden=hidden, d=30, proj_hidden=16, lstm_hidden=8)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    for rows in torch.randperm(n)[: 50 * 128].split(128):  # the training read path: random batches
        loss = net(a[rows].float(), a.mask[rows], b[rows].float(), b.mask[rows]).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    longest = max(a.shape[1], b.shape[1])
    print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "stored_mb": sum(s["bytes"] for s in sizes.values()) / 2**20,
                      "dense_float16_mb": 2 * n * longest * hidden * 2 / 2**20}))
""")


def _peak(n: int, hidden: int) -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(n), str(hidden)], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_the_rows():
    small, large = _peak(40_000, 64), _peak(400_000, 64)
    # 400,000 pairs (QQP-sized): the stored features are all on disk, not in memory
    assert large["stored_mb"] > 9 * small["stored_mb"]
    growth = large["peak_mb"] - small["peak_mb"]
    dense_growth = large["dense_float16_mb"] - small["dense_float16_mb"]
    # what grows is the texts and their token ids (~0.2 KB per pair), not the token features
    assert growth < 0.25 * dense_growth, (small, large)
    assert growth < 0.25 * (large["stored_mb"] - small["stored_mb"]), (small, large)
