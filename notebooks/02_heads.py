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
# # 02 · The heads: QMTL, classical and HQNN
#
# This notebook builds the three multi-task heads the paper compares and shows the QMTL circuit
# in full (§4.1, Eqs. (2)-(5)). It checks our fast simulator against PennyLane and counts every head's
# trainable parameters against the closed forms of §4.2 (Theorem 1).
#
# It is written for a reader who has not read the paper: every symbol is in the table below, each
# equation is shown next to the code that computes it, and it ends with exercises whose answers run.
#
# **Reads:** nothing (the heads do not depend on data). **Writes:** the cache entry
# `head_parameters` (the tables behind Figs. 2 and 4, drawn in `07_figures`).

# %% tags=["parameters"]
profile: str = "demo"  # paper | lite | demo | smoke — settings in qmtl_utils/runtime/profiles.py
seed: int = 0  # 0: the profile seed; any other value overrides it

# %%
from qmtl_utils.notebook import environment_report, setup_notebook

settings = setup_notebook(profile, seed or None)

# %% [markdown]
# ## Notation
#
# The paper's symbols, used the same way here and in the code (`n_qubits` is $Q$, `n_layers` $L$,
# `task_qubits` $S_t$, `head_layers` $L_h$, `task_outputs` $r_t$). Symbols without a per-benchmark value:
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $t$ | a task, $t = 1, \dots, T$ | index into the task lists |
# | $\mathbf Z \in \mathbb R^d$ | the shared feature vector the head reads (the backbone's output, projected to $d$ numbers) | `z`, `features` |
# | $\boldsymbol\theta$ | the shared encoder's angles, $\theta_{\ell,i}$ for layer $\ell$ and qubit $i$ ($Q L$ of them) | `encoder_weights`, shape $(L, Q)$ |
# | $\boldsymbol\phi_t$ | the angles of task $t$'s block $U_t(\boldsymbol\phi_t)$ ($k_\theta S_t L_h$ of them) | `task_weights[t]`, shape $(L_h, S_t, 3)$ |
# | $\mathcal Q_t$ | task $t$'s qubits (its sub-register, $S_t$ qubits) | `task_wires[t]` |
# | $O$ | an observable: a Pauli word such as $Z_0$ or $X_0X_1$, measured on $\mathcal Q_t$ | `observables` |
# | $\langle O\rangle$ | its expectation value (defined in §1), one logit | `expectation_values` |
#
# The others take one value per benchmark. The next cell reads them from `qmtl_utils.spec.BENCHMARKS`
# (the paper's Appendix B) and counts $P_C$ and $P_Q$ with the closed forms of §6.

# %%
import pandas as pd

from qmtl_utils.models.params import K_THETA, classical_head_params, qmtl_circuit_params
from qmtl_utils.spec import BENCHMARKS

MEANING = {
    "T": "number of tasks",
    "Q": "qubits in the register",
    "L": "encoder layers",
    "d": "features the head reads, d = Q·L",
    "S_t": "qubits of task t",
    "r_t": "logits of task t",
    "L_h": "layers of each task block",
    "k_θ": "angles per qubit per task-block layer",
    "θ": "encoder angles (count, Q·L)",
    "φ_t": "angles of task t's block (count, k_θ·S_t·L_h)",
    "O": "observables read (count, Σ r_t)",
    "P_C": "classical head parameters, Eq. (8)",
    "P_Q": "QMTL circuit parameters, Eq. (11)",
}


# %% [markdown]
# Each symbol's value per benchmark, read from its specification (a list has one entry per task):

# %%
def symbol_values(b):
    return [
        len(b.tasks),
        b.n_qubits,
        b.n_layers,
        b.d,
        list(b.task_qubits),
        list(b.task_outputs),
        b.head_layers,
        K_THETA,
        b.n_qubits * b.n_layers,
        [K_THETA * s * b.head_layers for s in b.task_qubits],
        sum(b.task_outputs),
        classical_head_params(b.d, b.task_outputs),
        qmtl_circuit_params(b.n_qubits, b.n_layers, b.task_qubits, b.head_layers),
    ]


notation = pd.DataFrame(
    {"meaning": list(MEANING.values())} | {b.title: symbol_values(b) for b in BENCHMARKS.values()},
    index=pd.Index(MEANING, name="symbol"),
)
notation

# %% [markdown]
# ## 1. The QMTL circuit, written out
#
# **The whole head at a glance.** A *backbone* (a text, image or multimodal network, `01_backbones`)
# turns an input into a feature vector; a linear *projection* maps it to $d = Q\cdot L$ numbers, $\mathbf Z$.
# The QMTL head turns $\mathbf Z$ into every task's logits with **one** quantum circuit on $Q$ *qubits*
# (two-level quantum systems; $Q$ of them hold a state of $2^Q$ complex amplitudes). Stage 1 is
# shared by all tasks; in Stage 2 each task owns a few qubits, applies its own small block and reads
# its logits. Here is CheXpert's head (five 3-class tasks on two qubits each), drawn by
# `qmtl_utils.report.diagrams.architecture_diagram`:

