"""The fast simulator against PennyLane ``default.qubit`` (backprop) and parameter shift.

Configurations are drawn at random (seeded): Q up to 13, mixed S_t, L, L_h, entanglement on/off,
every readout preset and the general readout rule. Outputs and gradients (inputs and every
parameter) must agree to 1e-10 in float64 and 1e-5 in float32.
"""

import random

import pytest
import torch

from qmtl_utils.models.heads import HQNNHead, QMTLHead
from qmtl_utils.quantum.config import QMTLConfig

TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}


def random_config(rng: random.Random) -> QMTLConfig:
    n_tasks = rng.randint(1, 4)
    task_outputs, task_kinds, task_qubits = [], [], []
    for _ in range(n_tasks):
        outputs = rng.choice([1, 1, 2, 3, 3, 4, 9])
        kind = "regression" if outputs == 1 and rng.random() < 0.3 else ("binary" if outputs == 1 else "multiclass")
        qubits = {1: rng.choice([1, 2]), 2: 2, 3: 2, 4: rng.choice([2, 4]), 9: 4}[outputs]
        task_outputs.append(outputs), task_kinds.append(kind), task_qubits.append(qubits)
    used = sum(task_qubits)
    n_qubits = min(13, used + rng.randint(0, 3)) if used <= 13 else None
    if n_qubits is None:
        return random_config(rng)
    return QMTLConfig(
        n_qubits=n_qubits,
        n_layers=rng.randint(1, 3),
        task_outputs=tuple(task_outputs),
        task_kinds=tuple(task_kinds),
        task_qubits=tuple(task_qubits),
        head_layers=rng.randint(1, 2),
        entangle=rng.random() < 0.7,
        output_scale=rng.random() < 0.5,
    )


CONFIGS = [random_config(random.Random(seed)) for seed in range(8)] + [
    # explicit, non-contiguous task qubits and Y observables
    QMTLConfig(5, 2, (3, 2), task_wires=((3, 0), (4,)), observables=(("YY", "XY", "IZ"), ("Y", "X"))),
    # the paper's heads (CheXpert, Extended MUStARD, GLUE with STS-B regression)
    QMTLConfig(10, 3, (3,) * 5, output_scale=True),
    QMTLConfig(13, 3, (1, 3, 3, 9, 9), task_qubits=(1, 2, 2, 4, 4)),
    QMTLConfig(
        10, 3, (1, 1, 1, 1, 1, 3, 1, 1, 1), task_kinds=("binary",) * 3 + ("regression", "binary", "multiclass") + ("binary",) * 3
    ),
    # the open choices (qmtl_utils.studies.open_choices): Eq. (3) read left to right, bounded angles,
    # a fixed logit scale, MNLI's block on the last qubits; L = 1, Q = 1 and no ladder as edge cases
    QMTLConfig(10, 3, (3,) * 5, output_scale=True, encoding_order="written"),
    QMTLConfig(13, 3, (1, 3, 3, 9, 9), task_qubits=(1, 2, 2, 4, 4), encoding_order="written", angle_map="pi_tanh"),
    QMTLConfig(
        10,
        3,
        (1, 1, 1, 1, 1, 3, 1, 1, 1),
        output_scale=2.5,
        angle_map="pi_tanh",
        task_wires=((0,), (1,), (2,), (3,), (4,), (8, 9), (5,), (6,), (7,)),
    ),
    QMTLConfig(4, 1, (3, 1), task_qubits=(2, 1), encoding_order="written"),
    QMTLConfig(1, 2, (1,), encoding_order="written"),
    QMTLConfig(6, 2, (3, 3), encoding_order="written", entangle=False, head_layers=2),
]


def outputs_and_grads(head, z):
    """Forward a weighted sum of all logits; return logits, input gradient, parameter gradients."""
    head.zero_grad(set_to_none=True)
    z = z.clone().requires_grad_(True)
    logits = torch.cat(head(z), dim=1)
    weights = torch.linspace(-1.0, 1.0, logits.shape[1], dtype=z.dtype)
    (logits * weights).sum().backward()
    # with L = 1 the only data layer is a global phase, so the input may get no gradient at all
    z_grad = z.grad if z.grad is not None else torch.zeros_like(z)
    return logits.detach(), z_grad, [p.grad for p in head.parameters()]


