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
# # 03 · Training the four heads on one benchmark (§5)
#
# How the heads are trained, then every head trained: the paper's multi-task objective (Eq. (1)) and
# CheXpert's losses (Eqs. (23)-(25)) are written next to the code that computes them, one model
# (features → projection → QMTL head) is built and trained with the Extended MUStARD loop written out
# in full, and then the classical, HQNN-4, HQNN-Q and QMTL heads are trained on one benchmark with the
# paper's protocol for it (Appendix C), over several seeds (GLUE) or folds (CheXpert, Extended
# MUStARD). Every run's learning curve is drawn from the cache and its test metrics are read against
# the majority baseline and the ceiling. `run_all.sh` executes it once per benchmark
# (`-p benchmark glue|chexpert|mustard`); the worked example of §§3-4 always uses Extended MUStARD,
# the smallest protocol that shows every piece. It ends with exercises whose answers run.
#
# **Reads:** the cached datasets of `00_data_prep` (`data_glue`, `data_chexpert`, `data_mustard`) and
# the frozen text features of `01_backbones` (`glue_tokens`; under the lite profile `mustard_text`).
# **Writes:** one cache entry per run (`run_glue`, `run_chexpert`, `run_mustard`; `glue_tokens` and
# `mustard_text` too if `01_backbones` has not made them), each with its learning curve
# (`history.csv`), the result tables (`results_glue`, `results_chexpert`, `results_mustard`), which
# `07_figures` draws as Figs. 5–7, and what they are read against (`references_glue`,
# `references_chexpert`, `references_mustard`): the majority baseline, the attainable ceiling and the
# signal test.

# %% tags=["parameters"]
profile: str = "demo"  # paper | lite | demo | smoke — settings in qmtl_utils/runtime/profiles.py
glue_tasks: str = "all"  # GLUE tasks: "all" (the nine) or a comma-separated subset such as "cola,mrpc"
benchmark: str = "mustard"  # glue | chexpert | mustard
short_epochs: int = 3  # epochs of the worked example's short run (at most the profile's MUStARD max_epochs)

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from qmtl_utils.notebook import environment_report, setup_notebook
from qmtl_utils.runtime.cache import Cache
from qmtl_utils.spec import BENCHMARKS

settings = setup_notebook(profile, glue_tasks=glue_tasks)
cache = Cache.for_profile(profile)
spec = BENCHMARKS[benchmark]
training = settings["training"][benchmark]
print(f"{spec.title}: {len(spec.tasks)} tasks, d = {spec.d}, replicates {training['replicates']}")
training["train"]

# %% [markdown]
# ## Notation
#
# The head's symbols are those of `02_heads`, whose notation table gives each one's value per
# benchmark: $T$ tasks $t = 1, \dots, T$; $Q$ qubits; $L$ encoder layers; $d = QL$ shared features
# $\mathbf Z \in \mathbb R^d$; task $t$'s $S_t$ qubits, $L_h$ block layers and $r_t$ logits. Training adds:
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $i = 1, \dots, N$ | a training sample, of $N$ (a batch holds $B$ of them) | rows of `x`, `y` |
# | $\mathbf x_i$, $\mathbf y_{i,t}$ | sample $i$'s input, and its label for task $t$ | `x[i]`, `y[i, t]` |
# | $\Phi_{\text{backbone}}$ | the shared backbone (here with the projection to $d$): $\mathbf Z_i = \Phi_{\text{backbone}}(\mathbf x_i)$ | `model.backbone` |
# | $h_t$, $\hat{\mathbf y}_{i,t}$ | task $t$'s head and its output (logits) $\hat{\mathbf y}_{i,t} = h_t(\mathbf Z_i)$ | `model(x)[t]` |
# | $\mathcal L_t$ | task $t$'s loss: BCE with logits (binary), cross-entropy (classes), MSE (regression), focal (CheXpert) | `task_loss`, `FocalLoss` |
# | $\lambda_t$ | task $t$'s weight in the objective | `weights`, `task_weight` |
# | $\mathcal L_{\text{MTL}}$ | the multi-task objective, Eq. (1) | `multitask_loss` |
# | $K$, $c$ | CheXpert's classes per task ($K = 3$: uncertain, negative, positive) and one of them | `n_classes` |
# | $n_{c,t}$, $w_{c,t}$ | how often class $c$ occurs among task $t$'s training labels; its weight, Eq. (23) | `inverse_frequency_weights` |
# | $\hat p$ | the model's softmax probability of a sample's true class | `p_hat` |
# | $\gamma$, $\alpha$ | the focal loss's focusing exponent and scale, Eq. (24) ($\gamma = 2$, $\alpha = 1$) | `gamma`, `alpha` |
# | $p_-$, $p_+$ | CheXpert's predicted probabilities of negative and positive, Eq. (25) | `binary_positive_probability` |
# | $\eta$ | the learning rate of Adam (AdamW for GLUE) | `lr` |
# | epoch, update | one pass over the training rows; one optimizer step on one batch (GLUE counts updates) | `epoch`, `step` |

