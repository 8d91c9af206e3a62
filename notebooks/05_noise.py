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
# # 05 · Depolarizing noise (§6.3)
#
# How gracefully does the trained QMTL head degrade when every gate is noisy? We take the CheXpert
# head trained on fold 1 (`03_training`), change nothing about its weights, and read it with an
# independent depolarizing channel after every one-qubit gate and every CNOT, `p ∈ {0.01, 0.05, 0.1,
# 0.2}`, with a finite number of shots — the way a device would read it.
#
# The noisy expectation values are computed **exactly** (no trajectories, no truncation) by
# `qmtl_utils.quantum.exact_noise`, on the whole test fold; Qiskit Aer's density-matrix simulator, the
# reference, checks it below on a handful of samples.
#
# **Reads:** the fold-1 checkpoint in `run_chexpert` (trained head and test-fold features `Z`; its
# dataset `data_chexpert`). **Writes:** `noise_level` (one entry per `p`) and the table `noise_chexpert`,
# which `07_figures` draws as Fig. 10.

# %% tags=["parameters"]
profile: str = "demo"  # paper | lite | demo | smoke — settings in qmtl_utils/runtime/profiles.py

# %%
import numpy as np
import pandas as pd
import torch

from qmtl_utils.studies import benchmark_runs, noise_study
from qmtl_utils.quantum import aer_noise
from qmtl_utils.runtime.cache import Cache
from qmtl_utils.notebook import environment_report, setup_notebook

settings = setup_notebook(profile)
cache = Cache.for_profile(profile)
head, z, labels, _ = benchmark_runs.load_checkpoint(cache, settings, "chexpert", "qmtl")
n_samples = settings["noise"]["n_samples"] or len(z)
print(f"fold-1 QMTL head; {n_samples} of {len(z)} test samples; noise settings: {settings['noise']}")

# %% [markdown]
# ## The head as a Qiskit circuit
#
# `qmtl_utils.quantum.qiskit_circuits` writes the same circuit as the PennyLane reference of `02_heads`
# (trained weights bound, the `d = 30` features left as parameters) and checks itself against our
# simulator: the exact expectation values agree to machine precision.

# %%
from qmtl_utils.quantum.qiskit_circuits import qmtl_qiskit_circuit, statevector_expectation_values

circuit = qmtl_qiskit_circuit(head)
print(f"{circuit.num_qubits} qubits, {circuit.num_parameters} input parameters, ops: {dict(circuit.count_ops())}")
with torch.no_grad():
    exact = head.expectation_values(torch.from_numpy(z[:4]).double()).numpy()
print("max |qiskit statevector - fast simulator|:", abs(statevector_expectation_values(head, z[:4]) - exact).max())

# %% [markdown]
# ## How many circuits per prediction?
#
# Each task reads `ZI`, `IZ` and `XX` on its two qubits. `ZI` and `IZ` are measured together in
# the computational basis; `XX` needs both qubits rotated. The five tasks sit on disjoint qubits, so
# **two measurement settings** read all fifteen observables, each with `shots` shots.

# %%
print("measurement settings per prediction:", aer_noise.measurement_settings(head.config))
print("noise model at p = 0.05:", aer_noise.depolarizing_noise_model(0.05))

# %% [markdown]
# ## The exact noisy path, checked against Aer
#
# Depolarizing noise multiplies every non-identity Pauli component on the qubits a gate acts on by
# `1 − p`. In the Pauli basis the whole noisy circuit is then a one-dimensional tensor network: one
# column per qubit, each noisy CNOT ladder an exact matrix-product operator of bond dimension ≤ 5.
# Contracting it costs time linear in `Q` instead of Aer's `4^Q` density matrix. Same circuit, same
# gates, same channels: the numbers must agree with Aer's exact noisy expectation values.
#

# %%
import time

from qmtl_utils.quantum import exact_noise

check = torch.from_numpy(z[:4]).double()
p_check = max(settings["noise"]["levels"])
start = time.perf_counter()
aer = aer_noise.aer_exact_expectation_values(head, check, p_check)
aer_s = time.perf_counter() - start
start = time.perf_counter()
ours = exact_noise.noisy_expectation_values(head, check, p_check).numpy()
ours_s = time.perf_counter() - start
print(
    f"p = {p_check}: max |Aer - exact path| = {abs(aer - ours).max():.1e} over {ours.size} values; "
    f"Aer {aer_s / len(check):.2f} s per sample, exact path {ours_s / len(check) * 1e3:.1f} ms per sample"
)

# %% [markdown]
# The shots come from the exact outcome distribution of each measurement setting, so they agree with
# Aer's own shot sampling within shot noise (z-scores of the difference, each within a few units):
#