# %%
from qmtl_utils.report.diagrams import architecture_diagram

fig = architecture_diagram(BENCHMARKS["chexpert"])

# %% [markdown]
# **Stage 1 — the shared encoder, Eqs. (2)-(3).** The gates: the Hadamard $H$ maps $|0\rangle$ to
# $|+\rangle = (|0\rangle + |1\rangle)/\sqrt2$; $R_P(a) = e^{-iaP/2}$ rotates one qubit by the angle $a$
# about the axis $P \in \{X, Y, Z\}$; $\mathrm{CNOT}(c, t)$ flips qubit $t$ when qubit $c$ is $|1\rangle$,
# the gate that *entangles* qubits. First every qubit gets a Hadamard:
#
# $$|\psi_0\rangle = H^{\otimes Q}|0\rangle^{\otimes Q} = \frac{1}{\sqrt{2^Q}}\sum_{s=0}^{2^Q-1}|s\rangle \qquad (2)$$
#
# then $L$ layers, each loading $Q$ features and applying $Q$ trainable angles:
#
# $$|\psi_\Theta(\mathbf Z)\rangle = \Big(\prod_{\ell=1}^{L} U_{\text{param},\ell}(\boldsymbol\theta_\ell)\,U_{\text{enc},\ell}(\mathbf Z)\Big)|\psi_0\rangle \qquad (3)$$
#
# $$U_{\text{enc},\ell}(\mathbf Z) = \bigotimes_{i=0}^{Q-1} R_X\big(Z_{Q(\ell-1)+i}\big), \qquad
# U_{\text{param},\ell}(\boldsymbol\theta_\ell) = \Big(\prod_{\text{ladder}} \mathrm{CNOT}\Big) \bigotimes_{i=0}^{Q-1} R_Y(\theta_{\ell,i})\,R_Z(\theta_{\ell,i})$$
#
# $U_{\text{enc},\ell}$ loads features $Z_{Q(\ell-1)}, \dots, Z_{Q\ell-1}$, one per qubit, so the head reads
# $d = Q L$ features (Eq. (12)). $U_{\text{param},\ell}$ has **one** angle per qubit, used twice, as
# $R_Y(\theta)R_Z(\theta)$: an operator product, so **$R_Z$ acts first**. The ladder is
# $\mathrm{CNOT}(0,1), \mathrm{CNOT}(1,2), \dots, \mathrm{CNOT}(Q-2, Q-1)$, in that order.

# %% [markdown]
# **Stage 2 — task blocks and readout, Eqs. (4)-(5).** The register is split into $T$ disjoint
# sub-registers $\mathcal Q_t$ of $S_t$ qubits. Task $t$ applies its own block $U_t(\boldsymbol\phi_t)$,
# PennyLane's `StronglyEntanglingLayers` of depth $L_h$ (per layer a general rotation
# $\mathrm{Rot}(\alpha,\beta,\gamma) = R_Z(\gamma)R_Y(\beta)R_Z(\alpha)$ on each qubit, so $k_\theta = 3$
# angles, then a ring of CNOTs), and reads $r_t$ logits. For a 3-class task on two qubits:
#
# $$\mathbf o_t = \big(\langle Z_{0}\rangle,\ \langle Z_{1}\rangle,\ \langle X_{0}X_{1}\rangle\big), \qquad
# \langle O\rangle = \langle\psi_\Theta(\mathbf Z)|\,U_t^\dagger(\boldsymbol\phi_t)\,O\,U_t(\boldsymbol\phi_t)\,|\psi_\Theta(\mathbf Z)\rangle \qquad (4)$$
#
# $$\hat{\mathbf y}_t = \mathbf o_t = (o_{t,1}, \dots, o_{t,r_t}) \qquad (5)$$
#
# The observables are **Pauli words**: one of $I, X, Y, Z$ per qubit of $\mathcal Q_t$ ($X_0X_1$ is $X$ on
# the task's first qubit and $X$ on its second). Measuring a Pauli word gives $+1$ or $-1$; its
# **expectation value** $\langle O\rangle \in [-1, 1]$ is the mean outcome over many repetitions
# (*shots*) of the circuit. A simulator computes it exactly; hardware estimates it from shots.
# The logits are these numbers themselves, with no classical layer after them (Eq. (5)).
#
# Here is the whole circuit in PennyLane, the code next to the equations:

# %%
import pennylane as qml
import torch