# %% [markdown]
# ## 1. The multi-task objective, Eq. (1)
#
# A shared backbone maps each input to $\mathbf Z_i$, and head $h_t$ gives task $t$'s output. Training
# minimises one number for all tasks together:
#
# $$\mathcal L_{\text{MTL}} = \frac{1}{N}\sum_{i=1}^{N}\sum_{t=1}^{T}\lambda_t\,\mathcal L_t(\hat{\mathbf y}_{i,t}, \mathbf y_{i,t}) \qquad (1)$$
#
# A batch of $B$ samples stands in for the $N$, and with the two sums swapped,
# $\mathcal L_{\text{MTL}} = \sum_t \lambda_t \big(\tfrac{1}{B}\sum_i \mathcal L_t\big)$: a weighted sum of each
# task's mean loss over the batch. That is what the package computes:

# %%
from qmtl_utils.training.losses import multitask_loss

print(inspect.getsource(multitask_loss))

# %% [markdown]
# Checked against the double sum written out, on random logits for Extended MUStARD's five tasks
# (sarcasm is binary with one logit, the two sentiments have 3 classes, the two emotions 9) with QMTL's
# weights $\lambda_t = 0.2$. Each $\ell_{i,t}$ is one sample's loss for one task:

# %%
mustard = BENCHMARKS["mustard"]
kinds = [t.kind for t in mustard.tasks]
generator = torch.Generator().manual_seed(0)
B, lam = 8, torch.tensor([0.2] * 5)
logits = [torch.randn(B, r, generator=generator) for r in mustard.task_outputs]
labels_demo = torch.stack([torch.randint(max(r, 2), (B,), generator=generator) for r in mustard.task_outputs], dim=1)
ell = torch.stack(
    [
        F.binary_cross_entropy_with_logits(out[:, 0], labels_demo[:, t].float(), reduction="none")
        if kind == "binary"
        else F.cross_entropy(out, labels_demo[:, t], reduction="none")
        for t, (kind, out) in enumerate(zip(kinds, logits))
    ],
    dim=1,
)  # (B, T): ℓ_{i,t}
eq1 = (ell * lam).sum(dim=1).mean()  # (1/B) Σ_i Σ_t λ_t ℓ_{i,t}
assert torch.isclose(eq1, multitask_loss(kinds, logits, labels_demo, lam.tolist()))
eq1.item()

# %% [markdown]
# Each protocol of Appendix C is Eq. (1) with its own $\lambda_t$ and $\mathcal L_t$:
#
# | | GLUE (C.1) | CheXpert (C.2) | Extended MUStARD (C.3) |
# |---|---|---|---|
# | $\mathcal L_t$ | BCE with logits (binary), cross-entropy (MNLI), MSE (STS-B) | focal loss, Eq. (24), with the class weights of Eq. (23); blanks masked | BCE with logits (sarcasm), cross-entropy (3 and 9 classes) |
# | $\lambda_t$ | none written: each update trains **one** task, drawn with probability proportional to its remaining batches (at most 300 per epoch), so on average $\lambda_t$ is the task's share of the updates | 1 | 0.2 for QMTL, 1 for the classical and HQNN heads |
# | code | `train_glue`: `TaskSampler`, `task_loss` | `train_chexpert`: `masked_multitask_focal_loss` | `train_mustard`: `multitask_loss` |
#
# GLUE's implicit weights, from the real training-set sizes and the paper's cap of 300 batches of 128
# per task and epoch: the four tasks with more batches than that (SST-2, QQP, MNLI, QNLI) share most
# updates equally, and the small ones get what they have (WNLI: 5 batches).

# %%
import math

from qmtl_utils.studies.plan import GLUE_SIZES  # (training, dev) examples of each GLUE task
from qmtl_utils.training import TaskSampler

sampler = TaskSampler({task: math.ceil(n / 128) for task, (n, _) in GLUE_SIZES.items()}, cap=300, seed=0)
order = list(sampler)  # the task of each update of one epoch
shares = pd.Series(order).value_counts(normalize=True).reindex(list(GLUE_SIZES))
assert (shares * len(order)).round().astype(int).to_dict() == sampler.counts
assert [task for task, n in sampler.counts.items() if n == 300] == ["sst2", "qqp", "mnli", "qnli"]
shares.rename("λ_t: share of the epoch's updates").round(3)

# %% [markdown]
# ## 2. CheXpert's losses: Eqs. (23)-(25)
#
# CheXpert's five tasks are imbalanced (some classes are rare) and partly unlabelled. Each
# is a 3-class problem, class $c \in \{$uncertain, negative, positive$\}$, $K = 3$; a blank label is the
# sentinel $-100$ and is masked out. First, every class gets a weight inversely proportional to how often
# it occurs among the task's training labels:
#
# $$w_{c,t} = \frac{N}{K \cdot n_{c,t}} \qquad (23)$$
#
# The paper's $N$ is the number of training samples; we count task $t$'s **labelled** samples, $N_t$
# (a blank has no class). The two readings differ by the factor $N / N_t$ per task, which cancels in
# the loss below (checked there). By hand on a label matrix of $N = 10$ samples and two tasks, against
# the package:

# %%
from qmtl_utils.training.losses import IGNORE_INDEX, FocalLoss, inverse_frequency_weights, masked_multitask_focal_loss

UNC, NEG, POS, BLANK, K = 0, 1, 2, IGNORE_INDEX, 3
chex_labels = torch.tensor(
    [[NEG, NEG], [NEG, POS], [NEG, BLANK], [NEG, NEG], [POS, BLANK], [NEG, UNC], [UNC, NEG], [NEG, BLANK], [POS, NEG], [NEG, POS]]
)  # (N, T) = (10, 2)
by_hand = []
for column in chex_labels.T:
    labelled = column[column != BLANK]
    n_c = torch.bincount(labelled, minlength=K).float()  # n_{c,t}
    by_hand.append(len(labelled) / (K * n_c))  # N_t / (K n_{c,t})
w = inverse_frequency_weights(chex_labels)
assert torch.allclose(w, torch.stack(by_hand))
pd.DataFrame(w.numpy(), index=["task 1", "task 2"], columns=["uncertain", "negative", "positive"]).round(3)

# %% [markdown]
# The rarest class weighs most. Second, the **focal loss** of a labelled sample whose true class the
# model gives probability $\hat p$:
#
# $$\mathcal L_{\mathrm{FL}}(\hat p) = -\alpha\,(1-\hat p)^{\gamma}\log\hat p \qquad (24)$$
#
# with $\gamma = 2$, $\alpha = 1$. At $\gamma = 0$ it is the cross-entropy $-\log\hat p$; the factor
# $(1-\hat p)^{\gamma}$ shrinks the loss of samples the model already gets right ($\hat p \to 1$), so the
# gradient comes mostly from the hard ones:

# %%
p_grid = np.linspace(0.01, 1, 200)
fig, ax = plt.subplots(figsize=(4.8, 2.8))
for gamma in (0, 1, 2):
    ax.plot(p_grid, -((1 - p_grid) ** gamma) * np.log(p_grid), label=f"γ = {gamma}" + (" (cross-entropy)" if gamma == 0 else ""))
ax.set(xlabel=r"$\hat p$, probability of the true class", ylabel=r"$\mathcal{L}_{\mathrm{FL}}$", ylim=(0, 4.7))
ax.legend()
plt.show()

# %% [markdown]
# The class weights enter per sample, "inside the cross-entropy", and a task's loss is the weighted
# mean over its labelled samples,
# $\mathcal L_t = \sum_i w_{y_i,t}\,\mathcal L_{\mathrm{FL}}(\hat p_i) \big/ \sum_i w_{y_i,t}$, blanks excluded
# (a normalisation the paper leaves open: with it, $\gamma = 0$, $\alpha = 1$ is exactly PyTorch's weighted
# cross-entropy, and the factor $N/N_t$ of Eq. (23) cancels). CheXpert's objective is Eq. (1) with
# $\lambda_t = 1$ over these task losses. By hand, on random logits for the two tasks above:

# %%
generator = torch.Generator().manual_seed(1)
chex_logits = [torch.randn(len(chex_labels), K, generator=generator) for _ in range(2)]
task_losses = []
for t, out in enumerate(chex_logits):
    target = chex_labels[chex_labels[:, t] != BLANK, t]  # the labelled samples only
    p_hat = out[chex_labels[:, t] != BLANK].softmax(dim=1).gather(1, target[:, None]).squeeze(1)
    weight = w[t][target]  # w_{y_i,t}, Eq. (23)
    focal = -1.0 * (1 - p_hat) ** 2 * torch.log(p_hat)  # Eq. (24), α = 1, γ = 2
    task_losses.append((weight * focal).sum() / weight.sum())
    assert torch.isclose(task_losses[-1], FocalLoss(gamma=2.0, alpha=1.0, class_weights=w[t])(out, chex_labels[:, t]))
assert torch.isclose(sum(task_losses), masked_multitask_focal_loss(chex_logits, chex_labels, w))  # Eq. (1), λ_t = 1
assert torch.isclose(
    FocalLoss(gamma=0.0, class_weights=w[0])(chex_logits[0], chex_labels[:, 0]),
    F.cross_entropy(chex_logits[0], chex_labels[:, 0], weight=w[0], ignore_index=BLANK),
)
w_literal = inverse_frequency_weights(chex_labels, normalisation="entries")  # Eq. (23) with the paper's N = 10
assert torch.allclose(w_literal[1] / w[1], torch.tensor(10 / 7))  # task 2 has N_t = 7 labelled samples
assert torch.isclose(FocalLoss(class_weights=w_literal[1])(chex_logits[1], chex_labels[:, 1]), task_losses[1])
[round(loss.item(), 4) for loss in task_losses]