# %%
shots = settings["noise"]["shots"]
aer_shots, _ = aer_noise.aer_expectation_values(head, check, p_check, shots, settings["noise"]["seed"])
z_scores = (aer_shots - ours) / np.sqrt(np.clip(1 - ours**2, 1e-12, None) / shots)
print(f"Aer with {shots} shots vs the exact values: largest |z| = {abs(z_scores).max():.2f} over {z_scores.size} values")

# %% [markdown]
# ## Evaluate every noise level
#
# Every level runs on the whole test fold: exact expectation values, then `shot_seeds` independent
# finite-shot readouts (seeded, so a re-run gives identical numbers). Each level is cached.
#

# %%
entry = noise_study.noise_study(cache, settings)
levels = entry.read_csv("levels.csv")
levels[["p", "shots", "shot_seeds", "granularity", "measurement_settings", "n_samples", "exact_samples_per_s", "wall_s"]]

# %% [markdown]
# ## Accuracy and F1 per task as `p` grows
#
# Mean over the shot seeds, with the 95 % bootstrap interval over test samples and shot seeds: a
# difference between two levels means something only where the intervals say so.
#

# %%
summary = entry.read_csv("summary.csv")
order = list(dict.fromkeys(summary.level))
summary["mean [95% CI]"] = (
    summary["mean"].map("{:.3f}".format)
    + " ["
    + summary.ci_low.map("{:.2f}".format)
    + ", "
    + summary.ci_high.map("{:.2f}".format)
    + "]"
)
view = summary[summary.metric.isin(["accuracy", "f1"])].pivot(index=["metric", "task"], columns="level", values="mean [95% CI]")
view[order]

# %% [markdown]
# The largest noise level against `p = 0`, paired (the same resampled test samples and shot seeds):
#

# %%
entry.read_csv("delta.csv").round(3)

# %% [markdown]
# ## How the gates are counted changes the slope
#
# The paper does not say whether a `Rot` is one noisy gate or three, nor whether the encoder's
# `RY(θ)RZ(θ)RX(z)` on a qubit is one gate or three. The default (`native`) is what Aer runs after
# transpiling to `{h, rx, ry, rz, cx}`: three noisy gates each. `merged` counts one noisy gate per
# rotation. Exact readout of both at the largest `p`, on the whole test fold:
#

# %%
from qmtl_utils.studies.benchmark_runs import evaluate_outputs
from qmtl_utils.training.metrics import mean_over_tasks

features = torch.from_numpy(z[:n_samples]).double()
rows = []
for granularity in exact_noise.GRANULARITIES:
    values = exact_noise.noisy_expectation_values(head, features, p_check, granularity)
    with torch.no_grad():
        outputs = head.outputs_from_expvals(values)
    scores = mean_over_tasks(evaluate_outputs("chexpert", outputs, labels[:n_samples]))
    rows.append({"granularity": granularity, "p": p_check, **{k: round(v, 3) for k, v in scores.items()}})
pd.DataFrame(rows)

# %% [markdown]
# Depolarizing noise shrinks every expectation value towards zero, so the logits lose contrast: a
# prediction survives as long as the sign pattern of the observables survives. The paper sees gentle
# degradation up to `p = 0.05` and a collapse towards chance at `p = 0.2`.
#
# Under the demo profile the checkpoint was trained on small seeded stand-in images: the numbers
# exercise the path and show the intervals a fold of this size gives, not the paper's claim.

# %% [markdown]
# ## Exercises
#
# Each question is followed by its answer and a cell that checks it (the test suite runs it).
# Try the question before you read on.

# %% [markdown]
# **Exercise 1 (count the gates, predict the damage).** A depolarizing channel after a one-qubit gate
# multiplies the qubit's Bloch vector by $1 - p$, and it commutes with every one-qubit gate. A qubit
# that no CNOT touches and that passes through $G$ noisy gates therefore has
# $\langle Z\rangle_p = (1 - p)^G \langle Z\rangle_0$. Count $G$ for one qubit of this head (`native`
# and `merged` granularity, section above), and predict the depolarizing rate at which its
# expectation values, and with them the logits' contrast, drop by half.

