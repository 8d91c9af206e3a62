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
# # 06 · On IBM Quantum hardware (§7)
#
# The same fold-1 CheXpert checkpoint, the same shots, a different machine: the paper runs it on
# `ibm_fez` and `ibm_boston`. This notebook runs it through `qiskit-ibm-runtime` on
#
# * **real devices** when you have an IBM Quantum account and ask for it explicitly
#   (`mode="ibm"`, `submit=True`), or
# * **by default, offline:** the runtime's *fake backends*, which carry a real calibration
#   snapshot of each device (gate errors, T1/T2, readout errors, coupling map), through exactly the
#   same code path.
#
# Every job — raw expectation values, job id, backend, calibration time, shots, transpiled depth
# and two-qubit gate count — is recorded in the cache, so Fig. 11 is redrawn without running
# anything again, and a paid-for hardware result is never recomputed.
#
# **Reads:** the fold-1 checkpoint in `run_chexpert` (its dataset `data_chexpert`). **Writes:**
# `hardware_runs` (one entry per job) and the table `hardware_chexpert`, which `07_figures` draws as
# Fig. 11.

# %% tags=["parameters"]
profile: str = "demo"  # paper | lite | demo | smoke — settings in qmtl_utils/runtime/profiles.py
mode: str = "fake"  # fake: calibration snapshots, offline | ibm: real IBM Quantum devices
submit: bool = False  # with mode ibm: really submit jobs (uses your IBM Quantum time)
backends: str = ""  # comma-separated device names; empty: the profile setting (ibm_fez, ibm_boston)

# %%
from qmtl_utils.studies import hardware_study
from qmtl_utils.quantum import hardware
from qmtl_utils.runtime.cache import Cache
from qmtl_utils.notebook import environment_report, setup_notebook

settings = setup_notebook(profile)
cache = Cache.for_profile(profile)
names = [b.strip() for b in backends.split(",") if b.strip()] or settings["hardware"]["backends"]
print(f"mode={mode!r}, submit={submit}, backends={names}, settings={settings['hardware']}")

# %% [markdown]
# ## Credentials (only for `mode="ibm"`)
#
# Set `QISKIT_IBM_TOKEN` (and, if needed, `QISKIT_IBM_INSTANCE`, `QISKIT_IBM_CHANNEL`) or save an
# account once with `QiskitRuntimeService.save_account(...)`. Missing or rejected credentials, an
# unknown backend or a queue timeout stop the notebook with a message that says what to do; nothing
# falls back silently to a simulator; if IBM Quantum cannot be reached (no network, a proxy), the
# message says so rather than blaming the credentials. Without `submit=True` the notebook prepares
# the jobs, prints what it would send and stops before sending anything: that plan is made offline,
# on each device's calibration snapshot, with no account or network needed (the real submission
# transpiles again for the device's current calibration, so its depth can differ).
#
# ## The calibration snapshots
#
# `ibm_boston` (a Heron r3 device) has a snapshot only from `qiskit-ibm-runtime` 0.47; the pinned
# 0.45 has none, so its place is taken by the installed Heron snapshot with the lowest median
# two-qubit error, and every record (and Fig. 11) names the stand-in.

# %%
import pandas as pd

if mode == "fake":
    rows = []
    for name in names:
        device, substituted = hardware.fake_backend(name)
        rows.append(
            {
                "requested": name,
                "snapshot": device.name,
                "stand-in": substituted,
                "qubits": device.num_qubits,
                **hardware.calibration_info(device),
            }
        )
    display(pd.DataFrame(rows))

# %% [markdown]
# ## Run (or read back) one job per batch on every backend
#
# The circuit is transpiled once per backend onto the device's qubits (an ISA circuit; the same
# circuit on every run with the same seed, and kept with each job record); the observables follow
# its layout; each batch of test samples is one `EstimatorV2` job with a single PUB. A fake backend
# is simulated locally on the circuit's active qubits only.

# %%
try:
    entry = hardware_study.hardware_study(cache, settings, mode=mode, backends=names, submit=submit)
except hardware.SubmissionNotRequested as stop:  # the plan is ready (made offline); nothing was sent
    display(pd.DataFrame(stop.plan))  # one column per backend: the jobs that would be submitted
    raise
jobs = entry.read_csv("jobs.csv")
jobs[
    [
        "requested_backend",
        "backend",
        "substituted",
        "job_id",
        "calibration_timestamp",
        "shots",
        "depth",
        "two_qubit_gates",
        "n_samples",
        "wall_s",
    ]
]

# %% [markdown]
# ## Accuracy and F1 per task: noiseless simulator vs each backend

# %%
table = entry.read_csv("hardware.csv")
order = list(dict.fromkeys(table.backend))
table[table.metric.isin(["accuracy", "f1"])].pivot_table(index=["metric", "task"], columns="backend", values="value")[
    order
].round(3)