# %% [markdown]
# Third, evaluation. A clinician asks "positive or not?", so the 3-class output becomes a probability of
# the positive class by dropping "uncertain" and renormalising:
#
# $$p_+^{(\mathrm{binary})} = \frac{p_+}{p_+ + p_-} \qquad (25)$$
#
# A sample is called positive when $p_+^{(\mathrm{binary})} \ge 0.5$, and only samples labelled negative or
# positive are scored (Acc, P, R, F1 of the positive class). The softmax's normaliser and the uncertain
# mass cancel, so $p_+^{(\mathrm{binary})} = \sigma(z_+ - z_-)$ with $z$ the logits and $\sigma$ the
# logistic function, which is how `binary_positive_probability` computes it (without overflow):

# %%
from qmtl_utils.training.metrics import binary_positive_probability

p = chex_logits[0].softmax(dim=1).numpy()  # columns: uncertain, negative, positive
p_binary = p[:, POS] / (p[:, POS] + p[:, NEG])  # Eq. (25)
assert np.allclose(p_binary, binary_positive_probability(chex_logits[0].numpy()))
p_binary.round(3)

# %% [markdown]
# ## 3. One model: features → projection → QMTL head
#
# The worked example trains the QMTL head on Extended MUStARD: five tasks (sarcasm; implicit and
# explicit sentiment, 3 classes; implicit and explicit emotion, 9 classes) on $Q = 13$ qubits with
# $L = 3$, so $d = 39$, and $S_t = (1, 2, 2, 4, 4)$. Its backbone is frozen and ran beforehand: each
# utterance is already a feature vector $\mathbf x_i$ (the demo's seeded features; under lite, MiniLM
# text features, with the authors' audio and visual ones where present; under paper, the authors'
# multimodal features). Its rows are split as the protocol
# splits them (C.3): the profile's first fold is the test set, and 20 % of the other rows, stratified
# by sarcasm, validate:

# %%
from qmtl_utils.models.backbones.mustard import MustardProjection, mustard_features
from qmtl_utils.training.mustard import MustardSettings, validation_split

mustard_training = settings["training"]["mustard"]
_, features, label_frame, folds, what = mustard_features(cache, settings["data"]["mustard"])
x = torch.from_numpy(features)
y = torch.as_tensor(label_frame[list(mustard.task_names)].to_numpy(), dtype=torch.long)
fold = mustard_training["replicates"][0]
test_rows = folds[fold]
others = np.setdiff1d(np.arange(len(x)), test_rows)
train_rows, val_rows = validation_split(others, mustard_training["validation_fraction"], fold, strata=y[others, 0].numpy())
print(f"{what}: x is {tuple(x.shape)}; {len(train_rows)} training, {len(val_rows)} validation, {len(test_rows)} test rows")

# %% [markdown]
# A linear projection maps $\mathbf x_i$ to $\mathbf Z_i \in \mathbb R^{39}$ (a "shallow dense network",
# Appendix B.3; one layer is our reading), and the QMTL head of `02_heads` maps $\mathbf Z_i$ to the five
# tasks' logits. It is built as the benchmark runs build it: torch seeded with the fold, then the
# projection, then the head, so every build starts from the same weights.

# %%
from qmtl_utils.models.factory import make_head
from qmtl_utils.runtime.executor import unit_threads
from qmtl_utils.training import MultiTaskModel

torch.set_num_threads(unit_threads())  # the thread count of every cached run: the same numbers to the last bit


def build_model(seed=fold):
    torch.manual_seed(seed)
    projection = MustardProjection.for_head("qmtl", x.shape[1], d=mustard.d)  # x_i -> Z_i: Linear(D, 39)
    head = make_head(mustard, "qmtl")  # Z_i -> the five tasks' logits (QMTLHead, Eqs. (2)-(5))
    return MultiTaskModel(projection, head)  # forward(x) = head(projection(x))


model = build_model()
print(
    f"projection {sum(p.numel() for p in model.backbone.parameters())} parameters, "
    f"QMTL head {sum(p.numel() for p in model.head.parameters())}"
)
[tuple(out.shape) for out in model(x[:4])]  # a batch of 4: one (4, r_t) logit tensor per task

# %% [markdown]
# ## 4. The training loop, written out (Extended MUStARD, Appendix C.3)
#
# Every epoch shuffles the training rows; for each batch of 16: a forward pass, Eq. (1) with
# $\lambda_t = 0.2$ (QMTL's task weight), a backward pass (exact gradients through the simulated
# circuit; the paper estimates the same gradient with parameter shift) and one Adam step with
# $\eta = 10^{-3}$. After each epoch the sarcasm F1 on the validation rows decides the **checkpoint**:
# the weights of the best epoch so far are kept (the first, if two tie) and restored at the end; the
# test metrics come from them. C.3 has no early stopping and no gradient clipping. Apart from its
# progress lines, this is `qmtl_utils.training.train_mustard`:

# %%
import copy

from sklearn.metrics import f1_score

from qmtl_utils.runtime.seeding import seed_everything


def sarcasm_f1(model, rows):
    """C.3's validation score: the F1 of the sarcastic class (a logit > 0 says sarcastic)."""
    model.eval()
    with torch.no_grad():
        predicted = (model(x[rows])[0].reshape(-1) > 0).long()
    model.train()
    return f1_score(y[rows, 0].numpy(), predicted.numpy(), zero_division=0)


def train(model, epochs, lr, batch_size, weights, seed):
    seed_everything(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    shuffle = torch.Generator().manual_seed(seed)
    x_train, y_train = x[train_rows], y[train_rows]
    history, update_losses, best = [], [], None
    for epoch in range(1, epochs + 1):
        losses = []
        for rows in torch.randperm(len(x_train), generator=shuffle).split(batch_size):
            loss = multitask_loss(kinds, model(x_train[rows]), y_train[rows], weights)  # Eq. (1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        update_losses += losses
        history.append(
            {"epoch": epoch, "train_loss": float(np.mean(losses)), "val_sarcasm_f1": float(sarcasm_f1(model, val_rows))}
        )
        if best is None or history[-1]["val_sarcasm_f1"] > best[0]:  # the checkpoint
            best = (history[-1]["val_sarcasm_f1"], epoch, copy.deepcopy(model.state_dict()))
    model.load_state_dict(best[2])
    return pd.DataFrame(history), update_losses, best[1]


# %% [markdown]
# A short run: the protocol's settings for this profile, but only the first `short_epochs` epochs.

# %%
import time

protocol = MustardSettings(
    **{
        **mustard_training["train"],
        "seed": fold,
        "verbose": False,
        "task_weight": mustard_training["qmtl_task_weight"],
        "max_epochs": min(short_epochs, MustardSettings(**mustard_training["train"]).max_epochs),
    }
)
start = time.perf_counter()
history, update_losses, best_epoch = train(
    model, protocol.max_epochs, protocol.lr, protocol.batch_size, protocol.weights(), protocol.seed
)
print(
    f"{protocol.max_epochs} epochs, {len(update_losses)} updates in {time.perf_counter() - start:.1f} s; "
    f"checkpoint: epoch {best_epoch}"
)
history

# %% [markdown]
# The package's `train_mustard`, on a second model built from the same seed, with the same settings:
# the same batches in the same order and the same arithmetic, so the same history and the same
# restored weights, to the last bit.

# %%
from qmtl_utils.training import train_mustard

package_model = build_model()
package = train_mustard(package_model, features, y.numpy(), train_rows, val_rows, test_rows, protocol)
assert pd.DataFrame(package["history"]).equals(history) and package["best_epoch"] == best_epoch
assert all(torch.equal(mine, theirs) for mine, theirs in zip(model.state_dict().values(), package_model.state_dict().values()))
pd.DataFrame(package["test"]).T.round(3)  # the checkpoint's test metrics per task

# %% [markdown]
# Its learning curve: the training loss of every update (grey, noisy: each is one batch of 16) and its
# mean per epoch, and the validation score after each epoch. The dot is the checkpoint. Drawn by
# `qmtl_utils.report.plotting.learning_curves`, which draws the cached runs' curves below too.

# %%
from qmtl_utils.report.plotting import learning_curves

fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.2))
per_epoch = len(update_losses) / protocol.max_epochs
axes[0].plot(np.arange(1, len(update_losses) + 1) / per_epoch, update_losses, color="#bbbbbb", lw=0.8, label="each update")
learning_curves(
    axes,
    history.assign(
        step=history.epoch, validation=history.val_sarcasm_f1, variant="qmtl", replicate=fold, label="QMTL, mean per epoch"
    ),
    validation_label="validation sarcasm F1",
)
axes[0].legend(fontsize=8)
fig.suptitle(f"Extended MUStARD, QMTL, fold {fold}: {protocol.max_epochs} epochs ({profile} profile)", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 5. Every head, every replicate, on this benchmark
#
# Each (head, seed or fold) run uses its benchmark's protocol, the ones of §1:
#
# * **GLUE, task-sampled (C.1):** one task per update, drawn as above; AdamW (weight decay 0.01),
#   gradient clipping at 1.0. Every `validate_every` updates (2,000 in the paper) every task's primary
#   metric is computed on its dev split; their macro average drives the learning-rate schedule
#   (ReduceLROnPlateau, factor 0.2), early stopping (after 5 checks without improvement in the
#   paper) and the checkpoint.
# * **CheXpert, masked (C.2):** all five tasks per image, Eqs. (23)-(24) with blanks masked, Adam,
#   clipping at 1.0; every second epoch (in the paper) the validation mean F1 over the tasks
#   (Eq. (25) decisions) drives early stopping and the checkpoint.
# * **Extended MUStARD, parallel (C.3):** the loop of §4, 50 epochs in the paper.
#
# Quantum heads train on the fast simulator (exact gradients). Every finished run is cached with its
# metrics, its checkpoint's step and score, and its **history** (one row per validation check), so an
# interrupted notebook resumes where it stopped and the curves below are read, not retrained.

# %%
from qmtl_utils.studies import benchmark_runs

results = benchmark_runs.run_benchmark(cache, settings, benchmark)
metrics, runs, runs_history = (results.read_csv(name) for name in ("metrics.csv", "runs.csv", "history.csv"))
runs

# %% [markdown]
# ## 6. Learning curves of every head, from the cache
#
# Training loss and the validation score that selects the checkpoint, one line per run (every seed or
# fold), against the epoch (GLUE: the update count at each validation check). Each dot is a run's
# checkpoint, the run whose test metrics §7 reports; the loss scale differs between heads when their
# $\lambda_t$ differ (Extended MUStARD: QMTL's is 0.2, Exercise 2).

# %%
VALIDATION_SCORE = {
    "glue": "validation: mean primary metric",
    "chexpert": "validation mean F1",
    "mustard": "validation sarcasm F1",
}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
learning_curves(
    axes, runs_history, validation_label=VALIDATION_SCORE[benchmark], step_label="update" if benchmark == "glue" else "epoch"
)
axes[1].legend(fontsize=8)
fig.suptitle(f"{spec.title}: every head and replicate ({profile} profile)", fontsize=10)
fig.tight_layout()
plt.show()
checkpoints = runs_history.loc[runs_history.groupby(["variant", "replicate"]).validation.idxmax()]
assert (
    checkpoints.set_index(["variant", "replicate"]).step == runs.set_index(["variant", "replicate"]).best_step
).all()  # the dots are the reported checkpoints

# %% [markdown]
# ## 7. Test metrics against the majority baseline and the ceiling
#
# A number means something only next to two others: what a head that ignores its input reaches
# (the **majority baseline**: the most frequent training class, for every test sample) and what the
# data allow (the **ceiling**: a logistic regression on the demo generator's true latent variables,
# or its noiseless labels for GLUE, except WNLI, whose label no head of this class can read; real
# data have no ceiling). Both are computed on exactly each
# run's test split with the same metric code (`qmtl_utils.studies.references`). Heads: mean and
# 95 % confidence interval over the replicates (Student t; with 3 replicates its half-width is about
# 2.5 standard deviations).

# %%
from qmtl_utils.report.summaries import results_table
from qmtl_utils.studies import references

refs = references.baselines_and_ceilings(cache, settings, benchmark)
for task, reason in references.NO_CEILING.items():
    if benchmark == "glue" and settings["is_demo"]:
        print(f"{task}: {reason}")
results_table(metrics, refs.read_csv("references.csv"))

# %% [markdown]
# The same numbers as bars (the benchmark's headline metrics: GLUE's primary and secondary metric of
# each task, Table 3; accuracy and F1 otherwise), the baseline dashed and the ceiling green across
# each task, drawn by `qmtl_utils.report.plotting.results_panel` (Figs. 5–7 of `07_figures` show
# every metric):

# %%
from qmtl_utils.report.plotting import results_panel

panels = ("primary", "secondary") if benchmark == "glue" else ("accuracy", "f1")
tasks = [t for t in spec.task_names if t in set(metrics.task)]
fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.9 * len(panels)))
for ax, metric in zip(axes, panels):
    results_panel(
        ax,
        metrics,
        refs.read_csv("references.csv"),
        tasks,
        metric,
        title=f"{spec.title}: {metric} ({profile} profile)",
        ylim=None if benchmark == "glue" else (0, 1.05),
    )
