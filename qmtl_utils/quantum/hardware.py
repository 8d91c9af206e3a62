"""Running a trained QMTL head on IBM Quantum devices (§7) or their calibration snapshots.

One code path for both: the head's circuit (:mod:`qmtl_utils.quantum.qiskit_circuits`) is transpiled
ONCE for the backend (an ISA circuit on the device's qubits; the same circuit on every call with the
same seed, see :func:`average_error_map`), the observables follow its layout
(``SparsePauliOp.apply_layout``), and each batch of samples is ONE ``qiskit-ibm-runtime``
``EstimatorV2`` job with one PUB ``(circuit, observables, Z)``.

* ``mode="ibm"``: a real device (``ibm_fez``, ``ibm_boston``, any name the account can use).
  Credentials: ``QISKIT_IBM_TOKEN`` (+ optional ``QISKIT_IBM_INSTANCE``, ``QISKIT_IBM_CHANNEL``)
  or a saved account (``QiskitRuntimeService.save_account``). Nothing is submitted unless
  ``submit=True``; without it the plan (depth, two-qubit gates) is made offline on the device's
  calibration snapshot and IBM Quantum is not contacted. Every failure raises
  :class:`HardwareError` (never a silent fallback); an unreachable IBM Quantum (DNS, proxy,
  refused connection) is reported as such, not as rejected credentials.
* ``mode="fake"``: the runtime's fake backend with the device's real calibration snapshot
  (``ibm_fez`` -> ``FakeFez``), same ``EstimatorV2(mode=fake_backend)`` path, simulated locally
  by Aer with the snapshot's noise model. ``ibm_boston`` (Heron r3) has a snapshot
  (``FakeBoston``) only from qiskit-ibm-runtime 0.47; with older runtimes it is replaced by
  ``FakeMarrakesh`` (Heron r2, the installed snapshot with the lowest median CZ error, as
  ibm_boston had at the paper's run) and the record says so (``substituted``).

Every job is recorded in the cache (stage ``hardware_runs``, one entry per batch): raw
expectation values, job id, backend, calibration timestamp, shots, transpiled depth and two-qubit
gate count, seeds, and the transpiled circuit itself (``isa.qpy``). :func:`load_recorded` reads
them back without touching any backend.

Queue timeout (``timeout_s``): the job is NOT cancelled (its queue slot is kept); its id is
written to ``<cache>/hardware_pending/`` and the same call later fetches that job instead of
submitting a new one.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import math
import os
import socket
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qmtl_utils.quantum.aer_noise import measurement_settings, shots_precision, two_qubit_gate_count
from qmtl_utils.quantum.qiskit_circuits import qmtl_observables, qmtl_qiskit_circuit, to_numpy
from qmtl_utils.runtime.cache import Cache, make_key, write_json

if TYPE_CHECKING:  # annotations only: the head lives in a higher layer (models)
    from qmtl_utils.models.heads import QMTLHead

STAGE = "hardware_runs"
# Cache-key version of recorded jobs: bump it only when the circuit construction changes, so
# that editing unrelated code never orphans (paid-for) device results.
RECORD_VERSION = "qmtl-hardware-1"
# Requested device -> installed snapshot used when the device's own snapshot is missing.
SNAPSHOT_STANDINS = {"FakeBoston": "FakeMarrakesh"}


class HardwareError(RuntimeError):
    """IBM Quantum execution could not go ahead; the message says what to do."""


class SubmissionNotRequested(HardwareError):
    """Everything is ready for a real-device job, but ``submit=True`` was not given."""

    def __init__(self, message: str, plan: dict):
        super().__init__(message)
        self.plan = plan


class QueueTimeout(HardwareError):
    """The job did not finish within ``timeout_s``; it stays queued and its id is recorded."""

    def __init__(self, message: str, job_id: str):
        super().__init__(message)
        self.job_id = job_id


# --------------------------------------------------------------------------- backends


def fake_backend(name: str):
    """``(backend, substituted)`` for ``ibm_<x>`` / ``fake_<x>``: the installed ``Fake<X>``
    snapshot, or its stand-in from ``SNAPSHOT_STANDINS`` (``substituted=True``, with a warning).

    Taught in: 06_hardware, "The calibration snapshots"
    """
    from qiskit_ibm_runtime import fake_provider

    class_name = "Fake" + name.split("_", 1)[-1].capitalize()
    substituted = not hasattr(fake_provider, class_name) and class_name in SNAPSHOT_STANDINS
    if substituted:
        warnings.warn(
            f"{class_name} is not in this qiskit-ibm-runtime; using "
            f"{SNAPSHOT_STANDINS[class_name]} for {name!r} (recorded as substituted)"
        )
        class_name = SNAPSHOT_STANDINS[class_name]
    if not hasattr(fake_provider, class_name):
        available = sorted(n for n in dir(fake_provider) if n.startswith("Fake") and n[4:5].isupper())
        raise HardwareError(
            f"no calibration snapshot for backend {name!r} (looked for {class_name}); installed snapshots: {', '.join(available)}"
        )
    return getattr(fake_provider, class_name)(), substituted


# errno values of an OSError that mean "the network or the host is not there", not "refused credentials"
NETWORK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ENETUNREACH",
        "ENETDOWN",
        "ENETRESET",
        "EHOSTUNREACH",
        "EHOSTDOWN",
        "ECONNREFUSED",
        "ECONNRESET",
        "ECONNABORTED",
        "ETIMEDOUT",
    )
    if hasattr(errno, name)
)


def _exception_chain(exc: BaseException):
    """``exc`` and everything it was raised from or while handling (``__cause__``/``__context__``)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def network_cause(exc: BaseException) -> BaseException | None:
    """The connection failure (DNS, refused, unreachable, timed out, proxy/TLS) somewhere in ``exc``'s
    chain, or None. The runtime wraps such failures in ``InvalidAccountError`` ("check that you are
    using a valid API token"), so the wrapper alone cannot tell a missing network from a bad token.
    The most informative link is returned: urllib3's (it names the host), else the innermost one."""
    import requests
    import urllib3.exceptions

    kinds = (
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        urllib3.exceptions.NewConnectionError,
        urllib3.exceptions.MaxRetryError,
        urllib3.exceptions.ConnectTimeoutError,
        urllib3.exceptions.ProtocolError,
        socket.gaierror,
        socket.herror,
        ConnectionError,
        TimeoutError,
    )
    found = [e for e in _exception_chain(exc) if isinstance(e, kinds) or (isinstance(e, OSError) and e.errno in NETWORK_ERRNOS)]
    if not found:
        return None
    named = [e for e in found if isinstance(e, urllib3.exceptions.NewConnectionError)]
    return (named or found)[-1]


