"""Task-scaling study (qmtl_utils.studies.task_scaling): the task family, capacity-matched heads, the cached sweep."""

import dataclasses

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from qmtl_utils.models.factory import make_head_for_config
from qmtl_utils.models.params import count_trainable
from qmtl_utils.runtime.cache import Cache
from qmtl_utils.studies import task_scaling

TINY = task_scaling.ScalingSettings(tasks=(2,), seeds=(0,), n_train=64, n_test=64, epochs=1, batch_size=32)


def test_family_is_deterministic_per_seed_and_differs_across_seeds():
    a, b = task_scaling.make_task_family(4, 0, 100, 50), task_scaling.make_task_family(4, 0, 100, 50)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    c = task_scaling.make_task_family(4, 1, 100, 50)
    assert not np.allclose(a.x_train, c.x_train) and not np.array_equal(a.y_train, c.y_train)
    assert a.x_train.shape == (100, 32) and a.y_test.shape == (50, 4) and a.x_train.dtype == np.float32
    # the tasks of a smaller T are the first tasks of a larger one
    big = task_scaling.make_task_family(8, 0, 100, 50)
    np.testing.assert_array_equal(big.y_train[:, :4], a.y_train)
    # tasks are not identical
    assert all(not np.array_equal(big.y_train[:, s], big.y_train[:, t]) for s in range(8) for t in range(s + 2, 8, 2))


def test_task_types_alternate():
    family = task_scaling.make_task_family(6, 0, 300, 300)
    assert family.task_outputs == (1, 3, 1, 3, 1, 3) and family.n_classes == (2, 3, 2, 3, 2, 3)
    for t, k in enumerate(family.n_classes):
        counts = np.bincount(family.y_train[:, t], minlength=k)
        assert len(counts) == k and counts.min() > 0.2 * 300  # every class present, roughly balanced


def test_labels_are_learnable():
    family = task_scaling.make_task_family(4, 0, 1000, 1000)
    for t in range(4):
        clf = LogisticRegression(max_iter=2000).fit(family.x_train, family.y_train[:, t])
        majority = np.bincount(family.y_test[:, t]).max() / len(family.y_test)
        assert clf.score(family.x_test, family.y_test[:, t]) > majority + 0.2


@pytest.mark.parametrize("T", [2, 4, 8])
def test_capacity_matched_heads_and_closed_forms(T):
    L = 3
    config = task_scaling.capacity_matched_config(T, n_layers=L)
    assert config.n_qubits == 2 * T and config.d == 2 * T * L  # Eqs. (13), (14)
    assert config.task_qubits == (2,) * T
    assert config.observables[0] == ("ZI",) and config.observables[1] == ("ZI", "IZ", "XX")
    outputs = task_scaling.task_outputs(T)
    expected = {
        "classical": sum(r * (config.d + 1) for r in outputs),  # Eq. (8)
        "qmtl": config.n_qubits * L + 3 * 2 * 1 * T + T,  # Eq. (16) + one logit scale per task
        "hqnn4": 3 * (config.d + 1) + 3 * 4 + 1 + sum(r * 5 for r in outputs),
    }
    for variant in task_scaling.VARIANTS:
        head = make_head_for_config(config, variant)
        closed, _ = task_scaling.closed_form_params(variant, config)
        assert count_trainable(head) == closed == expected[variant]
    no_scale = task_scaling.capacity_matched_config(T, output_scale=False)
    assert count_trainable(make_head_for_config(no_scale, "qmtl")) == 2 * T * (L + 3)  # Eq. (16) exactly


def test_backend_rule():
    assert task_scaling.qmtl_backend(16, 16) == "fast" and task_scaling.qmtl_backend(18, 16) == "mps"


def test_run_scaling_writes_the_table_and_resumes_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("QMTL_EXECUTOR", "serial")  # the runs computed in this process, where they are counted
    cache = Cache(tmp_path)
    calls = []
    train = task_scaling.train_scaling_run

    def counting(*args, **kwargs):
        calls.append(args[:3])
        return train(*args, **kwargs)

    monkeypatch.setattr(task_scaling, "train_scaling_run", counting)
    entry = task_scaling.run_scaling(cache, TINY)
    runs = entry.read_csv("runs.csv")
    assert (
        list(runs.columns)
        == [
            "T",
            "variant",
            "seed",
            "Q",
            "d",
            "head_params",
            "closed_form_params",
            "closed_form",
            "accuracy",
            "macro_f1",
            "majority_accuracy",
            "epoch_s",
            "train_s",
            "backend",
        ]
        == list(task_scaling.RUN_COLUMNS)
    )
    assert len(runs) == 3 and sorted(runs.variant) == sorted(task_scaling.VARIANTS)
    assert (runs.head_params == runs.closed_form_params).all()
    assert runs.set_index("variant").Q.to_dict() == {"classical": 0, "hqnn4": 4, "qmtl": 4}
    assert (runs.d == 12).all() and set(runs.backend) == {"torch", "fast"}
    assert entry.read_csv("tasks.csv").shape[0] == 3 * 2
    assert len(calls) == 3
    again = task_scaling.run_scaling(cache, TINY)  # everything comes from the cache
    assert len(calls) == 3 and again.key == entry.key
    bigger = dataclasses.replace(TINY, seeds=(0, 1))  # only the new seed trains
    task_scaling.run_scaling(cache, bigger)
    assert len(calls) == 6 and {c[2] for c in calls[3:]} == {1}


def test_runs_are_reproducible():
    a, tasks_a = task_scaling.train_scaling_run(2, "qmtl", 0, TINY)
    b, tasks_b = task_scaling.train_scaling_run(2, "qmtl", 0, TINY)
    assert a["accuracy"] == b["accuracy"] and tasks_a.equals(tasks_b)


def test_sixteen_tasks_on_the_mps_backend():
    settings = dataclasses.replace(TINY, n_train=32, n_test=32)
    record, tasks = task_scaling.train_scaling_run(16, "qmtl", 0, settings, backend="mps")
    assert record["backend"] == "mps" and record["Q"] == 32 and record["d"] == 96 and len(tasks) == 16
    assert record["head_params"] == record["closed_form_params"] == 32 * (3 + 3) + 16
    # the backend changes the simulator, not the numbers
    fast, _ = task_scaling.train_scaling_run(2, "qmtl", 0, TINY, backend="fast")
    mps, _ = task_scaling.train_scaling_run(2, "qmtl", 0, TINY, backend="mps")
    assert abs(fast["accuracy"] - mps["accuracy"]) <= 1 / 64