def qmtl_circuit(inputs, encoder_weights, task_weights, n_qubits, n_layers, task_wires, observables):
    for q in range(n_qubits):  # Eq. (2): |psi_0> = H^{⊗Q}|0>
        qml.Hadamard(wires=q)
    for layer in range(n_layers):  # Eq. (3), one block per layer
        for q in range(n_qubits):
            qml.RX(inputs[..., layer * n_qubits + q], wires=q)  # U_enc: feature Z_{Qℓ+q}
            qml.RZ(encoder_weights[layer, q], wires=q)  # U_param: RY(θ)·RZ(θ), RZ first
            qml.RY(encoder_weights[layer, q], wires=q)
        for q in range(n_qubits - 1):  # CNOT ladder
            qml.CNOT(wires=[q, q + 1])
    for weights, wires in zip(task_weights, task_wires):  # task blocks f_{Q_t} = U_t(φ_t)
        qml.StronglyEntanglingLayers(weights, wires=wires)
    return [qml.expval(obs) for obs in observables]  # Eq. (4): multi-observable readout


# %% [markdown]
# Two 3-class tasks on four qubits ($Q = 4$, $L = 2$, $S_1 = S_2 = 2$, $L_h = 1$), drawn with
# `qml.draw_mpl`; `level="device"` expands each `StronglyEntanglingLayers` block into its `Rot` gates
# and its CNOT ring:

# %%
n_qubits, n_layers = 4, 2  # Q, L
task_wires = [[0, 1], [2, 3]]  # the sub-registers Q_1, Q_2 (S_t = 2 each)
observables = [qml.Z(0), qml.Z(1), qml.X(0) @ qml.X(1), qml.Z(2), qml.Z(3), qml.X(2) @ qml.X(3)]

z = torch.randn(n_qubits * n_layers)  # Z: d = Q·L = 8 features
encoder_weights = torch.rand(n_layers, n_qubits) * 2 * torch.pi  # θ
task_weights = [torch.rand(1, len(wires), 3) * 2 * torch.pi for wires in task_wires]  # φ_t: (L_h, S_t, k_θ)

small_head = qml.QNode(qmtl_circuit, qml.device("default.qubit", wires=n_qubits), interface="torch")
args = (z, encoder_weights, task_weights, n_qubits, n_layers, task_wires, observables)
fig, ax = qml.draw_mpl(small_head, decimals=None, style="pennylane", level="device")(*args)

# %% [markdown]
# The same circuit as text. `qml.draw` keeps each task block as one `StronglyEntanglingLayers` box and
# names what the figure's meters leave out: the observable read on each wire (`<Z>`, `<X@X>`):

# %%
print(qml.draw(small_head, decimals=None, show_matrices=False, max_length=140)(*args))

# %% [markdown]
# The same circuit, built from a `QMTLConfig`, lives in `qmtl_utils.quantum.pennylane_circuits.qmtl_circuit`:
# that is the version every other notebook imports (a `QMTLHead` with `backend="pennylane"` runs it).
# With the same weights both give the same six expectation values:

# %%
from qmtl_utils.quantum.config import QMTLConfig
from qmtl_utils.models.heads import QMTLHead

config = QMTLConfig(n_qubits=4, n_layers=2, task_outputs=(3, 3))
library_head = QMTLHead(config, backend="pennylane")
with torch.no_grad():
    library_head.encoder_weights.copy_(encoder_weights)
    for weights, ours in zip(library_head.task_weights, task_weights):
        weights.copy_(ours)

written_out = torch.stack(small_head(*args)).float()
library = library_head.expectation_values(z.unsqueeze(0))[0].float()
assert torch.allclose(written_out, library, atol=1e-6)
torch.stack([written_out, library])


# %% [markdown]
# ## 2. Readout: more logits than qubits
#
# A task does not need one qubit per logit: several Pauli words on the same sub-register give
# several logits (Eq. (4)). What they cost is measurements, not parameters.
#
# On hardware a Pauli word is measured by measuring each of its qubits in the basis of its letter
# ($Z$: the computational basis; $X$: after a Hadamard; $Y$: after $HS^\dagger$) and multiplying the
# $\pm1$ outcomes. A **measurement setting** is one such choice of basis per qubit: a circuit run
# many times (shots) in one setting yields samples of every word whose letters agree with it. Two
# Pauli words are **qubit-wise commuting** when, on every qubit, their letters are equal or one of them
# is $I$; then one setting estimates both. $Z_0$ and $Z_1$ are ($ZI$, $IZ$); $Z_0$ and $X_0X_1$ are not
# ($Z$ against $X$ on qubit 0), so the 3-class readout needs two settings.

# %%
def qubitwise_commute(a: str, b: str) -> bool:
    # Pauli words on the same qubits: on every qubit the letters are equal or one is the identity
    return all(x == y or "I" in (x, y) for x, y in zip(a, b))


qubitwise_commute("ZI", "IZ"), qubitwise_commute("ZI", "XX")