def _redacted(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` (the API token) blanked out; no message may carry it."""
    return text.replace(secret, "***") if secret else text


def _unreachable(cause: BaseException, secret: str | None, doing: str) -> HardwareError:
    reason = _redacted(f"{type(cause).__name__}: {cause}", secret)
    return HardwareError(
        f"IBM Quantum could not be reached while {doing} ({reason[:400]}); check the network connection "
        "and any proxy (HTTPS_PROXY). The credentials were not checked. Without submit=True the plan is made "
        "offline from the local calibration snapshot, and mode='fake' runs the snapshots offline."
    )


def runtime_service(channel: str | None = None, instance: str | None = None):
    """``QiskitRuntimeService`` from ``QISKIT_IBM_TOKEN`` (+ ``QISKIT_IBM_INSTANCE``,
    ``QISKIT_IBM_CHANNEL``) or else the saved account; :class:`HardwareError` if neither works,
    saying whether IBM Quantum could not be reached or rejected the credentials (never the token)."""
    from qiskit_ibm_runtime import QiskitRuntimeService
    from qiskit_ibm_runtime.accounts import AccountNotFoundError, InvalidAccountError
    from qiskit_ibm_runtime.exceptions import IBMError

    token = os.environ.get("QISKIT_IBM_TOKEN")
    kwargs = {
        "channel": channel or os.environ.get("QISKIT_IBM_CHANNEL"),
        "instance": instance or os.environ.get("QISKIT_IBM_INSTANCE"),
        "token": token,
    }
    try:
        return QiskitRuntimeService(**{k: v for k, v in kwargs.items() if v})
    except AccountNotFoundError as exc:
        raise HardwareError(
            "no IBM Quantum credentials: set QISKIT_IBM_TOKEN (and QISKIT_IBM_INSTANCE for an IBM "
            "Cloud instance CRN) or save an account once with QiskitRuntimeService.save_account("
            f"token=..., instance=...). ({_redacted(str(exc), token)})"
        ) from exc
    except Exception as exc:
        source = "QISKIT_IBM_TOKEN" if token else "the saved account"
        if (cause := network_cause(exc)) is not None:
            raise _unreachable(cause, token, f"opening the account from {source}") from exc
        if isinstance(exc, (InvalidAccountError, IBMError, ValueError)):
            raise HardwareError(
                f"IBM Quantum rejected the credentials from {source}: {_redacted(str(exc), token)}. "
                "Check the token/instance at quantum.cloud.ibm.com."
            ) from exc
        raise


def ibm_backend(service, name: str):
    """The device ``name`` of ``service``; :class:`HardwareError` listing the usable ones if not."""
    from qiskit.providers.exceptions import QiskitBackendNotFoundError

    try:
        return service.backend(name)
    except QiskitBackendNotFoundError as exc:
        names = sorted(b.name for b in service.backends())
        raise HardwareError(
            f"backend {name!r} is not available to this account; available: {', '.join(names) or 'none'}"
        ) from exc
    except Exception as exc:
        if (cause := network_cause(exc)) is not None:
            raise _unreachable(cause, os.environ.get("QISKIT_IBM_TOKEN"), f"looking up {name!r}") from exc
        raise


def calibration_info(backend) -> dict:
    """Calibration timestamp (``properties().last_update_date``) and median two-qubit gate error
    (the quantity §7 relates performance to) of ``backend``'s target.

    Taught in: 06_hardware, "The calibration snapshots"
    """
    properties = backend.properties() if hasattr(backend, "properties") else None
    stamp = getattr(properties, "last_update_date", None)
    target = backend.target
    two_qubit = [n for n in target.operation_names if n in ("cz", "ecr", "cx")]
    errors = [p.error for n in two_qubit for p in target[n].values() if p is not None and p.error is not None]
    return {
        "calibration_timestamp": stamp.isoformat() if stamp is not None else None,
        "median_2q_error": float(np.median(errors)) if errors else None,
    }


# --------------------------------------------------------------------------- circuits and jobs


def average_error_map(target):
    """VF2's layout score table (the mean error of each qubit's and each coupler's instructions), as
    Qiskit builds it but summed in a fixed order (sorted instruction names, ``math.fsum``).

    Qiskit 2.3 sums each qubit's errors in the iteration order of a per-call randomly seeded hash
    set (``Target.operation_names_for_qargs``); on a target with control flow and a symmetric
    coupling map (every IBM Heron device) the two mirror-image embeddings of the head's chain then
    score a few ulps apart in a random direction, VF2Layout picks either, and the depth and the noise
    the circuit sees change from call to call with the same ``seed_transpiler`` (Qiskit issue 16490,
    fixed upstream after 2.3). With this map the choice is the same on every call."""
    from qiskit.transpiler.passes.layout.vf2_utils import ErrorMap

    qargs_list = sorted(q for q in (target.qargs or ()) if q is not None and len(q) in (1, 2))
    error_map = ErrorMap(len(qargs_list))
    for qargs in qargs_list:
        errors = [
            target[name][qargs].error
            for name in sorted(target.operation_names_for_qargs(qargs))
            if target[name].get(qargs) is not None and target[name][qargs].error is not None
        ]
        if errors:
            error_map.add_error(qargs if len(qargs) == 2 else (qargs[0], qargs[0]), math.fsum(errors) / len(errors))
    return error_map


def isa_pub_parts(head: QMTLHead, backend, optimization_level: int = 2, seed: int = 0):
    """The head's circuit transpiled for ``backend`` (``seed_transpiler=seed``) and the observables
    laid out on its physical qubits. The same arguments give the same circuit on every call: the
    layout is scored with :func:`average_error_map` (a fixed summation order), and the preset
    passes have no time limits (VF2 call limits only; Sabre seeded by ``seed_transpiler``)."""
    from qiskit.transpiler import AnalysisPass, PassManager, generate_preset_pass_manager

    error_map = average_error_map(backend.target)

    class StableErrorMap(AnalysisPass):  # read by VF2Layout / VF2PostLayout instead of their own map
        def run(self, dag):
            self.property_set["vf2_avg_error_map"] = error_map

    manager = generate_preset_pass_manager(optimization_level=optimization_level, backend=backend, seed_transpiler=seed)
    manager.pre_layout = PassManager([StableErrorMap()]) + (manager.pre_layout or PassManager())
    isa = manager.run(qmtl_qiskit_circuit(head))
    return isa, [op.apply_layout(isa.layout) for op in qmtl_observables(head.config)]


def _fingerprint(*arrays) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
    return digest.hexdigest()[:20]


def _head_fingerprint(head: QMTLHead) -> str:
    return _fingerprint(*[to_numpy(t) for t in head.state_dict().values()])


def _batch_params(head, batch, backend, mode, shots, seed, optimization_level) -> dict:
    return {
        "head": _head_fingerprint(head),
        "features": _fingerprint(batch),
        "n_samples": len(batch),
        "backend": backend,
        "mode": mode,
        "shots": shots,
        "seed": seed,
        "optimization_level": optimization_level,
    }


def _pending_file(cache: Cache, params: dict) -> Path:
    """Where the id of a queued (timed-out) real-device job for these batch params is kept."""
    key = make_key(STAGE, params, code_version=RECORD_VERSION)
    return cache.root / "hardware_pending" / f"{key[:20]}.json"


def _wait(job, timeout_s: float | None, pending: Path):
    from qiskit_ibm_runtime.exceptions import RuntimeJobTimeoutError

    try:
        return job.result(timeout=timeout_s)
    except RuntimeJobTimeoutError as exc:
        raise QueueTimeout(
            f"job {job.job_id()} did not finish within {timeout_s} s (status {job.status()}). It was "
            f"left in the queue and its id recorded in {pending}; run the same call again later to "
            "fetch it (no new job is submitted), or cancel it with service.job(id).cancel().",
            job.job_id(),
        ) from exc


def _transpiled(head, backend, *, requested, substituted, mode, shots, seed, optimization_level):
    """``(isa, observables, record)``: the head transpiled once for ``backend`` and what a job
    record says about it (without the per-job fields)."""
    isa, observables = isa_pub_parts(head, backend, optimization_level, seed)
    record = {
        "requested_backend": requested,
        "backend": backend.name,
        "substituted": substituted,
        "mode": mode,
        "shots": shots,
        "seed_transpiler": seed,
        "seed_simulator": seed,
        "optimization_level": optimization_level,
        "n_samples": None,  # set per job (or plan)
        "measurement_settings": measurement_settings(head.config),
        "depth": isa.depth(),
        "two_qubit_gates": two_qubit_gate_count(isa),
        **calibration_info(backend),
    }
    return isa, observables, record


def _write_qpy(circuit, path: Path) -> None:
    from qiskit import qpy

    with open(path, "wb") as handle:
        qpy.dump(circuit, handle)


def _run_batch(batch, backend, isa, observables, base_record: dict, *, service, mode, shots, seed, timeout_s, pending: Path):
    """One EstimatorV2 job for one batch of the transpiled ``isa``: ``(evs (n, K), stds (n, K), record)``."""
    from qiskit_ibm_runtime import EstimatorV2

    start = time.perf_counter()
    record = {**base_record, "n_samples": len(batch)}
    if pending.is_file():  # a job from an earlier call that timed out in the queue
        job = service.job(json.loads(pending.read_text())["job_id"])
    else:
        if mode == "fake":  # 10 active qubits of 156 (Aer truncation); density matrix: ~5x faster
            backend.set_options(method="density_matrix")  # than Kraus trajectories per shot
        estimator = EstimatorV2(mode=backend)
        if mode == "fake":  # local mode turns default_shots into a precision that can round up
            estimator.options.default_precision = shots_precision(shots)
            estimator.options.simulator.seed_simulator = seed
        else:
            estimator.options.default_shots = shots
        job = estimator.run([(isa, [[op] for op in observables], batch)])
        if mode == "ibm":
            write_json({"job_id": job.job_id(), "backend": backend.name}, pending)
    result = _wait(job, timeout_s, pending) if mode == "ibm" else job.result()  # local: no queue
    data = result[0].data
    record["shots"] = int(result[0].metadata.get("shots", shots))
    record["job_id"] = job.job_id() if mode == "ibm" else f"local-{pending.stem}"
    record["wall_s"] = round(time.perf_counter() - start, 3)
    return data.evs.T, data.stds.T, record


def _plan(head, batches, backend: str, *, shots, seed, optimization_level, channel, instance):
    """:class:`SubmissionNotRequested` for the uncached ``batches`` of a real-device run, planned
    offline on the device's local calibration snapshot; only a device without one is looked up live."""
    try:
        device, substituted = fake_backend(backend)
        source = f"the local calibration snapshot {device.name}, offline"
    except HardwareError:  # no snapshot installed for this device: only the live device can tell
        device, substituted = ibm_backend(runtime_service(channel, instance), backend), False
        source = f"the live device {device.name}"
    _, _, record = _transpiled(
        head,
        device,
        requested=backend,
        substituted=substituted,
        mode="ibm",
        shots=shots,
        seed=seed,
        optimization_level=optimization_level,
    )
    n_samples = sum(len(batch) for batch in batches)
    plan = {**record, "n_samples": n_samples, "jobs": len(batches), "plan_source": source}
    return SubmissionNotRequested(
        f"ready to submit {n_samples} samples in {len(batches)} job(s) x {shots} shots to {backend} but "
        "submit=True was not given; nothing was sent. Planned on "
        f"{source} (calibration {record['calibration_timestamp']}): depth {record['depth']}, "
        f"{record['two_qubit_gates']} two-qubit gates. With submit=True the circuit is transpiled again "
        "for the device's current calibration, which can change both.",
        plan,
    )


def run_on_backend(
    head: QMTLHead,
    z,
    backend: str = "ibm_fez",
    *,
    mode: str = "fake",
    shots: int = 1024,
    seed: int = 0,
    batch_size: int = 256,
    optimization_level: int = 2,
    submit: bool = False,
    timeout_s: float | None = 3600,
    cache: Cache,
    channel: str | None = None,
    instance: str | None = None,
) -> tuple[np.ndarray, list[dict]]:
    """§7: the head's raw readout ``(N, Σ r_t)`` (order of ``head.expectation_values``) on
    ``backend``, one job per ``batch_size`` samples, each recorded in ``cache`` (with the
    transpiled circuit, ``isa.qpy``). The circuit is transpiled once per call for all batches.

    ``mode="fake"`` runs the calibration snapshot locally; ``mode="ibm"`` needs ``submit=True``
    to send anything. Without it: :class:`SubmissionNotRequested` carrying the plan, made on the
    device's local calibration snapshot without contacting IBM Quantum. Cached batches are never
    re-run and need no backend. Returns the values and one record per job.

    Taught in: 06_hardware, "Run (or read back) one job per batch on every backend"
    """
    if mode not in ("fake", "ibm"):
        raise ValueError(f"mode must be 'fake' (calibration snapshot) or 'ibm' (device), got {mode!r}")
    features = to_numpy(z)
    batches = []
    for begin in range(0, len(features), batch_size):
        batch = features[begin : begin + batch_size]
        params = _batch_params(head, batch, backend, mode, shots, seed, optimization_level)
        batches.append((batch, params, _pending_file(cache, params)))
    if mode == "ibm" and not submit:
        missing = [
            batch
            for batch, params, _ in batches
            if cache.get(STAGE, make_key(STAGE, params, code_version=RECORD_VERSION)) is None
        ]
        if missing:
            raise _plan(
                head,
                missing,
                backend,
                shots=shots,
                seed=seed,
                optimization_level=optimization_level,
                channel=channel,
                instance=instance,
            )

    @functools.cache
    def resolve():  # (service, device, isa, observables, record): once, and only on a cache miss
        if mode == "fake":
            service, (device, substituted) = None, fake_backend(backend)
        else:
            service = runtime_service(channel, instance)
            device, substituted = ibm_backend(service, backend), False
        parts = _transpiled(
            head,
            device,
            requested=backend,
            substituted=substituted,
            mode=mode,
            shots=shots,
            seed=seed,
            optimization_level=optimization_level,
        )
        return service, device, *parts

    values, records = [], []
    for batch, params, pending in batches:

        def compute(folder: Path, batch=batch, pending=pending):
            service, device, isa, observables, base_record = resolve()
            evs, stds, record = _run_batch(
                batch,
                device,
                isa,
                observables,
                base_record,
                service=service,
                mode=mode,
                shots=shots,
                seed=seed,
                timeout_s=timeout_s,
                pending=pending,
            )
            np.save(folder / "expvals.npy", evs)
            np.save(folder / "stds.npy", stds)
            _write_qpy(isa, folder / "isa.qpy")
            write_json(record, folder / "record.json")
            pending.unlink(missing_ok=True)
            return {"job_id": record["job_id"], "backend": record["backend"]}

        entry = cache.get_or_compute(STAGE, params, compute, code_version=RECORD_VERSION)
        values.append(np.load(entry.file("expvals.npy")))
        records.append(entry.read_json("record.json"))
    return np.concatenate(values, axis=0), records


def load_recorded(
    head: QMTLHead,
    z,
    backend: str = "ibm_fez",
    *,
    mode: str = "fake",
    shots: int = 1024,
    seed: int = 0,
    batch_size: int = 256,
    optimization_level: int = 2,
    cache: Cache,
) -> tuple[np.ndarray, list[dict]]:
    """The values and records :func:`run_on_backend` stored for exactly these arguments, read
    from ``cache`` only (no backend, no credentials); ``MissingCacheEntry`` says what to run."""
    features, values, records = to_numpy(z), [], []
    call = (
        f"qmtl_utils.quantum.hardware.run_on_backend(head, z, backend={backend!r}, mode={mode!r}, "
        f"shots={shots}, seed={seed}, batch_size={batch_size}" + (", submit=True" if mode == "ibm" else "") + ", cache=cache)"
    )
    for begin in range(0, len(features), batch_size):
        batch = features[begin : begin + batch_size]
        params = _batch_params(head, batch, backend, mode, shots, seed, optimization_level)
        entry = cache.lookup(STAGE, params, code_version=RECORD_VERSION, producer=call)
        values.append(np.load(entry.file("expvals.npy")))
        records.append(entry.read_json("record.json"))
    return np.concatenate(values, axis=0), records