fig.tight_layout()
fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=6, fontsize=8)
plt.show()

# %% [markdown]
# ## Is there signal? Each head's predictions against the labels
#
# Accuracy above the majority class is the wrong test for a head trained with class weights on a task
# whose majority class is 97 % (CheXpert's atelectasis): the weighted loss trades accuracy for recall
# by design. So per task we ask whether a head's test predictions **depend on the label** (one-sided
# Fisher test for binary decisions, chi-square for more classes) and, for binary decisions, whether
# its scores rank positives above negatives (**AUROC** > 0.5, one-sided Mann-Whitney); `signal_p` is
# the larger p-value (STS-B: Spearman's ρ > 0). CheXpert and MUStARD folds are disjoint, so their
# samples are pooled; GLUE's seeds share one dev split, so each seed is tested and the largest p-value
# is kept. The **signal criterion**: the classical head carries signal (p < 0.01) on every task where
# the ceiling does. If it fails, the demo is too small to show anything; the quantum heads' rows are
# whatever they are. Balanced accuracy and AUROC are in the results table above; accuracy against
# the majority class (`p_value`) stays in `signal.csv` beside them.

# %%
signal = refs.read_csv("signal.csv")
signal.pivot(index="task", columns="model", values="signal_p").map(lambda p: f"{p:.2g}")