# %% [markdown]
# The presets are the paper's (Appendix B); other output sizes follow the rule documented in
# `qmtl_utils.quantum.observables`, whose `qubitwise_commuting_groups` sorts the words into
# settings:

# %%
from qmtl_utils.quantum.observables import default_observables, default_task_qubits, qubitwise_commuting_groups

pd.DataFrame(
    [
        {
            "logits r_t": r,
            "qubits S_t": default_task_qubits(r),
            "observables": ", ".join(default_observables(r)),
            "measurement settings": len(qubitwise_commuting_groups(default_observables(r))),
        }
        for r in (1, 2, 3, 5, 9)
    ]
)

# %% [markdown]
# ## 3. Something Eq. (3) hides: the first data layer is invisible
#
# The state entering the first data layer is |+⟩ on every qubit, and |+⟩ is an eigenstate of X:
# RX(z)|+⟩ = e^{−iz/2}|+⟩. The first Q features only add a global phase, so **no output depends on
# them**. We implement Eq. (3) exactly as the paper writes it (it is the specification) and make
# the effect visible instead. In the paper's heads only Q·(L−1) of the d features reach the circuit;
# the learned projection in front of the head adapts to that. (Try, as an exercise, encoding with
# RY instead of RX, or swapping the order of the first RX and the Hadamards.)

# %%
from qmtl_utils.models.factory import make_head, qmtl_config

spec = BENCHMARKS["chexpert"]
chexpert_head = QMTLHead(qmtl_config(spec))
features = torch.randn(4, spec.d)
first_layer_changed = features.clone()
first_layer_changed[:, : spec.n_qubits] += 1.0
second_layer_changed = features.clone()
second_layer_changed[:, spec.n_qubits : 2 * spec.n_qubits] += 1.0
with torch.no_grad():
    reference = chexpert_head.expectation_values(features)
    print(
        "first-layer features changed:  max |Δ output| =",
        f"{(chexpert_head.expectation_values(first_layer_changed) - reference).abs().max():.1e}",
    )
    print(
        "second-layer features changed: max |Δ output| =",
        f"{(chexpert_head.expectation_values(second_layer_changed) - reference).abs().max():.1e}",
    )

# %% [markdown]
# The paper's text does not say which reading it means. Read **left to right** instead of as an
# operator product, each factor of Eq. (3) applies the trainable rotations and the CNOT ladder
# *before* its data layer, and no feature is lost. The head takes it as a switch,
# `encoding_order="written"` (the literal `"operator"` reading stays the default), and every backend
# that implements it is checked against PennyLane in `tests/test_simulator_parity.py`. Whether it
# changes what the heads learn is measured in `04b_open_choices` (Fig. X3), with the other choices
# the paper leaves open.

# %%
written_head = QMTLHead(qmtl_config(spec, encoding_order="written"))
written_head.load_state_dict(chexpert_head.state_dict())  # the same parameters, the other reading
with torch.no_grad():
    reference = written_head.expectation_values(features)
    print(
        "written order, first-layer features changed: max |Δ output| =",
        f"{(written_head.expectation_values(first_layer_changed) - reference).abs().max():.1e}",
    )

# %% [markdown]
# ## 4. The baselines
#
# * **Classical** (§4.2): one linear layer per task on the same $d$ features,
#
# $$f_t^{(C)}(\mathbf Z) = \mathbf W_t\mathbf Z + \mathbf b_t, \qquad \mathbf W_t \in \mathbb R^{r_t\times d},\ \mathbf b_t \in \mathbb R^{r_t} \qquad (6)$$
#
# * **HQNN** (Phukan et al. 2024, Appendix B): a linear projection to three numbers $(\beta, \gamma, \theta)$
#   that are the angles of a circuit on $Q_h$ qubits, repeated three times; $\langle Z\rangle$ on every
#   qubit is scaled and fed to one linear layer per task. HQNN-4 uses $Q_h = 4$ qubits, HQNN-$Q$ as many
#   as QMTL. No code of it is public; `qmtl_utils.quantum.pennylane_circuits.hqnn_circuit` documents
#   the concrete ansatz we chose from the paper's description.
#
# All heads share one interface: features `(batch, d)` in, one logit tensor per task out.

# %%
heads = {variant: make_head(spec, variant) for variant in ("classical", "hqnn4", "hqnnQ", "qmtl")}
with torch.no_grad():
    shapes = {variant: [tuple(t.shape) for t in head(torch.randn(2, spec.d))] for variant, head in heads.items()}
shapes

# %% [markdown]
# HQNN-4's circuit: per repetition, on every qubit $R_X(\beta)R_Y(\gamma)R_Z(\theta)$ (the same three
# projected numbers on every qubit), one trainable $R_Y$, then a CNOT ring; three repetitions:

# %%
hqnn = heads["hqnn4"]
fig, ax = qml.draw_mpl(hqnn.qnode(), decimals=None, style="pennylane")(torch.zeros(3), hqnn.circuit_weights.detach())

# %% [markdown]
# HQNN-$Q$ on CheXpert's 10 qubits is three times this repetition (the full drawing does not fit a page):

# %%
from qmtl_utils.quantum.pennylane_circuits import hqnn_circuit, make_qnode

one_repetition = make_qnode(hqnn_circuit(spec.n_qubits, n_repeats=1), spec.n_qubits)
fig, ax = qml.draw_mpl(one_repetition, decimals=None, style="pennylane")(torch.zeros(3), torch.zeros(1, spec.n_qubits))

# %% [markdown]
# ## 5. A fast exact simulator
#
# PennyLane's `default.qubit` is the readable reference, but training thousands of steps through it
# is slow. `qmtl_utils.quantum.statevector` computes exactly the same expectation values and gradients
# with a few tensor operations. Its idea is one identity: conjugating by a Hadamard turns an $X$
# rotation into a $Z$ rotation, which is diagonal,
#
# $$H\,R_X(z)\,H = R_Z(z) = \begin{pmatrix} e^{-iz/2} & 0 \\ 0 & e^{iz/2} \end{pmatrix}.$$
#
# So in the Hadamard frame $\varphi = H^{\otimes Q}\psi$ the data layer $\bigotimes_i R_X(z_i)$ becomes
# $\bigotimes_i R_Z(z_i)$: an elementwise product of the $2^Q$ amplitudes with phases, the only operation
# that differs from sample to sample. The trainable rotations $H R_Y(\theta) R_Z(\theta) H$ are the same
# for the whole batch (one matrix product over it), and the CNOT ladder stays a permutation of basis
# states, with control and target swapped. Checked numerically:

# %%
from qmtl_utils.quantum.statevector import hadamard, rx, rz

angles = torch.linspace(-3.0, 3.0, 7, dtype=torch.float64)
h, hh = hadamard(1, torch.float64), hadamard(2, torch.float64)
assert torch.allclose(h @ rx(angles) @ h, rz(angles))  # H RX(z) H = RZ(z), for each z
cnot_01 = torch.eye(4, dtype=hh.dtype)[[0, 1, 3, 2]]  # CNOT(0, 1): |10> <-> |11>
cnot_10 = torch.eye(4, dtype=hh.dtype)[[0, 3, 2, 1]]  # CNOT(1, 0): |01> <-> |11>
assert torch.allclose(hh @ cnot_01 @ hh, cnot_10)
rz(angles[:2])  # diagonal: a phase per basis state

# %% [markdown]
# The readout needs only each task's **reduced density matrix**,
# $\rho_t = \mathrm{tr}_{\text{other qubits}}\,|\psi\rangle\langle\psi|$: the $2^{S_t}\times 2^{S_t}$ matrix that
# describes task $t$'s qubits on their own (everything a measurement on them can reveal). Then
# Eq. (4) is a small trace, $\langle O\rangle = \mathrm{Re}\,\mathrm{tr}\big(\rho_t\,U_t^\dagger O\,U_t\big)$. On the small circuit of §1:

# %%
from qmtl_utils.quantum.observables import pauli_matrix
from qmtl_utils.quantum.statevector import qmtl_task_density_matrices

rhos = qmtl_task_density_matrices(z[None].double(), encoder_weights.double(), [w.double() for w in task_weights], config)
from_rho = torch.stack(
    [
        torch.trace(rho[0] @ torch.as_tensor(pauli_matrix(word))).real  # rho_t after U_t
        for rho, words in zip(rhos, config.observables)
        for word in words
    ]
)
assert torch.allclose(from_rho.float(), written_out, atol=1e-5)
rhos[0][0].numpy().round(3)  # task 1: 4 x 4, Hermitian, trace 1

# %% [markdown]
# Same numbers as PennyLane on CheXpert's whole head, in float64:

# %%
qmtl = heads["qmtl"].double()
features = torch.randn(8, spec.d, dtype=torch.float64)
with torch.no_grad():
    fast = qmtl.expectation_values(features)
    qmtl.backend = "pennylane"
    reference = qmtl.expectation_values(features)
    qmtl.backend = "fast"
print(f"max |fast − PennyLane| over {fast.numel()} expectation values: {(fast - reference).abs().max():.1e}")

# %% [markdown]
# How much faster? The table below times forward + backward side by side (the full benchmark is
# `python -m qmtl_utils.studies.simulator_speed`; its measured numbers, with PennyLane and tensorcircuit-ng at the training batch sizes, are in docs/heads.md). A small run here:

# %%
from qmtl_utils.studies import simulator_speed

speed = simulator_speed.run(batches=(64,), repeats=3, shift_samples=1)
simulator_speed.print_table(speed)

