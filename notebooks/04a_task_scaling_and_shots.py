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
# # 04a · Beyond the paper: dozens of tasks, and the price in shots
#
# The paper proves that the QMTL head's parameters grow linearly in the number of tasks `T` while a
# classical multi-head grows quadratically (Theorem 1, Eqs. (12)-(17)), but it trains at `T = 5` and
# `T = 9` only, and it never prices the extra measurements its multi-observable readout needs.
# This notebook asks both questions empirically:
#
# 1. **Task scaling.** A seeded family of related tasks whose number `T` we can dial, with heads
#    sized by the capacity-matched rule `Q = S·T`, `d = S·T·L`: how do accuracy, parameters and
#    training time move as `T` grows — to 64 tasks (128 qubits) under the `paper` profile?
# 2. **Shot budget.** For the trained CheXpert and MUStARD heads: how many measurement settings
#    does one prediction need, and how many shots per setting before the metrics match the exact
#    (infinite-shot) readout?
#
# **Reads:** the fold-1 checkpoint in `run_chexpert` (with its dataset `data_chexpert`).
# **Writes:** one `scaling_run` entry per run, the tables `scaling_results` and `shot_budget`, which
# `07_figures` draws.

# %% tags=["parameters"]
profile: str = "demo"  # paper | lite | demo | smoke — settings in qmtl_utils/runtime/profiles.py

# %%
import time

import pandas as pd
import torch

from qmtl_utils.report.summaries import task_means
from qmtl_utils.studies import shot_study, task_scaling
from qmtl_utils.runtime.cache import Cache
from qmtl_utils.notebook import environment_report, setup_notebook

settings = setup_notebook(profile)
cache = Cache.for_profile(profile)
study = task_scaling.coerce(settings["task_scaling"])
print(f"T in {study.tasks}, seeds {study.seeds}, heads {study.variants}")

# %% [markdown]
# ## 1. A family of tasks with a dial
#
# Every task reads the same inputs `x = uA + noise`, generated from a shared 8-dimensional latent
# `u`; task `t` labels a sample by the projection of `u` on its own random direction — binary for
# even `t`, three balanced classes for odd `t`. The tasks therefore share structure (one latent
# space) without being copies of each other, and the first tasks of a large family are exactly the
# tasks of a small one.

# %%
family = task_scaling.make_task_family(4, seed=0, n_train=study.n_train, n_test=study.n_test)
print("x:", family.x_train.shape, " outputs per task r_t:", family.task_outputs)
pd.DataFrame(
    {f"task {t}": pd.Series(family.y_train[:, t]).value_counts().sort_index() for t in range(family.y_train.shape[1])}
).fillna(0).astype(int)

# %% [markdown]
# ## Heads sized by the capacity-matched rule
#
# `S = 2` qubits per task, `Q = S·T` (Eq. (13)), `d = S·T·L` (Eq. (14)). A binary task reads `⟨Z⟩` on
# its first qubit, a 3-class task reads `ZI, IZ, XX`. The same shared projection
# `Linear(32 → d) → tanh` feeds a classical multi-head, HQNN-4 and QMTL.

# %%
rows = []
for T in study.tasks:
    config = task_scaling.capacity_matched_config(T, study.task_qubits, study.n_layers, study.head_layers)
    rows.append(
        {
            "T": T,
            "Q": config.n_qubits,
            "d": config.d,
            **{v: task_scaling.closed_form_params(v, config, study.hqnn_qubits)[0] for v in study.variants},
        }
    )
pd.DataFrame(rows).set_index("T")

# %% [markdown]
# ## Beyond the state vector: an exact matrix product state
#
# At `T = 16` the head has `Q = 32` qubits — a 2³²-amplitude state vector per sample, beyond a
# laptop. But look at the encoder again: the CNOT ladder `CNOT(0,1), CNOT(1,2), …` maps
# `|x₀x₁x₂…⟩` to the prefix parities `|x₀, x₀⊕x₁, x₀⊕x₁⊕x₂, …⟩`. Each qubit only needs one bit of
# information from its left — an operator of bond dimension 2. After `L` layers the encoder state is
# therefore **exactly** a matrix product state of bond dimension at most `2^L`, and every task block
# touches only its own qubits. `qmtl_utils.quantum.mps` simulates it exactly, with cost linear in `Q`.

