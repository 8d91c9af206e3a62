"""IBM Quantum execution (§7): fake-backend path, recorded results, and the failure modes.

No test reaches IBM Quantum: the runtime service and EstimatorV2 are replaced where a real
device would be involved, and must not be called at all where nothing may be submitted.
"""

import io
import socket
from types import SimpleNamespace

import numpy as np
import pytest
import qiskit_ibm_runtime
import requests
import torch
import urllib3
from qiskit import qasm3, qpy
from qiskit.providers.exceptions import QiskitBackendNotFoundError
from qiskit_ibm_runtime.accounts import AccountNotFoundError, InvalidAccountError
from qiskit_ibm_runtime.exceptions import IBMNotAuthorizedError, RuntimeJobTimeoutError
from qiskit_ibm_runtime.fake_provider import FakeFez

from qmtl_utils.models.factory import qmtl_config
from qmtl_utils.models.heads import QMTLHead
from qmtl_utils.quantum import hardware
from qmtl_utils.quantum.aer_noise import two_qubit_gate_count
from qmtl_utils.quantum.hardware import (
    HardwareError,
    QueueTimeout,
    SubmissionNotRequested,
    load_recorded,
    run_on_backend,
)
from qmtl_utils.runtime.cache import Cache, MissingCacheEntry
from qmtl_utils.spec import BENCHMARKS
from qmtl_utils.studies import hardware_study

