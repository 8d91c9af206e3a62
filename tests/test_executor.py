"""The Ray executor (``run_all.sh --executor ray``) on a local Ray with 2 CPUs: units land in the same
content-keyed cache entries as the serial path would make, a failing unit is reported with its
traceback while the others complete, and a rerun computes only what failed."""

import json
import os
import sys

import pytest

from qmtl_utils.runtime import executor
from qmtl_utils.runtime.cache import Cache

ray = pytest.importorskip("ray")


def square(folder, *, x: int, fail_on=()) -> dict:
    """A unit's compute function: writes x² (and fails for the x in ``fail_on``)."""
    if x in fail_on:
        raise ValueError(f"deliberate failure for x={x}")
    (folder / "value.json").write_text(json.dumps({"x": x, "square": x * x, "pid": os.getpid()}))
    return {"x": x}


def units(fail_on=()) -> list[executor.Unit]:
    return [executor.Unit("squares", {"x": x}, square, {"x": x, "fail_on": tuple(fail_on)}, code_version="v1",
                          label=f"square x={x}") for x in range(5)]


@pytest.fixture(scope="module")
def local_ray():
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def test_serial_executor_leaves_the_work_to_the_caller(tmp_path):
    cache = Cache(tmp_path)
    assert executor.prefetch(cache, units(), executor="serial") == 0
    assert not any(tmp_path.iterdir())


def test_unknown_executor_is_rejected(monkeypatch):
    monkeypatch.setenv(executor.ENV_EXECUTOR, "dask")
    with pytest.raises(ValueError, match="choose one of serial, ray"):
        executor.current()


@pytest.mark.slow
def test_ray_units_fill_the_serial_keys_and_a_failure_does_not_stop_the_rest(tmp_path, local_ray, capsys):
    cache = Cache(tmp_path)
    with pytest.raises(executor.UnitsFailed) as failed:
        executor.prefetch(cache, units(fail_on=(3,)), executor="ray")
    message = str(failed.value)
    assert "1 of 5 units failed" in message and "square x=3: ValueError: deliberate failure for x=3" in message
    assert "Traceback (most recent call last)" in message and "in square" in message
    for unit in units():  # the others completed, under the keys the serial loop would use
        entry = cache.get(unit.stage, unit.key)
        if unit.params["x"] == 3:
            assert entry is None
        else:
            assert entry.read_json("value.json")["square"] == unit.params["x"] ** 2
            assert entry.manifest["meta"]["x"] == unit.params["x"]
            assert entry.read_json("value.json")["pid"] != os.getpid()  # computed by a Ray worker
    assert not list(tmp_path.glob("squares/.tmp-*"))  # the failed unit left no temporary folder
    assert "FAILED" in capsys.readouterr().out

    # rerun with the fault gone: only the failed unit is computed
    assert executor.prefetch(cache, units(), executor="ray") == 1
    assert cache.get("squares", units()[3].key).read_json("value.json")["square"] == 9
    # and a third run computes nothing
    assert executor.prefetch(cache, units(), executor="ray") == 0