# %% [markdown]
# ## 6. Counting parameters (§4.2, Theorem 1)
#
# **Classical.** One head of Eq. (6) has $r(d+1)$ parameters (a weight matrix and a bias), and the
# classical multi-task head is $T$ of them:
#
# $$p^{(C)}_{\text{head}} = r d + r = r(d+1) \qquad (7) \qquad\qquad P_C = T\,r(d+1) = \sum_t r_t(d+1) \qquad (8)$$
#
# **QMTL.** The shared encoder has one angle per qubit and layer; each task block has $k_\theta$ angles
# per qubit and layer ($k_\theta = 3$ for `StronglyEntanglingLayers`):
#
# $$P_{\text{shared}} = Q L \qquad (9) \qquad\qquad p^{(Q)}_{\text{head}} = S\,L_h\,k_\theta \qquad (10)$$
#
# $$P_Q = P_{\text{shared}} + \sum_t p^{(Q)}_{\text{head}} = Q L + T k_\theta S L_h \qquad (11)$$
#
# Our heads add an output calibration the paper describes in Appendix B: one learnable temperature
# per CheXpert task, and $\beta, \gamma$ for GLUE's regression task STS-B. HQNN (not in §4.2) has
# $3(d+1)$ projection parameters, three trainable $R_Y$ angles per qubit, one scale and $r_t(Q_h+1)$
# per task. The closed forms, for each benchmark:

# %%
k_theta = K_THETA  # 3: the angles of one Rot gate


def hqnn_params(d, q, r):  # Linear(d→3) + 3 RY angles per qubit + 1 scale + Linear(q→r_t) per task
    return 3 * (d + 1) + 3 * q + 1 + sum(r_t * (q + 1) for r_t in r)


closed = {}
for b in BENCHMARKS.values():
    d, Q, L, L_h, S, r = b.d, b.n_qubits, b.n_layers, b.head_layers, b.task_qubits, b.task_outputs
    kinds = [task.kind for task in b.tasks]
    P_C = sum(r_t * (d + 1) for r_t in r)  # Eqs. (7)-(8)
    P_Q = Q * L + sum(k_theta * S_t * L_h for S_t in S)  # Eqs. (9)-(11)
    calibration = (len(kinds) - kinds.count("regression")) * (b.output_scale is True) + 2 * kinds.count("regression")
    closed[b.title] = {"classical": P_C, "hqnn4": hqnn_params(d, 4, r), "hqnnQ": hqnn_params(d, Q, r), "qmtl": P_Q + calibration}
closed = pd.DataFrame(closed).T
closed

# %% [markdown]
# Now the measured counts: `qmtl_utils.models.params.parameter_count_tables` instantiates every head with
# `make_head` and counts its trainable tensors (`count_trainable`). The table is cached for the figures
# notebook (Fig. 4):

# %%
from qmtl_utils.runtime.cache import Cache
from qmtl_utils.models.params import parameter_count_tables

cache = Cache.for_profile(profile)
entry = parameter_count_tables(cache, settings["scaling"])
head_parameters = entry.read_csv("head_parameters.csv")
head_parameters.pivot(index="title", columns="variant", values="measured")[["classical", "hqnn4", "hqnnQ", "qmtl"]]

# %% [markdown]
# Both sets of closed forms, ours above and the library's, agree with every count:

# %%
measured = head_parameters.pivot(index="title", columns="variant", values="measured")
assert (measured.loc[closed.index, closed.columns] == closed).all().all()  # our closed forms above
assert (head_parameters.measured == head_parameters.closed_form).all()  # the library's closed forms
head_parameters[["title", "label", "measured", "ratio_to_qmtl"]]

# %% [markdown]
# **Why the gap grows with $T$ (Theorem 1).** The paper ties the sizes together with two design
# constraints: the encoder reads all $d$ features, and each task gets $S$ qubits of its own,
#
# $$Q L = d \qquad (12) \qquad\qquad Q = S\,T \qquad (13) \qquad\qquad d = Q L = S\,T\,L \qquad (14)$$
#
# so the shared representation grows with the number of tasks. Substituting into Eqs. (8) and (11):
#
# $$P_C = T r(d+1) = T r(STL + 1) \approx T r \cdot STL = \mathcal O(T^2) \qquad (15)$$
#
# $$P_Q = QL + T k_\theta S L_h = STL + T k_\theta S L_h = ST(L + k_\theta L_h) = \mathcal O(T) \qquad (16)$$
#
# $$\frac{P_Q}{P_C} \approx \frac{ST(L + k_\theta L_h)}{STLr \times T} = \frac{L + k_\theta L_h}{L r} \times \frac{1}{T} \to 0 \quad \text{as } T \to \infty \qquad (17)$$
#
# **Theorem 1** states exactly this: under (12)-(14), $P_C = \mathcal O(T^2)$, $P_Q = \mathcal O(T)$, and their
# ratio falls like $1/T$; the proof is the substitution, since $r, L, k_\theta, L_h$ do not depend on $T$.
# The cell evaluates Eqs. (15)-(17) for $T = 1, \dots, 20$ with the profile's sweep settings ($S = 2$,
# $r = 3$, $L = 3$, $L_h = 1$) and counts heads of each size:

# %%
from qmtl_utils.models.heads import ClassicalHeads
from qmtl_utils.models.params import count_trainable

sweep = settings["scaling"]
S, r, L, L_h = sweep["task_qubits"], sweep["outputs_per_task"], sweep["n_layers"], sweep["head_layers"]
rows = []
for T in range(1, 21):
    P_C, P_Q = T * r * (S * T * L + 1), S * T * (L + k_theta * L_h)  # Eqs. (15), (16)
    config_T = QMTLConfig(n_qubits=S * T, n_layers=L, task_outputs=(r,) * T, task_qubits=(S,) * T, head_layers=L_h)
    assert count_trainable(ClassicalHeads(config_T.d, config_T.task_outputs)) == P_C
    assert count_trainable(QMTLHead(config_T)) == P_Q
    rows.append(
        {
            "T": T,
            "d": S * T * L,
            "P_C": P_C,
            "P_Q": P_Q,
            "P_C / T²": P_C / T**2,
            "P_Q / T": P_Q / T,
            "P_Q / P_C": P_Q / P_C,
            "Eq. (17)": (L + k_theta * L_h) / (L * r * T),
        }
    )
theorem = pd.DataFrame(rows).set_index("T")
theorem.iloc[[0, 1, 3, 9, 19]]

# %% [markdown]
# $P_C/T^2$ settles at $S r L = 18$ and $P_Q/T$ is the constant $S(L + k_\theta L_h) = 12$: quadratic
# against linear. The cached sweep of this profile (the numbers behind Fig. 2, drawn in `07_figures`)
# agrees:

# %%
scaling = entry.read_csv("param_scaling.csv")
assert (scaling.classical_measured == scaling.classical_eq15).all() and (scaling.qmtl_measured == scaling.qmtl_eq16).all()
scaling[
    [
        "n_tasks",
        "d",
        "n_qubits",
        "classical_measured",
        "classical_eq15",
        "qmtl_measured",
        "qmtl_eq16",
        "ratio_measured",
        "ratio_eq17",
    ]
]

# %% [markdown]
# **Remark 1** of the paper evaluates Eq. (17) at typical values, $r = 2$, $L = 3$, $k_\theta = 1$, $L_h = 1$:
#
# $$\frac{P_Q}{P_C} \approx \frac{4}{6} \times \frac{1}{T} = \frac{2}{3T} \qquad (18)$$
#
# so $P_Q \approx P_C/15$ for $T = 10$ tasks and $P_C/150$ for $T = 100$. Our heads have $k_\theta = 3$ and
# $r = 3$, and the leading term is the same: $(3 + 3)/(3 \cdot 3) = 2/3$. The exact ratio is slightly
# smaller, because $P_C$ also counts the biases (the $+1$ in $d + 1$):

# %%
from fractions import Fraction

from qmtl_utils.models.params import capacity_matched_ratio


def leading_ratio(r, L, k_theta, L_h, T):  # Eq. (17)
    return Fraction(L + k_theta * L_h, L * r * T)


assert leading_ratio(r=2, L=3, k_theta=1, L_h=1, T=1) == Fraction(2, 3) == leading_ratio(r=3, L=3, k_theta=3, L_h=1, T=1)
for T in (10, 100):
    exact = Fraction(S * T * (3 + 1), T * 2 * (S * T * 3 + 1))  # Eqs. (16) / (15) with r = 2, k_θ = 1
    assert float(leading_ratio(2, 3, 1, 1, T)) == capacity_matched_ratio(T, 3, 1, 2, k_theta=1)
    print(f"T = {T}: Eq. (18) gives P_C / {1 / leading_ratio(2, 3, 1, 1, T)}, exactly P_C / {float(1 / exact):.2f}")

# %% [markdown]
# ## 7. Exercises
#
# Each question is followed by its answer and a cell that checks it (the test suite runs it).
# Try the question before you read on.

# %% [markdown]
# **Exercise 1 (predict, then count).** CheXpert's QMTL head has $L_h = 1$ and 65 trainable
# parameters. Give every task block two layers ($L_h = 2$). How many parameters does the head have
# now? Predict with Eqs. (9)-(11) before you run the cell. Does the classical head change?