ENV = ("QISKIT_IBM_TOKEN", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_CHANNEL")
TOKEN = "secret-token-4f1c9e"  # put into the raised messages too: it must never come back out


@pytest.fixture(scope="module")
def head_and_z():
    torch.manual_seed(0)
    head = QMTLHead(qmtl_config(BENCHMARKS["chexpert"])).double()
    z = torch.rand(2, head.config.d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    return head, z * 2 * np.pi


@pytest.fixture(scope="module")
def fake_run(head_and_z, tmp_path_factory):
    head, z = head_and_z
    cache = Cache(tmp_path_factory.mktemp("cache"))
    with pytest.warns(UserWarning, match="FakeMarrakesh"):
        values, records = run_on_backend(head, z, "ibm_boston", mode="fake", shots=1024, seed=0, cache=cache)
    return cache, values, records


def _no_call(*args, **kwargs):
    raise AssertionError("must not be called")


@pytest.fixture
def offline(monkeypatch):
    """No credentials in the environment; nothing may be submitted."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(qiskit_ibm_runtime, "EstimatorV2", _no_call)
    return monkeypatch


def _service(device=None, job=None):
    def backend(name):
        if device is None:
            raise QiskitBackendNotFoundError(f"no backend {name}")
        return device

    return SimpleNamespace(backend=backend, backends=lambda: [SimpleNamespace(name="ibm_fez")], job=lambda job_id: job)


@pytest.mark.slow
def test_fake_backend_end_to_end_records_substitution(head_and_z, fake_run):
    head, z = head_and_z
    _, values, (record,) = fake_run
    assert values.shape == (2, 15) and np.all(np.abs(values) <= 1)
    assert record["requested_backend"] == "ibm_boston" and record["backend"] == "fake_marrakesh"
    assert record["substituted"] is True and record["calibration_timestamp"].startswith("2025")
    assert record["job_id"].startswith("local-") and record["shots"] == 1024
    assert record["depth"] > 0 and record["two_qubit_gates"] >= 37 and record["measurement_settings"] == 2
    exact = head.expectation_values(z).detach().numpy()
    assert np.corrcoef(values.ravel(), exact.ravel())[0, 1] > 0.5  # noisy but the same circuit


def test_recorded_results_round_trip_without_backend(head_and_z, fake_run, monkeypatch):
    head, z = head_and_z
    cache, values, records = fake_run
    monkeypatch.setattr(hardware, "_run_batch", _no_call)
    monkeypatch.setattr(hardware, "fake_backend", _no_call)
    loaded, loaded_records = load_recorded(head, z, "ibm_boston", mode="fake", shots=1024, seed=0, cache=cache)
    np.testing.assert_array_equal(loaded, values)
    assert loaded_records == records
    again, _ = run_on_backend(head, z, "ibm_boston", mode="fake", shots=1024, seed=0, cache=cache)
    np.testing.assert_array_equal(again, values)  # cache hit: nothing re-run
    with pytest.raises(MissingCacheEntry, match="run_on_backend.*shots=4096"):
        load_recorded(head, z, "ibm_boston", mode="fake", shots=4096, seed=0, cache=cache)


def _qpy_round_trip(circuit):
    buffer = io.BytesIO()
    qpy.dump(circuit, buffer)
    buffer.seek(0)
    (loaded,) = qpy.load(buffer)
    return loaded


def test_transpilation_is_the_same_on_every_call(head_and_z):
    """Same head, backend and seed: the same ISA circuit, call after call and on a fresh snapshot
    object each time (before the fixed error map, VF2Layout picked either mirror image of the
    chain, e.g. depth 65 or 67 on FakeFez)."""
    head, _ = head_and_z
    shared = FakeFez()
    runs = [hardware.isa_pub_parts(head, shared if i % 2 else FakeFez(), 2, 7) for i in range(8)]
    depths = {isa.depth() for isa, _ in runs}
    texts = {qasm3.dumps(isa) for isa, _ in runs}
    layouts = {tuple(isa.layout.final_index_layout()) for isa, _ in runs}
    observables = {tuple(str(op) for op in ops) for _, ops in runs}
    assert len(depths) == len(texts) == len(layouts) == len(observables) == 1, (depths, layouts)
    # qpy bytes also carry the ParameterVector's random uuid; the circuit they hold is the same one
    assert {qasm3.dumps(_qpy_round_trip(isa)) for isa, _ in runs} == texts


def test_average_error_map_is_the_mean_error_per_qubit_and_coupler():
    target = FakeFez().target
    error_map = hardware.average_error_map(target)
    one = [
        target[n][(0,)].error
        for n in target.operation_names_for_qargs((0,))
        if target[n].get((0,)) is not None and target[n][(0,)].error is not None
    ]
    two = [
        target[n][(0, 1)].error
        for n in target.operation_names_for_qargs((0, 1))
        if target[n].get((0, 1)) is not None and target[n][(0, 1)].error is not None
    ]
    assert len(one) >= 4 and error_map.get((0, 0)) == pytest.approx(np.mean(one), rel=1e-12)
    assert error_map.get((0, 1)) == pytest.approx(np.mean(two), rel=1e-12)


def test_missing_credentials(head_and_z, offline, tmp_path):
    def no_account(**kwargs):
        raise AccountNotFoundError("Unable to find account.")

    offline.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", no_account)
    with pytest.raises(HardwareError, match="QISKIT_IBM_TOKEN.*save_account"):
        run_on_backend(*head_and_z, "ibm_fez", mode="ibm", submit=True, cache=Cache(tmp_path))


def test_invalid_credentials(head_and_z, offline, tmp_path):
    def rejected(**kwargs):
        raise IBMNotAuthorizedError("401 Unauthorized")

    offline.setenv("QISKIT_IBM_TOKEN", "not-a-token")
    offline.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", rejected)
    with pytest.raises(HardwareError, match="rejected the credentials from QISKIT_IBM_TOKEN"):
        run_on_backend(*head_and_z, "ibm_fez", mode="ibm", submit=True, cache=Cache(tmp_path))


def _dns_failure():
    """The chain the runtime raises offline: a DNS failure inside urllib3 and requests, wrapped
    (implicitly, as ``__context__``) in InvalidAccountError, which blames the token."""
    try:
        try:
            try:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            except socket.gaierror as dns:
                raise urllib3.exceptions.NameResolutionError("iam.cloud.ibm.com", None, dns) from dns
        except urllib3.exceptions.NameResolutionError as resolution:
            raise requests.exceptions.ConnectionError(
                f"Max retries exceeded with url: /identity/token?apikey={TOKEN}"
            ) from resolution
    except requests.exceptions.ConnectionError:
        raise InvalidAccountError("Unable to retrieve instances. Please check that you are using a valid API token.")


def _refused():
    try:
        raise ConnectionRefusedError(111, "Connection refused")
    except ConnectionRefusedError as refused:
        raise InvalidAccountError(f"Unable to retrieve instances for {TOKEN}.") from refused


@pytest.mark.parametrize(
    "failure, cause",
    [(_dns_failure, "NameResolutionError: .*Failed to resolve 'iam.cloud.ibm.com'"), (_refused, "Connection refused")],
)
def test_unreachable_is_not_reported_as_rejected_credentials(head_and_z, offline, tmp_path, failure, cause):
    def service(**kwargs):
        assert kwargs["token"] == TOKEN
        failure()

    offline.setenv("QISKIT_IBM_TOKEN", TOKEN)
    offline.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", service)
    with pytest.raises(HardwareError, match=f"IBM Quantum could not be reached .*{cause}.*check the network") as error:
        run_on_backend(*head_and_z, "ibm_fez", mode="ibm", submit=True, cache=Cache(tmp_path))
    message = str(error.value)
    assert "rejected" not in message and "credentials were not checked" in message and "without submit=true" in message.lower()
    assert TOKEN not in message and isinstance(error.value.__cause__, InvalidAccountError)


def test_rejected_credentials_without_network_cause(offline):
    def rejected(**kwargs):
        raise InvalidAccountError(f"Unable to retrieve instances. Invalid token {TOKEN}.")

    offline.setenv("QISKIT_IBM_TOKEN", TOKEN)
    offline.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", rejected)
    with pytest.raises(HardwareError, match="rejected the credentials from QISKIT_IBM_TOKEN: .*Invalid token \\*\\*\\*") as error:
        hardware.runtime_service()
    assert TOKEN not in str(error.value) and "could not be reached" not in str(error.value)
    assert hardware.network_cause(error.value.__cause__) is None


def test_network_cause_walks_the_chain():
    with pytest.raises(InvalidAccountError) as dns:
        _dns_failure()
    cause = hardware.network_cause(dns.value)
    assert isinstance(cause, urllib3.exceptions.NameResolutionError)  # the link that names the host
    assert isinstance(hardware.network_cause(OSError(101, "Network is unreachable")), OSError)
    assert hardware.network_cause(OSError(2, "No such file or directory")) is None
    assert hardware.network_cause(requests.exceptions.HTTPError("401 Client Error: Unauthorized")) is None
    assert hardware.network_cause(ValueError("bad instance CRN")) is None


def test_backend_lookup_unreachable(offline):
    def backend(name):
        raise requests.exceptions.ConnectionError("connection aborted") from TimeoutError("timed out")

    with pytest.raises(HardwareError, match="could not be reached while looking up 'ibm_fez'.*timed out"):
        hardware.ibm_backend(SimpleNamespace(backend=backend), "ibm_fez")


def test_unknown_backend(head_and_z, offline, tmp_path):
    with pytest.raises(HardwareError, match="no calibration snapshot.*FakeFez"):
        run_on_backend(*head_and_z, "ibm_nowhere", mode="fake", cache=Cache(tmp_path))
    offline.setattr(hardware, "runtime_service", lambda *args: _service())
    with pytest.raises(HardwareError, match="'ibm_nowhere' is not available.*ibm_fez"):
        run_on_backend(*head_and_z, "ibm_nowhere", mode="ibm", submit=True, cache=Cache(tmp_path))


def test_nothing_submitted_without_flag(head_and_z, offline, tmp_path):
    offline.setattr(hardware, "runtime_service", _no_call)  # the plan needs no account either
    cache = Cache(tmp_path)
    with pytest.raises(SubmissionNotRequested, match="submit=True") as error:
        run_on_backend(*head_and_z, "ibm_fez", mode="ibm", cache=cache)
    assert error.value.plan["backend"] == "fake_fez" and error.value.plan["two_qubit_gates"] >= 37
    assert not list(tmp_path.rglob("*.npy"))  # nothing recorded either


def test_queue_timeout_keeps_job_and_fetches_it_later(head_and_z, offline, tmp_path):
    head, z = head_and_z
    evs = np.linspace(-1, 1, 2 * 15).reshape(15, 2)
    data = SimpleNamespace(evs=evs, stds=np.zeros_like(evs))

    class Job:
        def __init__(self, done):
            self.done = done

        def job_id(self):
            return "job-123"

        def status(self):
            return "DONE" if self.done else "QUEUED"

        def result(self, timeout=None):
            if not self.done:
                raise RuntimeJobTimeoutError("timed out")
            return [SimpleNamespace(data=data, metadata={"shots": 1024})]

    estimator = SimpleNamespace(options=SimpleNamespace(default_shots=None), run=lambda pubs: Job(False))
    offline.setattr(qiskit_ibm_runtime, "EstimatorV2", lambda mode: estimator)
    offline.setattr(hardware, "runtime_service", lambda *args: _service(FakeFez(), job=Job(True)))
    cache = Cache(tmp_path)
    with pytest.raises(QueueTimeout, match="job-123.*left in the queue") as error:
        run_on_backend(head, z, "ibm_fez", mode="ibm", submit=True, timeout_s=1, cache=cache)
    assert error.value.job_id == "job-123"
    offline.setattr(qiskit_ibm_runtime, "EstimatorV2", _no_call)  # the queued job is fetched instead
    values, (record,) = run_on_backend(head, z, "ibm_fez", mode="ibm", submit=True, cache=cache)
    np.testing.assert_array_equal(values, evs.T)
    assert record["job_id"] == "job-123" and not list((tmp_path / "hardware_pending").iterdir())


def _block_network(monkeypatch):
    """Any name lookup or connection fails, as on a machine without network."""

    def no_network(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (network blocked by the test)")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)


def test_plan_is_made_offline_without_submit(head_and_z, offline, tmp_path):
    head, z = head_and_z
    _block_network(offline)
    offline.setenv("QISKIT_IBM_TOKEN", TOKEN)
    offline.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", lambda **kwargs: _dns_failure())
    cache = Cache(tmp_path)
    with pytest.raises(
        SubmissionNotRequested,
        match=r"ready to submit 2 samples in 2 job\(s\) x 1024 shots to ibm_fez "
        r".*nothing was sent.*local calibration snapshot fake_fez",
    ) as error:
        run_on_backend(head, z, "ibm_fez", mode="ibm", seed=7, batch_size=1, cache=cache)
    plan = error.value.plan
    isa, _ = hardware.isa_pub_parts(head, FakeFez(), 2, 7)
    assert plan["requested_backend"] == "ibm_fez" and plan["backend"] == "fake_fez" and plan["substituted"] is False
    assert plan["depth"] == isa.depth() and plan["two_qubit_gates"] == two_qubit_gate_count(isa)
    assert plan["n_samples"] == 2 and plan["jobs"] == 2 and "offline" in plan["plan_source"]
    assert plan["calibration_timestamp"].startswith("2025") and not any(tmp_path.rglob("*.npy"))
    with pytest.raises(HardwareError, match="could not be reached"):  # only submitting needs the network
        run_on_backend(head, z, "ibm_fez", mode="ibm", seed=7, batch_size=1, submit=True, cache=cache)


PROFILE = {
    "name": "test",
    "is_demo": True,
    "hardware": {"backends": ["ibm_fez"], "shots": 256, "seed": 7, "n_samples": 2, "bootstrap": 30},
}


@pytest.fixture
def study_inputs(head_and_z, monkeypatch):
    """The study's checkpoint replaced by the test head and two samples with CheXpert labels."""
    head, z = head_and_z
    labels = np.array([[2, 1, 2, 1, 2], [1, 2, 1, 2, 1]])
    monkeypatch.setattr(
        hardware_study,
        "checkpoint_inputs",
        lambda cache, profile, benchmark, n: (head, z.numpy()[:n], labels[:n], "run_chexpert:test"),
    )
    return monkeypatch


def test_study_plans_every_backend_offline(study_inputs, offline, tmp_path):
    _block_network(offline)
    offline.setattr(hardware, "runtime_service", _no_call)
    with pytest.warns(UserWarning, match="FakeMarrakesh"), pytest.raises(SubmissionNotRequested) as error:
        hardware_study.hardware_study(Cache(tmp_path), PROFILE, mode="ibm", backends=["ibm_fez", "ibm_boston"])
    plan = error.value.plan
    assert sorted(plan) == ["ibm_boston", "ibm_fez"] and plan["ibm_fez"]["backend"] == "fake_fez"
    assert plan["ibm_boston"]["backend"] == "fake_marrakesh" and plan["ibm_boston"]["substituted"] is True
    assert all(p["n_samples"] == 2 and p["depth"] > 0 for p in plan.values())
    assert "ibm_fez: ready to submit" in str(error.value) and "ibm_boston: ready to submit" in str(error.value)
    assert not any(tmp_path.rglob("*.npy"))


@pytest.mark.slow
def test_study_is_reproducible_with_the_same_seeds(study_inputs, tmp_path):
    """Two runs into two fresh caches: the same Fig. 11 table byte for byte, the same job records
    (but for the measured wall time), the same raw values and transpiled circuit."""
    entries = [hardware_study.hardware_study(Cache(tmp_path / name), PROFILE, mode="fake") for name in ("a", "b")]
    first, second = (entry.file("hardware.csv").read_bytes() for entry in entries)
    assert first == second and b"ibm_fez: fake_fez" in first
    assert entries[0].file("summary.csv").read_bytes() == entries[1].file("summary.csv").read_bytes()
    # every metric of every backend has its bootstrap interval around the value hardware.csv reports
    table, summary = entries[0].read_csv("hardware.csv"), entries[0].read_csv("summary.csv")
    merged = table.merge(summary, on=["backend", "task", "metric"], validate="one_to_one")
    assert len(merged) == len(table) and set(merged.metric) >= {"accuracy", "f1"}
    assert np.allclose(merged.value, merged["mean"], equal_nan=True)
    finite = merged.dropna(subset=["value", "ci_low", "ci_high"])
    assert len(finite) and ((finite.ci_low <= finite.value + 1e-12) & (finite.value <= finite.ci_high + 1e-12)).all()
    jobs = [entry.read_csv("jobs.csv") for entry in entries]
    assert jobs[0].drop(columns="wall_s").equals(jobs[1].drop(columns="wall_s"))
    runs = [sorted((tmp_path / name).rglob("expvals.npy")) for name in ("a", "b")]
    assert len(runs[0]) == 1 and runs[0][0].read_bytes() == runs[1][0].read_bytes()
    circuits = []
    for (path,) in runs:
        with open(path.with_name("isa.qpy"), "rb") as handle:
            circuits.append(qpy.load(handle)[0])
    assert qasm3.dumps(circuits[0]) == qasm3.dumps(circuits[1]) and jobs[0].depth[0] == circuits[0].depth()
