"""The QMTL head as a block diagram, drawn by code.

:func:`architecture_diagram` draws what Fig. 1 of the paper shows, for one benchmark's
configuration: backbone → projection to ``d = Q·L`` features (Eq. (12)) → the shared encoder on
``Q`` qubits with ``L`` layers (Eqs. (2)-(3)) → one task block ``U_t(φ_t)`` on each task's ``S_t``
qubits with ``L_h`` layers → its Pauli observables (Eq. (4)) → the task's ``r_t`` logits (Eq. (5)).
The qubits are drawn as horizontal wires, so the partition of the register into task
sub-registers is visible. Torch-free; reads :class:`~qmtl_utils.quantum.config.QMTLConfig` only.

Taught in: 02_heads, "The QMTL circuit, written out"
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

from qmtl_utils.quantum.config import QMTLConfig
from qmtl_utils.spec import BenchmarkSpec

TASK_GID = "task-block"  # gid prefix of the task boxes (tests count them)
COLORS = {"classical": "#e8e8e8", "encoder": "#cfe0f5", "task": "#f8dcc0", "readout": "#dcefd6"}


def spec_config(spec: BenchmarkSpec) -> QMTLConfig:
    """The QMTL architecture of ``spec``: wires and observables of every task (no calibration)."""
    layout = {"task_wires": spec.task_wires} if spec.task_wires is not None else {"task_qubits": spec.task_qubits}
    return QMTLConfig(
        n_qubits=spec.n_qubits,
        n_layers=spec.n_layers,
        task_outputs=spec.task_outputs,
        task_kinds=tuple(t.kind for t in spec.tasks),
        head_layers=spec.head_layers,
        entangle=spec.entangle,
        **layout,
    )


def pauli_label(word: str, wires) -> str:
    """``"XX"`` on wires (4, 5) → ``"X4X5"``: the global name of a local Pauli word."""
    return "".join(f"{c}{w}" for c, w in zip(word, wires) if c != "I")


def _box(ax, x, y0, y1, width, text, color, gid=None, fontsize=8):
    patch = FancyBboxPatch(
        (x, y0),
        width,
        y1 - y0,
        boxstyle="round,pad=0.02,rounding_size=0.12",
        facecolor=color,
        edgecolor="#333333",
        linewidth=1.0,
        zorder=2,
    )
    if gid:
        patch.set_gid(gid)
    ax.add_patch(patch)
    ax.text(x + width / 2, (y0 + y1) / 2, text, ha="center", va="center", fontsize=fontsize, zorder=3)
    return patch


def _arrow(ax, x0, y0, x1, y1, label=None, fontsize=7):
    ax.annotate(
        "",
        xy=(x1, y1),
        xytext=(x0, y0),
        zorder=1,
        arrowprops=dict(arrowstyle="-|>", color="#333333", linewidth=1.0, shrinkA=0, shrinkB=0),
    )
    if label:
        ax.text((x0 + x1) / 2, y0 + 0.25, label, ha="center", va="bottom", fontsize=fontsize)


def architecture_diagram(spec: BenchmarkSpec):
    """Block diagram of ``spec``'s QMTL head (Fig. 1 for one benchmark): a matplotlib Figure.

    Depicts Eqs. (2)-(3) (the shared encoder), the partition of the register into task
    sub-registers (``Σ_t S_t ≤ Q``), the task blocks ``U_t(φ_t)`` and Eqs. (4)-(5) (observables →
    logits). One box per task carries the gid ``"task-block:<task name>"``.

    Taught in: 02_heads, "The QMTL circuit, written out"
    """
    config = spec_config(spec)
    Q, L, L_h = config.n_qubits, config.n_layers, config.head_layers
    wire_y = {q: float(Q - 1 - q) for q in range(Q)}  # qubit 0 on top
    middle = (Q - 1) / 2
    fig, ax = plt.subplots(figsize=(12.5, 1.1 + 0.42 * Q))
    ax.set_axis_off()
    ax.grid(False)

    x_enc, w_enc = 4.7, 2.1
    x_task, w_task = 7.5, 1.5
    x_obs, w_obs = 9.4, 2.0
    for q, y in wire_y.items():  # the qubits: wires from the encoder to the readout
        ax.plot([x_enc, x_obs + w_obs], [y, y], color="#9a9a9a", linewidth=0.8, zorder=1)
        ax.text(
            x_enc + w_enc + 0.35,
            y,
            f"q{q}",
            ha="center",
            va="center",
            fontsize=6,
            color="#555555",
            zorder=3,
            bbox=dict(boxstyle="round,pad=0.1", facecolor="white", edgecolor="none"),
        )

    _box(ax, 0.0, middle - 0.9, middle + 0.9, 1.3, "backbone\n(frozen or\ntrained)", COLORS["classical"])
    _box(ax, 2.15, middle - 0.9, middle + 0.9, 1.45, f"projection\nLinear → d\nd = Q·L = {config.d}", COLORS["classical"])
    _arrow(ax, 1.3, middle, 2.15, middle, "features")
    _arrow(ax, 3.6, middle, x_enc, middle, r"$\mathbf{Z}\in\mathbb{R}^{d}$")
    _box(
        ax,
        x_enc,
        -0.45,
        Q - 0.55,
        w_enc,
        f"shared encoder\nEqs. (2)-(3)\n\nQ = {Q} qubits\nL = {L} layers\nθ: Q·L = {Q * L} angles",
        COLORS["encoder"],
        gid="encoder",
        fontsize=9,
    )

    for t, (name, wires, words) in enumerate(zip(spec.task_names, config.task_wires, config.observables), 1):
        ys = [wire_y[w] for w in wires]
        y0, y1 = min(ys) - 0.38, max(ys) + 0.38
        block = f"$U_{{{t}}}(\\phi_{{{t}}})$"
        label = f"{block}  $S_{{{t}}}$={len(wires)}" if len(wires) == 1 else f"{block}\n$S_{{{t}}}$={len(wires)}, $L_h$={L_h}"
        _box(ax, x_task, y0, y1, w_task, label, COLORS["task"], gid=f"{TASK_GID}:{name}", fontsize=7)
        names = [pauli_label(word, wires) for word in words]
        per_line = 3 if len(wires) > 1 else 2
        text = "\n".join(", ".join(names[i : i + per_line]) for i in range(0, len(names), per_line))
        _box(ax, x_obs, y0, y1, w_obs, text, COLORS["readout"], fontsize=6 if len(words) > 3 else 7)
        y = (y0 + y1) / 2
        _arrow(ax, x_obs + w_obs, y, x_obs + w_obs + 0.45, y)
        ax.text(x_obs + w_obs + 0.55, y, f"{name}: $r_{{{t}}}$ = {len(words)}", ha="left", va="center", fontsize=7)

    top = Q - 0.2
    for x, w, text in (
        (x_enc, w_enc, "Stage 1: shared"),
        (x_task, w_task, "Stage 2: task blocks"),
        (x_obs, w_obs, "observables, Eq. (4)"),
    ):
        ax.text(x + w / 2, top, text, ha="center", va="bottom", fontsize=8, fontweight="bold")
    ax.text(x_obs + w_obs + 0.55, top, "logits, Eq. (5)", ha="left", va="bottom", fontsize=8, fontweight="bold")
    ax.set_xlim(-0.1, 14.9)
    ax.set_ylim(-0.8, Q + 0.4)
    ax.set_title(
        f"QMTL head for {spec.title}: $T$ = {config.n_tasks} tasks, $Q$ = {Q}, $L$ = {L}, "
        f"$S_t$ = {list(config.task_qubits)}, $L_h$ = {L_h}",
        fontsize=10,
    )
    return fig


def task_boxes(fig) -> list:
    """The task boxes of a figure drawn by :func:`architecture_diagram`."""
    return [p for ax in fig.axes for p in ax.patches if (p.get_gid() or "").startswith(TASK_GID + ":")]