# %%
from qmtl_utils.models.heads import QMTLHead
from qmtl_utils.quantum.mps import max_bond_dimension

torch.manual_seed(0)
for T in (4, 16, 64):
    config = task_scaling.capacity_matched_config(T)
    head = QMTLHead(config, backend="mps")
    z = torch.randn(32, config.d)
    start = time.perf_counter()
    with torch.no_grad():
        head.expectation_values(z)
    print(
        f"T={T:3d}  Q={config.n_qubits:3d}  bond dimension ≤ {max_bond_dimension(config)}  "
        f"forward of 32 samples: {time.perf_counter() - start:.3f} s"
    )

# %% [markdown]
# `tests/test_mps.py` checks this path against the state vector to 1e-6 wherever both fit
# (`Q ≤ 16`), outputs and gradients. **What it means for a course:** at the paper's depths
# (`L = 3`) the QMTL head is classically simulable in time linear in the number of qubits. Its
# parameter efficiency is real, but it is not evidence of a quantum advantage; only deeper
# encoders (bond dimension `2^L`) or a different entangling pattern would make it hard to simulate.
#
# ## Train every head for every T
#
# One cache entry per (T, head, seed): an interrupted sweep resumes where it stopped. QMTL heads with
# `Q > 8` run on the MPS backend.

# %%
results = task_scaling.run_scaling(cache, study)
runs = results.read_csv("runs.csv")
from qmtl_utils.report.summaries import scaling_summary

scaling_summary(runs).round(3)

# %% [markdown]
# Parameters are counted on the instantiated heads and agree with the closed forms:

# %%
assert (runs.head_params == runs.closed_form_params).all()
runs.pivot_table(index="T", columns="variant", values="head_params", aggfunc="first")

# %% [markdown]
# ## 2. The shot budget of multi-observable readout
#
# A prediction needs every observable of every task. Words that commute qubit by qubit share one
# measurement setting; the tasks sit on disjoint qubits, so one setting serves all tasks at once and
# the number of settings is the largest per-task count. Below, each trained head is read with a
# finite number of shots per setting, sampled exactly from its measurement distribution (three
# seeds), and compared with the exact readout the training used.

# %%
shot_entries = {b: shot_study.shot_budget(cache, settings, b) for b in settings["shot_budget"]["benchmarks"]}
for benchmark, entry in shot_entries.items():
    info = entry.read_json("info.json")
    print(
        f"{benchmark}: {info['measurement_settings']} measurement settings per prediction, "
        f"{info['n_samples']} test samples; groups of the first task: {info['groups_per_task'][0]}"
    )

# %%
for benchmark, entry in shot_entries.items():
    table = entry.read_csv("shots.csv")
    mean = task_means(table[table.metric.isin(["accuracy", "f1"])], ["total_shots", "seed"])
    display(
        mean.groupby(["total_shots", "metric"])
        .value.agg(["mean", "std"])
        .unstack("metric")
        .round(3)
        .rename_axis(f"{benchmark}: total shots per prediction")
    )


# %% [markdown]
# The classical head reads its logits for free: zero shots. The QMTL head's saving in parameters is
# paid for in circuit executions per prediction — the trade-off a deployment has to price.
#
# Under the demo profile the task family is small and trained briefly and the checkpoints come from
# demo data: the trends are real computations, the absolute numbers are not the paper's.

# %% [markdown]
# ## 3. Exercises
#
# Each question is followed by its answer and a cell that checks it (the test suite runs it).
# Try the question before you read on.

# %% [markdown]
# **Exercise 1 (settings and shots).** How many measurement settings does one prediction of each
# trained head above need, and how many shots does one test sample cost at the largest budget of
# this study? Group each task's words by hand: two words share a setting when, qubit by qubit, their
# letters agree or one of them is $I$.

# %% [markdown]
# **Answer.** CheXpert's tasks read $ZI, IZ, XX$: $ZI$ and $IZ$ share the computational basis, $XX$ needs
# both qubits rotated, so two groups. MUStARD's 9-class tasks read eight $Z$-type words and $XXXX$: two
# groups as well; its 3-class tasks read $ZI, IZ, XX$ and sarcasm reads $Z$. The task registers are
# disjoint, so the $k$-th group of every task is measured in the same execution: a prediction needs
# $\max_t G_t = 2$ settings, and costs $2 \times$ the shots per setting. The cell groups the words by
# hand and checks the count and the shot totals the study recorded:

# %%
def commute_qubitwise(a, b):
    return all(x == y or "I" in (x, y) for x, y in zip(a, b))


def groups_by_hand(words):
    groups = []
    for word in words:
        home = next((g for g in groups if all(commute_qubitwise(word, other) for other in g)), None)
        if home is None:
            groups.append([word])
        else:
            home.append(word)
    return groups


rows = []
for benchmark, entry in shot_entries.items():
    info, table = entry.read_json("info.json"), entry.read_csv("shots.csv")
    settings_needed = max(len(groups_by_hand(words)) for words in info["observables"])
    assert settings_needed == info["measurement_settings"]
    finite = table[~table.exact]
    assert (finite.total_shots == finite.shots_per_setting * settings_needed).all()
    largest = int(finite.shots_per_setting.max())
    rows.append(
        {
            "benchmark": benchmark,
            "settings": settings_needed,
            "shots per setting": largest,
            "shots per sample": largest * settings_needed,
            "shots for the test samples": largest * settings_needed * info["n_samples"],
        }
    )
pd.DataFrame(rows)

# %% [markdown]
# **Exercise 2 (shot noise).** A Pauli word's outcome is $\pm 1$, so $N$ shots estimate $\langle P\rangle$
# with standard error $\sqrt{(1 - \langle P\rangle^2)/N}$. How many shots per setting keep the shot noise
# of *every* expectation value below 0.01? How large is it at this study's largest budget?

# %% [markdown]
# **Answer.** The error is largest at $\langle P\rangle = 0$, where it is $1/\sqrt N$: $N = 10{,}000$
# shots per setting, 20,000 per prediction with two settings. Shot noise falls only as $1/\sqrt N$: each
# halving costs four times the shots. The cell checks the formula by sampling $\pm 1$ outcomes:

# %%
import numpy as np

rng = np.random.default_rng(0)
needed = int(np.ceil((1 / 0.01) ** 2))
for value in (0.0, 0.5, 0.9):
    estimates = 2 * rng.binomial(needed, (1 + value) / 2, size=4000) / needed - 1  # mean of N outcomes ±1
    formula = np.sqrt((1 - value**2) / needed)
    assert abs(estimates.std() / formula - 1) < 0.05 and formula <= 0.01
largest = max(int(e.read_csv("shots.csv").query("not exact").shots_per_setting.max()) for e in shot_entries.values())
print(f"{needed:,} shots per setting for ±0.01; at {largest:,} shots the worst-case error is {1 / np.sqrt(largest):.3f}")

# %% [markdown]
# **Exercise 3 (why the MPS is exact).** Cut the encoder's register between qubits $c - 1$ and $c$. The
# Schmidt rank of the state across that cut is the bond dimension an MPS needs there. Predict it as a
# function of $c$, $Q$ and $L$.

# %% [markdown]
# **Answer.** $\min(2^L, 2^c, 2^{Q-c})$. Each encoder layer's CNOT ladder sends one bit of information
# across every cut (the parity of the qubits to its left), so $L$ layers send at most $L$ bits, rank
# $2^L$; and no state can have a larger rank than the smaller side's dimension. Its largest value over
# the cuts is `max_bond_dimension`, $2^L$, whatever $Q$: so the cost is linear in $Q$ and exponential
# only in $L$. The cell computes the state vector of a capacity-matched encoder with $Q = 8$ and
# the rank of every cut:

# %%
from qmtl_utils.quantum.statevector import qmtl_encoder_state

torch.manual_seed(0)
for L in (1, 2, 3):
    config = task_scaling.capacity_matched_config(4, n_layers=L)  # Q = 8
    Q = config.n_qubits
    weights = QMTLHead(config).double().encoder_weights.detach()
    state = qmtl_encoder_state(2 * torch.pi * torch.rand(1, config.d, dtype=torch.float64), weights, config)[0]
    ranks = [int(np.linalg.matrix_rank(state.reshape(2**c, -1).numpy(), tol=1e-10)) for c in range(1, Q)]
    assert ranks == [min(2**L, 2**c, 2 ** (Q - c)) for c in range(1, Q)]
    assert max(ranks) == max_bond_dimension(config) == 2**L
    print(f"L = {L}: Schmidt ranks across the cuts {ranks}")

# %% [markdown]
# ## Environment

# %%
environment_report()