# %% [markdown]
# **Answer.** Natively a qubit sees one $H$, three gates per encoder layer ($R_X(z)$, $R_Z(\theta)$,
# $R_Y(\theta)$) and three per task layer (a `Rot` is $R_Z R_Y R_Z$), and a $Z$ measurement adds none:
# $G = 1 + 3L + 3L_h = 13$ for CheXpert. Merged, $G = 1 + L + L_h = 5$. The contrast halves at
# $(1 - p)^G = 1/2$, $p_{1/2} = 1 - 2^{-1/G}$: about 0.05 natively, where the paper sees the first
# degradation, while at $p = 0.2$ only $0.8^{13} \approx 5\,\%$ of the contrast is left, the collapse it
# reports. In the real head the CNOTs add their own channels and spread each Pauli component over
# several qubits, so the one-qubit rule is a guide, not a formula: it counts the fewest noisy gates
# any qubit's signal passes. How gates are counted matters as much: "merged" instead of "native"
# moves $p_{1/2}$ by a factor of about 2.5. The cell checks the count against the
# Qiskit circuit of a one-qubit head of the same depths and the damping against the exact noisy path:

# %%
from qmtl_utils.models.heads import QMTLHead
from qmtl_utils.quantum import exact_noise
from qmtl_utils.quantum.config import QMTLConfig
from qmtl_utils.quantum.qiskit_circuits import qmtl_qiskit_circuit

L, L_h = head.config.n_layers, head.config.head_layers
torch.manual_seed(0)
one = QMTLHead(QMTLConfig(n_qubits=1, n_layers=L, task_outputs=(1,), head_layers=L_h)).double()
inputs = torch.randn(16, one.config.d, dtype=torch.float64)
with torch.no_grad():
    clean = one.expectation_values(inputs)
halving = {}
for granularity in exact_noise.GRANULARITIES:
    units = exact_noise.gates_per_unit(granularity)
    G = units["H"] + units["encoder"] * L + units["rot"] * L_h + units["Z"]
    p_half = 1 - 2 ** (-1 / G)
    assert torch.allclose(exact_noise.noisy_expectation_values(one, inputs, p_half, granularity), clean / 2)
    halving[granularity] = {
        "G": G,
        "p_half": round(p_half, 4),
        **{f"contrast left at p={p}": round((1 - p) ** G, 3) for p in settings["noise"]["levels"]},
    }
assert sum(qmtl_qiskit_circuit(one).count_ops().values()) == halving["native"]["G"]
pd.DataFrame.from_dict(halving, orient="index")


# %% [markdown]
# **Exercise 2 (why the exact path is cheap).** The exact path writes each noisy CNOT ladder as a
# matrix product operator of bond dimension at most 5 (section "The exact noisy path"). Why 5, and
# why only 4 without noise? How much memory would Aer's density matrix need for this head, and for
# MUStARD's 13 qubits?

# %% [markdown]
# **Answer.** Split the CNOT's Pauli transfer matrix (a $16 \times 16$ map on the two qubits' Pauli
# strings) into a sum of products of one-qubit maps, control ⊗ target. Noiseless, it needs four terms:
# the control's $I$ and $Z$ components leave the target alone, its $X$ and $Y$ components flip the
# target's ($X$ on the target in the Heisenberg picture), in two combinations each. The depolarizing
# channel keeps the identity string and multiplies every other string by $1 - p$: the identity
# string now has to be written separately, a fifth term. A density matrix of $Q$ qubits holds
# $4^Q$ complex numbers, 16 bytes each: 16 MiB at $Q = 10$, 1 GiB at $Q = 13$, and every gate
# touches all of them; the tensor network's environments hold at most $5^L = 125$ numbers per
# sample. The cell finds both ranks with an SVD and checks them against the ladder's MPO:

# %%
def operator_schmidt_rank(ptm):  # [out_c, out_t, in_c, in_t] -> [(out_c, in_c), (out_t, in_t)]
    matrix = ptm.reshape(4, 4, 4, 4).transpose(0, 2, 1, 3).reshape(16, 16)
    return int(np.linalg.matrix_rank(matrix, tol=1e-12))


p = max(settings["noise"]["levels"])
ranks = {
    "noiseless": operator_schmidt_rank(exact_noise.noisy_cnot_ptm(0.0)),
    f"p = {p}": operator_schmidt_rank(exact_noise.noisy_cnot_ptm(p)),
}
assert list(ranks.values()) == [4, 5]
assert exact_noise.ladder_mpo(3, 0.0)[1].shape[:2] == (4, 4) and exact_noise.ladder_mpo(3, p)[1].shape[:2] == (5, 5)
memory = {f"Aer density matrix, Q = {Q}": f"{16 * 4**Q / 2**20:,.0f} MiB" for Q in (head.config.n_qubits, 13)}
{**ranks, **memory, "exact path, numbers per sample (5**L)": 5**head.config.n_layers}

# %% [markdown]
# ## Environment

# %%
environment_report()
