"""The exact MPS path (:mod:`qmtl_utils.quantum.mps`) against the state-vector simulator.

Outputs and gradients (inputs, encoder and task weights) must agree to 1e-6 in float64 on the
paper's heads, other depths L, L_h = 2, no entanglement, non-contiguous task wires and 8 tasks on
Q = 16; the MPS must have bond dimension 2^L and contract to the very same state.
"""

import pytest
import torch

from qmtl_utils.models.factory import qmtl_config
from qmtl_utils.models.heads import QMTLHead
from qmtl_utils.quantum import statevector as sim
from qmtl_utils.quantum.config import QMTLConfig
from qmtl_utils.quantum.mps import max_bond_dimension, qmtl_encoder_mps, qmtl_expvals_mps
from qmtl_utils.quantum.statevector import qmtl_encoder_state, qmtl_expvals
from qmtl_utils.spec import BENCHMARKS

CONFIGS = [qmtl_config(BENCHMARKS[name]) for name in ("glue", "chexpert", "mustard")] + [
    qmtl_config(BENCHMARKS["chexpert"], n_layers=1),
    qmtl_config(BENCHMARKS["chexpert"], n_layers=2, head_layers=2),
    qmtl_config(BENCHMARKS["mustard"], n_layers=4),
    qmtl_config(BENCHMARKS["mustard"], entangle=False),
    # non-contiguous and unordered task wires, with traced sites in between and around
    QMTLConfig(5, 2, (3, 2), task_wires=((3, 0), (4,)), observables=(("YY", "XY", "IZ"), ("Y", "X"))),
    QMTLConfig(
        9,
        3,
        (3, 1, 3, 3),
        task_wires=((6, 1, 3), (0,), (8, 2), (7, 4)),
        observables=(("ZXY", "YIZ", "XXX"), ("X",), ("ZZ", "XY", "YI"), ("ZZ", "XY", "YI")),
        head_layers=2,
    ),
    QMTLConfig(16, 3, (3,) * 8, task_qubits=(2,) * 8),
]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The MPS path is many small matrix products: on a shared CPU extra threads only slow them down."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def config_id(config):
    wires = "-".join("".join(map(str, ws)) if len(config.task_wires) < 5 else str(len(ws)) for ws in config.task_wires)
    entangle = "ent" if config.entangle else "noent"
    return f"Q{config.n_qubits}-L{config.n_layers}-Lh{config.head_layers}-{entangle}-{wires}"


def random_inputs(config, dtype, batch=3, seed=0):
    generator = torch.Generator().manual_seed(seed)

    def angles(*shape):
        return (torch.rand(*shape, generator=generator, dtype=dtype) * 2 * torch.pi).requires_grad_()

    z = torch.randn(batch, config.d, generator=generator, dtype=dtype).requires_grad_()
    return z, angles(config.n_layers, config.n_qubits), [angles(config.head_layers, s, 3) for s in config.task_qubits]


def outputs_and_grads(expvals, config, inputs):
    """Expectation values and the gradients of a weighted sum of them w.r.t. every input."""
    z, encoder_weights, task_weights = inputs
    values = expvals(z, encoder_weights, task_weights, config)
    weights = torch.linspace(-1.0, 1.0, values.shape[1], dtype=values.dtype)
    leaves = [z, encoder_weights, *task_weights]
    # with L = 1 the only data layer is a global phase, so z may get no gradient at all
    grads = torch.autograd.grad((values * weights).sum(), leaves, allow_unused=True)
    return [values.detach()] + [torch.zeros_like(x) if g is None else g for x, g in zip(leaves, grads)]


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_mps_matches_state_vector(config):
    inputs = random_inputs(config, torch.float64)
    for ours, theirs in zip(outputs_and_grads(qmtl_expvals_mps, config, inputs), outputs_and_grads(qmtl_expvals, config, inputs)):
        assert ours.shape == theirs.shape
        assert (ours - theirs).abs().max() <= 1e-6


def test_mps_float32():
    config = qmtl_config(BENCHMARKS["mustard"])
    inputs = random_inputs(config, torch.float32)
    ours = outputs_and_grads(qmtl_expvals_mps, config, inputs)
    assert ours[0].dtype == torch.float32
    for ours, theirs in zip(ours, outputs_and_grads(qmtl_expvals, config, inputs)):
        assert (ours - theirs).abs().max() <= 1e-4


@pytest.mark.parametrize("n_layers, entangle", [(1, True), (2, True), (3, True), (3, False)])
def test_bond_dimension_and_state_are_exact(n_layers, entangle):
    """χ = 2^L (1 without the ladder), and the MPS contracts to the state vector of Eqs. (2)-(3)."""
    config = QMTLConfig(6, n_layers, (3, 3), entangle=entangle)
    z, encoder_weights, _ = random_inputs(config, torch.float64, batch=2)
    mps = qmtl_encoder_mps(z, encoder_weights, config)
    chi = max_bond_dimension(config)
    assert chi == (2**n_layers if entangle else 1)
    assert mps.tensors.shape == (2, 6, chi, 2, chi) and mps.left.shape == mps.right.shape == (chi,)
    state = mps.left.expand(2, 1, chi)
    for site in mps.tensors.unbind(1):  # psi[x_0 … x_{Q-1}] = left^T A_0[x_0] … A_{Q-1}[x_{Q-1}] right
        state = (state.reshape(2, -1, chi) @ site.reshape(2, chi, 2 * chi)).reshape(2, -1, chi)
    state = (state @ mps.right).reshape(2, -1)
    # the state-vector simulator works in the Hadamard frame phi = H^{⊗Q} psi, and drops the global
    # phase of the first data layer
    expected = qmtl_encoder_state(z, encoder_weights, config) @ sim.hadamard(6, torch.float64).T
    overlap = (expected.conj() * state).sum(1, keepdim=True)
    assert torch.allclose(overlap.abs(), torch.ones_like(overlap.abs()), atol=1e-12)
    assert torch.allclose(state, overlap * expected, atol=1e-12)


def test_mps_scales_to_many_qubits():
    config = QMTLConfig(64, 3, (3, 1, 9, 3), task_wires=((0, 1), (40,), (60, 61, 62, 63), (20, 30)))
    z, encoder_weights, task_weights = random_inputs(config, torch.float32, batch=2)
    values = qmtl_expvals_mps(z, encoder_weights, task_weights, config)
    assert values.shape == (2, 16) and torch.isfinite(values).all() and values.abs().max() <= 1 + 1e-5
    values.sum().backward()
    for leaf in (z, encoder_weights, *task_weights):
        assert leaf.grad is not None and torch.isfinite(leaf.grad).all()


def test_head_mps_backend_matches_fast():
    torch.manual_seed(0)
    config = qmtl_config(BENCHMARKS["glue"], output_scale=True)
    head = QMTLHead(config, backend="mps").double()
    z = torch.randn(4, config.d, dtype=torch.float64)
    results = {}
    for backend in ("mps", "fast"):
        head.backend = backend
        head.zero_grad(set_to_none=True)
        logits = torch.cat(head(z), dim=1)
        logits.sum().backward()
        results[backend] = [logits.detach()] + [p.grad.clone() for p in head.parameters()]
    for ours, theirs in zip(results["mps"], results["fast"]):
        assert (ours - theirs).abs().max() <= 1e-10


def test_unknown_backend_is_an_error():
    with pytest.raises(ValueError, match="backend must be"):
        QMTLHead(qmtl_config(BENCHMARKS["glue"]), backend="tensor-network")