def assert_parity(head, z, tolerance):
    head.backend = "fast"
    fast = outputs_and_grads(head, z)
    head.backend = "pennylane"
    reference = outputs_and_grads(head.double(), z.double())
    head.backend = "fast"
    assert (fast[0] - reference[0]).abs().max() <= tolerance
    assert (fast[1] - reference[1]).abs().max() <= tolerance
    for parameter, ours, theirs in zip(head.parameters(), fast[2], reference[2]):
        if parameter.numel() == 0:  # e.g. the "ring" HQNN ansatz has no circuit weights
            continue
        assert ours is not None and theirs is not None
        assert (ours - theirs).abs().max() <= tolerance


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(
    "config",
    CONFIGS,
    ids=lambda c: (
        f"Q{c.n_qubits}-L{c.n_layers}-S{'.'.join(map(str, c.task_qubits))}"
        f"-Lh{c.head_layers}-{'ent' if c.entangle else 'noent'}-{c.encoding_order}-{c.angle_map}"
    ),
)
def test_qmtl_head_matches_pennylane(config, dtype):
    torch.manual_seed(0)
    head = QMTLHead(config).to(dtype)
    z = torch.randn(3, config.d, dtype=dtype)
    fast = outputs_and_grads(head, z)
    # the reference: PennyLane in float64 on the very same (possibly float32-rounded) numbers
    head.double().backend = "pennylane"
    reference = outputs_and_grads(head, z.double())
    tolerance = TOLERANCE[dtype]
    assert fast[0].dtype == dtype
    assert (fast[0].double() - reference[0]).abs().max() <= tolerance
    assert (fast[1].double() - reference[1]).abs().max() <= tolerance
    for ours, theirs in zip(fast[2], reference[2]):
        assert (ours.double() - theirs).abs().max() <= tolerance


@pytest.mark.parametrize("ansatz", ["ry_ring", "ring", "ry_ladder"])
@pytest.mark.parametrize("n_qubits", [1, 4, 10, 13])
def test_hqnn_head_matches_pennylane(n_qubits, ansatz):
    torch.manual_seed(n_qubits)
    head = HQNNHead(d=30, n_qubits=n_qubits, task_outputs=(1, 3, 9), ansatz=ansatz).double()
    assert_parity(head, torch.randn(3, 30, dtype=torch.float64), TOLERANCE[torch.float64])


def test_hqnn_ansatz_readings_differ():
    torch.manual_seed(4)
    heads = {a: HQNNHead(d=6, n_qubits=4, task_outputs=(1,), ansatz=a).double() for a in ("ry_ring", "ring", "ry_ladder")}
    heads["ry_ladder"].load_state_dict(heads["ry_ring"].state_dict())
    z = torch.randn(5, 6, dtype=torch.float64)
    values = {a: h.expectation_values(z) for a, h in heads.items()}
    assert not torch.allclose(values["ry_ring"], values["ry_ladder"], atol=1e-3)
    assert heads["ring"].circuit_weights.numel() == 0
    with pytest.raises(ValueError, match="unknown HQNN ansatz"):
        HQNNHead(d=6, n_qubits=4, task_outputs=(1,), ansatz="ry_star")


def test_weight_gradients_match_parameter_shift():
    """Autograd through the fast simulator equals PennyLane's parameter-shift rule (Eq. (20))."""
    torch.manual_seed(1)
    head = QMTLHead(QMTLConfig(6, 2, (3, 1, 1), task_qubits=(2, 2, 1), head_layers=1)).double()
    z = torch.randn(2, head.config.d, dtype=torch.float64)
    qnode = head.qnode(diff_method="parameter-shift")
    weights = [p.detach().clone().requires_grad_(True) for p in (head.encoder_weights, *head.task_weights)]
    sum(torch.stack(list(qnode(z[i], *weights))).sum() for i in range(2)).backward()
    head.expectation_values(z).sum().backward()
    for shifted, ours in zip(weights, (head.encoder_weights, *head.task_weights)):
        assert (shifted.grad - ours.grad).abs().max() < 1e-8


def test_first_data_layer_is_a_global_phase():
    """RX(z)|+> = e^{-iz/2}|+>: with Eqs. (2)-(3) as written the first Q features change nothing."""
    torch.manual_seed(2)
    config = QMTLConfig(4, 2, (3, 1), task_qubits=(2, 2))
    head = QMTLHead(config).double()
    z = torch.randn(5, config.d, dtype=torch.float64)
    shifted = z.clone()
    shifted[:, : config.n_qubits] += torch.randn(5, config.n_qubits, dtype=torch.float64)
    for backend in ("fast", "pennylane"):
        head.backend = backend
        assert torch.allclose(head.expectation_values(z), head.expectation_values(shifted), atol=1e-12)
    # ...while the second layer's features do matter
    shifted = z.clone()
    shifted[:, config.n_qubits :] += 0.5
    assert not torch.allclose(head.expectation_values(z), head.expectation_values(shifted), atol=1e-3)