# %% [markdown]
# **Answer.** Only the task blocks grow: each of the $T = 5$ blocks gains $k_\theta S_t = 3 \cdot 2 = 6$
# angles per extra layer. $P_Q = QL + T k_\theta S L_h = 30 + 5 \cdot 3 \cdot 2 \cdot 2 = 90$, plus the five
# learnable temperatures: **95**. The classical head does not change: $L_h$ is not one of its
# quantities (Eq. (8) has only $r_t$ and $d$).

# %%
import dataclasses

deeper = dataclasses.replace(BENCHMARKS["chexpert"], head_layers=2)
predicted = 10 * 3 + 5 * 3 * 2 * 2 + 5  # Q L + T k_θ S L_h + temperatures
assert count_trainable(make_head(deeper, "qmtl")) == predicted == 95
assert count_trainable(make_head(deeper, "classical")) == count_trainable(make_head(BENCHMARKS["chexpert"], "classical"))


# %% [markdown]
# **Exercise 2 (entanglement).** Remove the encoder's CNOT ladder (`entangle=False`, the paper's
# §6.2 ablation). Which of CheXpert's 30 features can still change which task's logits?

# %% [markdown]
# **Answer.** Without the ladder no encoder gate acts on two qubits, so the encoder's state is a
# product of one-qubit states: qubit $i$ carries only the features loaded on it,
# $Z_{Q(\ell-1)+i}$ for $\ell = 1, \dots, L$, and the first of them is a global phase (§3). A task block
# entangles only its own qubits. So task $t$ reads the features of its own qubits in layers 2 and 3:
# $2 \times 2 = 4$ of the 30, none shared with another task (each encoder angle acts on one qubit, so
# the tasks now share nothing but the projection in front of the head). The set of inputs that can
# influence an output is that output's **light cone**. With the ladder the light cones widen, but
# not evenly: the ladder $\mathrm{CNOT}(0,1), \mathrm{CNOT}(1,2), \dots$ carries a feature loaded on qubit $j$
# down to every later qubit within one layer, but up by only one qubit per ladder. A feature of
# layer $\ell \ge 2$ meets $L - \ell + 1$ ladders, so it reaches task $t$ when $j \le \max \mathcal Q_t + L - \ell + 1$:
# the first task (qubits 0-1) reads 7 features, the last one 20. The cell finds each light cone as the
# nonzero entries of the Jacobian $\partial\langle O\rangle/\partial Z_j$:

# %%
def light_cones(b):
    head = make_head(b, "qmtl").double()
    features = torch.randn(b.d, dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(lambda f: head.expectation_values(f[None])[0], features)
    starts = [sum(b.task_outputs[:t]) for t in range(len(b.tasks))]
    return [
        set(torch.nonzero(jacobian[s : s + r].abs().amax(0) > 1e-9).flatten().tolist()) for s, r in zip(starts, b.task_outputs)
    ]


Q, L, wires = spec.n_qubits, spec.n_layers, qmtl_config(spec).task_wires
no_ladder = [{Q * layer + q for layer in range(1, L) for q in w} for w in wires]  # layer index 0 is layer 1
with_ladder = [{Q * layer + j for layer in range(1, L) for j in range(Q) if j <= max(w) + L - layer} for w in wires]
assert light_cones(dataclasses.replace(spec, entangle=False)) == no_ladder
assert light_cones(spec) == with_ladder
[len(cone) for cone in no_ladder], [len(cone) for cone in with_ladder]

# %% [markdown]
# **Exercise 3 (measurement settings).** Extended MUStARD's emotion tasks have 9 classes on
# $S_t = 4$ qubits. How many measurement settings does one such task need, and why?

# %% [markdown]
# **Answer.** Two. The preset words are $Z_0, Z_1, Z_2, Z_3$, the ring products
# $Z_0Z_1, Z_1Z_2, Z_2Z_3, Z_3Z_0$, and $X_0X_1X_2X_3$. The first eight contain only $Z$ and $I$: they are
# qubit-wise commuting, and one setting ($Z$ on every qubit) estimates all of them. $X_0X_1X_2X_3$ asks for $X$ on every qubit,
# so it needs a second setting. Note that $X_0X_1X_2X_3$ *does* commute with $Z_0Z_1$ as an operator
# (two anticommuting letters cancel), but not qubit-wise: a joint measurement would need an
# entangling basis change, which a setting (one basis per qubit) does not provide.

# %%
words = default_observables(9)
z_words = [w for w in words if set(w) <= {"I", "Z"}]
assert len(z_words) == 8 and all(qubitwise_commute(a, b) for a in z_words for b in z_words)
assert not any(qubitwise_commute("XXXX", w) for w in z_words)
assert len(qubitwise_commuting_groups(words)) == 2
X4, ZZ = pauli_matrix("XXXX"), pauli_matrix("ZZII")
assert (X4 @ ZZ == ZZ @ X4).all()  # they commute as operators, though not qubit-wise
words

# %% [markdown]
# ## Environment

# %%
environment_report()