# %% [markdown]
# The transpiled circuits are deeper than the abstract one (the device's native gates and the
# routing onto heavy-hex connectivity), and every extra two-qubit gate costs fidelity. The fake
# backends' noise models are optimistic compared with the live devices (Qiskit documentation).
# Under the demo profile the checkpoint comes from demo data and only a few dozen test samples run.

# %% [markdown]
# ## Exercises
#
# Each question is followed by its answer and a cell that checks it (the test suite runs it).
# Try the question before you read on.

# %% [markdown]
# **Exercise 1 (what a run costs).** How many measurement settings does one CheXpert prediction
# need, how many shots does that cost per test sample, and how many shots did this study spend on
# each backend?

# %% [markdown]
# **Answer.** Each task reads $ZI$, $IZ$ and $XX$ on its two qubits. $ZI$ and $IZ$ are measured
# together in the computational basis; $XX$ needs both qubits rotated, so a task needs two settings,
# and since the five tasks sit on disjoint qubits, the same two settings serve all of them. A sample
# costs $2 \times$ the shots per setting, and a backend $2 \times \text{shots} \times$ the test
# samples it read: circuit executions are what a device bills, so the head's saving in parameters is
# paid here. The cell counts the settings from the observables and the shots from the job records:

# %%
from qmtl_utils.quantum import shots as shot_sampling
from qmtl_utils.quantum.observables import qubitwise_commuting_groups
from qmtl_utils.studies import benchmark_runs

head, z, labels, _ = benchmark_runs.checkpoint_inputs(cache, settings, "chexpert", settings["hardware"]["n_samples"])
groups = [qubitwise_commuting_groups(words) for words in head.config.observables]
n_settings = max(len(g) for g in groups)
assert n_settings == shot_sampling.measurement_settings(head.config) == 2
assert all(sorted(map(sorted, g)) == [["IZ", "ZI"], ["XX"]] for g in groups)
assert (jobs.shots == settings["hardware"]["shots"]).all()
per_backend = jobs.groupby("requested_backend").n_samples.sum()
assert (per_backend == len(z)).all()
(per_backend * n_settings * settings["hardware"]["shots"]).rename("shots spent (settings × shots × samples)")

# %% [markdown]
# **Exercise 2 (routing).** The abstract circuit's two-qubit gates are the encoder's CNOT ladders and
# the task blocks' CNOTs. An IBM Heron device connects each qubit to at most three others (heavy-hex),
# and a CNOT between qubits that are not neighbours costs SWAPs, three two-qubit gates each. Predict
# how many two-qubit gates the transpiled circuit has.

# %% [markdown]
# **Answer.** Every CNOT of this circuit acts on neighbours of one chain: the ladder on
# $(q, q+1)$, each task block on its own pair $(q, q+1)$ both ways. Heavy-hex contains long chains of
# qubits, so the transpiler can lay the ten qubits along one and needs **no SWAP**: each CNOT becomes
# one native CZ with one-qubit gates around it, $(Q - 1)L + 2T = 27 + 10 = 37$ two-qubit gates
# (the optimiser may merge a few, never add). The transpiled circuit is deeper than the abstract one
# because of the one-qubit gates of each CZ's basis change, not because of routing. The cell finds a
# chain of $Q$ qubits in the device's coupling map and compares the counts:

# %%
from qmtl_utils.quantum.qiskit_circuits import qmtl_qiskit_circuit

abstract = qmtl_qiskit_circuit(head)
pairs = {
    tuple(sorted(abstract.find_bit(q).index for q in inst.qubits)) for inst in abstract.data if inst.operation.num_qubits == 2
}
Q, L, T = head.config.n_qubits, head.config.n_layers, head.config.n_tasks
assert pairs <= {(q, q + 1) for q in range(Q - 1)}  # the interaction graph is a chain
cnots = abstract.count_ops()["cx"]
assert cnots == (Q - 1) * L + sum(head.config.head_layers * S for S in head.config.task_qubits if S > 1)


def chain(neighbours, length):
    """A simple path of ``length`` qubits in the coupling graph (depth-first search), or None."""

    def extend(path):
        if len(path) == length:
            return path
        for nxt in neighbours[path[-1]]:
            if nxt not in path and (found := extend(path + [nxt])):
                return found
        return None

    return next((p for start in neighbours if (p := extend([start]))), None)


if mode == "fake":
    for name in names:
        device, _ = hardware.fake_backend(name)
        neighbours = {q: sorted(device.coupling_map.neighbors(q)) for q in range(device.num_qubits)}
        assert max(map(len, neighbours.values())) <= 3 and chain(neighbours, Q) is not None
assert (jobs.two_qubit_gates <= cnots).all(), "more two-qubit gates than the circuit has: SWAPs were added"
jobs.groupby("requested_backend")[["depth", "two_qubit_gates"]].first().assign(
    abstract_cnots=cnots, abstract_depth=abstract.depth()
)

# %% [markdown]
# ## Environment

# %%
environment_report()
