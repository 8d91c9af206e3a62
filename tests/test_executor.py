"""The executors of ``run_all.sh --executor``: serial (in this process), local (a pool of spawned
processes, the default) and Ray (a local Ray with 2 CPUs). Units land in the same content-keyed
cache entries whoever computes them, each computed with the same torch thread count; a failing unit
is reported with its traceback while the others complete, and a rerun computes only what failed."""

import json
import os
import sys

import pytest

from qmtl_utils.runtime import executor
from qmtl_utils.runtime.cache import Cache

ray = pytest.importorskip("ray")


def square(folder, *, x: int, fail_on=()) -> dict:
    """A unit's compute function: writes x² and the torch threads it ran with (and fails for the x in ``fail_on``)."""
    import torch

    if x in fail_on:
        raise ValueError(f"deliberate failure for x={x}")
    (folder / "value.json").write_text(
        json.dumps({"x": x, "square": x * x, "pid": os.getpid(), "threads": torch.get_num_threads()})
    )
    return {"x": x}


def units(fail_on=()) -> list[executor.Unit]:
    return [
        executor.Unit("squares", {"x": x}, square, {"x": x, "fail_on": tuple(fail_on)}, code_version="v1", label=f"square x={x}")
        for x in range(5)
    ]


@pytest.fixture(scope="module")
def local_ray():
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def test_serial_executor_computes_each_unit_here_with_the_unit_thread_count(tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv(executor.ENV_THREADS, "1")
    before = torch.get_num_threads()
    cache = Cache(tmp_path)
    assert executor.prefetch(cache, units(), executor="serial") == 5
    for unit in units():
        value = cache.get(unit.stage, unit.key).read_json("value.json")
        assert value["pid"] == os.getpid() and value["threads"] == 1
    assert torch.get_num_threads() == before  # restored
    assert executor.prefetch(cache, units(), executor="serial") == 0


def test_unknown_executor_is_rejected(monkeypatch):
    monkeypatch.setenv(executor.ENV_EXECUTOR, "dask")
    with pytest.raises(ValueError, match="choose one of local, serial, ray"):
        executor.current()
    monkeypatch.delenv(executor.ENV_EXECUTOR)
    assert executor.current() == "local"


def _check_failure_and_rerun(cache, tmp_path, capsys, name):
    with pytest.raises(executor.UnitsFailed) as failed:
        executor.prefetch(cache, units(fail_on=(3,)), executor=name)
    message = str(failed.value)
    assert "1 of 5 units failed" in message and "square x=3: ValueError: deliberate failure for x=3" in message
    assert "Traceback (most recent call last)" in message and "in square" in message
    for unit in units():  # the others completed, under the keys the serial loop would use
        entry = cache.get(unit.stage, unit.key)
        if unit.params["x"] == 3:
            assert entry is None
        else:
            value = entry.read_json("value.json")
            assert value["square"] == unit.params["x"] ** 2 and value["threads"] == executor.unit_threads()
            assert entry.manifest["meta"]["x"] == unit.params["x"]
            assert value["pid"] != os.getpid()  # computed by a worker
    assert not list(tmp_path.glob("squares/.tmp-*"))  # the failed unit left no temporary folder
    assert "FAILED" in capsys.readouterr().out

    # rerun with the fault gone: only the failed unit is computed
    assert executor.prefetch(cache, units(), executor=name) == 1
    assert cache.get("squares", units()[3].key).read_json("value.json")["square"] == 9
    # and a third run computes nothing
    assert executor.prefetch(cache, units(), executor=name) == 0


@pytest.mark.slow
def test_local_units_fill_the_serial_keys_and_a_failure_does_not_stop_the_rest(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(executor.ENV_WORKERS, "2")
    _check_failure_and_rerun(Cache(tmp_path), tmp_path, capsys, "local")


@pytest.mark.slow
def test_ray_units_fill_the_serial_keys_and_a_failure_does_not_stop_the_rest(tmp_path, local_ray, capsys):
    _check_failure_and_rerun(Cache(tmp_path), tmp_path, capsys, "ray")