# %%
criterion = refs.read_csv("criterion.csv")
print(
    f"signal criterion {'holds' if criterion.holds.all() else 'FAILS'} on {benchmark}:",
    f"{int(criterion.holds.sum())} of {len(criterion)} tasks",
)
criterion

# %% [markdown]
# ## Is QMTL different from each baseline?
#
# For each replicate, average a metric over the tasks, then compare QMTL with each baseline on the
# same seeds or folds (paired t-test and Wilcoxon signed-rank). With three to five replicates these
# tests have little power: read the mean differences first.

# %%
from qmtl_utils.report.summaries import paired_tests

paired_tests(metrics)


# %% [markdown]
# Under the demo profiles these numbers come from seeded stand-in data with each benchmark's
# structure and scaled-down backbones (`qmtl_utils/runtime/profiles.py` says what differs): they
# show what each head does on data that carry a known amount of signal, not how the heads compare
# on the real benchmarks. Under `lite` they are the real benchmarks at reduced scale (the same
# profile file lists every deviation from the paper); `03b_paper_claims` puts the paper's claims to
# them.

# %% [markdown]
# ## 8. Exercises
#
# Each question is followed by its answer and a cell that checks it (the test suite runs it). Try the
# question before you read on.
#
# **Exercise 1 (learning rate).** Halve the learning rate $\eta$ of §4. How far does each weight move in
# the first update, and what does that predict for the start of the training-loss curve?

# %% [markdown]
# **Answer.** Adam divides each gradient component $g$ by a running estimate of its size; after one
# step those estimates are $g$ and $|g|$, so the first step is $\Delta\theta = -\eta\, g / (|g| + \epsilon)$:
# every weight whose gradient is not (nearly) zero moves by $\eta$, whatever the gradient's size, and
# at $\eta/2$ by exactly half as much in the same direction. The steps stay of order $\eta$ while the
# gradients keep their sign, so the curve starts about half as steep: the same fall of the loss takes
# about twice as many updates (later, where the curve flattens, a smaller $\eta$ can end lower).

# %%
def first_update(lr, weights=protocol.weights()):
    """Every weight's change in the first Adam update, from the seeded initial weights, on the first batch."""
    model = build_model()
    before = [p.detach().clone() for p in model.parameters()]
    rows = torch.from_numpy(train_rows[: protocol.batch_size])
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    multitask_loss(kinds, model(x[rows]), y[rows], weights).backward()
    optimizer.step()
    return torch.cat([(p.detach() - b).flatten() for p, b in zip(model.parameters(), before)])


full, half = first_update(protocol.lr), first_update(protocol.lr / 2)
assert torch.allclose(half, full / 2, atol=2e-6)  # the same direction, half the length
assert (full.abs() <= protocol.lr * 1.001).all() and math.isclose(full.abs().median(), protocol.lr, rel_tol=0.01)
f"median |Δθ| {full.abs().median():.2e} at η = {protocol.lr:g}, {half.abs().median():.2e} at η/2"


# %% [markdown]
# **Exercise 2 (task weights).** The QMTL head trains with $\lambda_t = 0.2$ on every task, the
# classical and HQNN heads with $\lambda_t = 1$ (Appendix C.3). Which term of Eq. (1) does this change,
# and what does it change in training with Adam? What if only sarcasm kept $\lambda_t = 1$?

# %% [markdown]
# **Answer.** $\lambda_t$ multiplies task $t$'s mean loss. The same $\lambda_t = 0.2$ on every task scales
# the whole objective, and so every gradient, by 0.2. Adam's step $\eta\,\hat m / (\sqrt{\hat v} + \epsilon)$
# is unchanged when every gradient is scaled by the same factor (numerator and denominator scale
# alike; only the tiny $\epsilon = 10^{-8}$ notices): the model follows the same path and computes the
# same outputs, and the loss curve is the same curve at 0.2 times the height. QMTL's 0.2 therefore
# changes nothing but the printed loss (`04b_open_choices` trains QMTL with $\lambda_t = 1$ to measure
# it). Unequal weights do change the path: they change the balance between the tasks' gradients.
#
# One caveat, visible if you compare weights instead of outputs: a weight the loss does not depend on
# (the last $R_Z$ of sarcasm's block, just before $\langle Z\rangle$ is read) has a gradient of rounding
# noise, $10^{-9}$ or so, which $\epsilon$ no longer dwarfs: Adam turns it into steps of up to $\eta$ in
# random directions, different under the two scales, and harmless, since the outputs do not depend on
# that weight. So the check compares what the models compute on the validation rows:

# %%
def after_updates(weights, n_updates=5):
    """(last batch loss, logits on the validation rows) after a few Adam updates from the seeded weights."""
    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=protocol.lr)
    for rows in torch.from_numpy(train_rows[: n_updates * protocol.batch_size]).split(protocol.batch_size):
        loss = multitask_loss(kinds, model(x[rows]), y[rows], weights)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return loss.item(), torch.cat(model(x[val_rows]), dim=1)


(loss_02, out_02), (loss_1, out_1) = after_updates([0.2] * 5), after_updates([1.0] * 5)
_, out_sarcasm = after_updates([1.0] + [0.2] * 4)
assert math.isclose(loss_02, 0.2 * loss_1, rel_tol=1e-3)  # the same point of the path, 0.2 times the loss
assert (out_02 - out_1).abs().max() < 1e-4 < (out_sarcasm - out_1).abs().max()
{"λ_t = 0.2 vs 1": (out_02 - out_1).abs().max().item(), "sarcasm's λ = 1 vs 1": (out_sarcasm - out_1).abs().max().item()}

# %% [markdown]
# **Exercise 3 (class weights and focal loss).** A CheXpert task has 90 negative, 9 positive and 1
# uncertain training label. Give its Eq. (23) weights. The model gives a positive sample and a negative
# sample each $\hat p = 0.9$ for their true class: how do their terms in the loss compare? And a hard
# positive sample with $\hat p = 0.1$, against the easy one?

# %% [markdown]
# **Answer.** $N = 100$, $K = 3$: $w_{\text{neg}} = 100/(3\cdot 90) = 0.370$, $w_{\text{pos}} = 100/(3 \cdot 9) = 3.70$,
# $w_{\text{unc}} = 100/3 = 33.3$. Both easy samples have the same focal loss,
# $(1 - 0.9)^2 \cdot (-\log 0.9) = 0.00105$, so their terms compare as their weights: the positive counts
# $90/9 = 10$ times the negative (in an unweighted cross-entropy they would count the same). The hard
# positive's focal loss is $0.9^2 \cdot (-\log 0.1) = 1.865$, about 1,770 times the easy one's (with
# $\gamma = 0$ it would be $\log 0.1 / \log 0.9 \approx 22$ times): the focal loss spends the gradient on
# the hard samples of the rare classes.

# %%
task = torch.tensor([[NEG]] * 90 + [[POS]] * 9 + [[UNC]])  # (100, 1)
w3 = inverse_frequency_weights(task)[0]
assert torch.allclose(w3, torch.tensor([100 / 3, 100 / 270, 100 / 27]))
easy, hard = (1 - 0.9) ** 2 * -np.log(0.9), (1 - 0.1) ** 2 * -np.log(0.1)  # Eq. (24), γ = 2
logits3 = torch.log(torch.tensor([[0.05, 0.05, 0.90], [0.05, 0.90, 0.05]]))  # softmax: p̂ = 0.9 for each
targets3 = torch.tensor([POS, NEG])
assert torch.isclose(
    FocalLoss(class_weights=w3)(logits3, targets3),  # the weighted mean of the two terms
    (w3[POS] * easy + w3[NEG] * easy) / (w3[POS] + w3[NEG]),
)
assert round(float(w3[POS] / w3[NEG]), 6) == 10 and round(hard / easy) == 1770
w3.numpy().round(3), round(easy, 5), round(hard, 3)

# %% [markdown]
# **Exercise 4 (reading a learning curve).** In §6, some runs' validation score peaks before their
# last check while their training loss keeps falling. Which weights give the test metrics of §7, those
# of the last epoch or those at the dot? And how many validation checks of each run come after its
# checkpoint?

# %% [markdown]
# **Answer.** The dot's: every protocol restores the checkpoint, the weights of the first check with
# the best validation score, before it computes the test metrics; checks after it did not beat it
# (GLUE and CheXpert stop early after a fixed number of them; MUStARD runs every epoch). The training
# loss can keep falling after the dot while the validation score does not rise: the head fits the
# training rows better without predicting new rows better (over-fitting, or just noise in a small
# validation set). The count per run, from the cached histories:

# %%
RUN = ["variant", "replicate"]
checked = runs_history.join(runs.set_index(RUN)[["best_step", "best_validation"]], on=RUN)  # rows + their run's checkpoint
at_best = checked[checked.step == checked.best_step]
assert len(at_best) == len(runs) and np.allclose(at_best.validation, at_best.best_validation)  # one row is the dot
assert not ((checked.step > checked.best_step) & (checked.validation > checked.best_validation)).any()  # none beats it
assert not ((checked.step < checked.best_step) & (checked.validation >= checked.best_validation)).any()  # it is the first
after = (checked.step > checked.best_step).groupby([checked.variant, checked.replicate]).sum()
after.rename("checks after the checkpoint").unstack("replicate")

# %% [markdown]
# ## Environment

# %%
environment_report()