def test_written_encoding_order_makes_every_feature_count():
    """Eq. (3) read left to right: the first layer's features, dead in the literal reading, now
    reach the readout, and the circuit is a different function of the same parameters."""
    torch.manual_seed(5)
    literal = QMTLHead(QMTLConfig(4, 2, (3, 1), task_qubits=(2, 2))).double()
    written = QMTLHead(QMTLConfig(4, 2, (3, 1), task_qubits=(2, 2), encoding_order="written")).double()
    written.load_state_dict(literal.state_dict())
    z = torch.randn(6, 8, dtype=torch.float64, requires_grad=True)
    jac = torch.autograd.functional.jacobian(lambda x: written.expectation_values(x).sum(0), z)  # (outputs, 6, 8)
    assert (jac[:, :, :4].abs().sum(dim=(0, 1)) > 1e-3).all()  # each first-layer feature reaches an output
    jac_literal = torch.autograd.functional.jacobian(lambda x: literal.expectation_values(x).sum(0), z)
    assert jac_literal[:, :, :4].abs().max() < 1e-12  # the first Q features are dead in the literal reading
    assert not torch.allclose(written.expectation_values(z), literal.expectation_values(z), atol=1e-3)
    with pytest.raises(ValueError, match="encoding_order"):
        QMTLConfig(4, 2, (3, 1), encoding_order="reversed")
    with pytest.raises(ValueError, match="angle_map"):
        QMTLConfig(4, 2, (3, 1), angle_map="sigmoid")


def test_pi_tanh_bounds_the_angles():
    """angle_map="pi_tanh" is the literal head on π·tanh(Z)."""
    torch.manual_seed(6)
    bounded = QMTLHead(QMTLConfig(4, 2, (3, 1), task_qubits=(2, 2), angle_map="pi_tanh")).double()
    plain = QMTLHead(QMTLConfig(4, 2, (3, 1), task_qubits=(2, 2))).double()
    plain.load_state_dict(bounded.state_dict())
    z = 3 * torch.randn(5, 8, dtype=torch.float64)
    assert torch.allclose(bounded.expectation_values(z), plain.expectation_values(torch.pi * torch.tanh(z)), atol=1e-12)


def test_entanglement_switch_changes_outputs_not_parameters():
    torch.manual_seed(3)
    with_cnots = QMTLHead(QMTLConfig(6, 3, (3, 3, 3)))
    without = QMTLHead(QMTLConfig(6, 3, (3, 3, 3), entangle=False))
    without.load_state_dict(with_cnots.state_dict())
    z = torch.randn(4, 18)
    assert not torch.allclose(with_cnots.expectation_values(z), without.expectation_values(z), atol=1e-3)
    assert sum(p.numel() for p in with_cnots.parameters()) == sum(p.numel() for p in without.parameters())


def test_expectation_values_are_bounded_and_batched():
    head = QMTLHead(QMTLConfig(10, 3, (3,) * 5))
    out = head.expectation_values(torch.randn(7, 30))
    assert out.shape == (7, 15) and out.abs().max() <= 1 + 1e-6
    logits = head(torch.randn(7, 30))
    assert [tuple(t.shape) for t in logits] == [(7, 3)] * 5


@pytest.mark.parametrize(
    "make",
    [
        lambda: QMTLHead(QMTLConfig(10, 3, (3,) * 5)),
        lambda: HQNNHead(30, 4, (3,) * 5),
    ],
    ids=["qmtl", "hqnn"],
)
def test_wrong_input_width_is_a_clear_error(make):
    with pytest.raises(ValueError, match=r"expects features of shape \(batch, 30\); got \(2, 29\)"):
        make()(torch.randn(2, 29))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    torch.manual_seed(4)
    head = QMTLHead(QMTLConfig(10, 3, (3,) * 5, output_scale=True))
    z = torch.randn(16, 30)
    cpu = torch.cat(head(z), 1)
    gpu = torch.cat(head.cuda()(z.cuda()), 1).cpu()
    assert (cpu - gpu).abs().max() < 1e-5
