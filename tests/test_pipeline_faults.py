"""Faults a user meets with run_all, each on small notebooks executed for real: a corrupted cache
entry, two runs on one cache, Ctrl-C, a full disk, typos in -p, and what the terminal shows."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from test_pipeline import env, run_pipeline, write_notebook  # noqa: F401 -- env is a fixture

from qmtl_utils.runtime import pipeline
from qmtl_utils.runtime.cache import Cache, CacheDiskFull

ENTRY_CELL = """\
from qmtl_utils.runtime.cache import Cache
import os
def write(folder):
    (folder / "value.txt").write_text("42\\n")
    with open(os.environ["QMTL_TEST_LOG"], "a") as fh:
        fh.write("computed\\n")
entry = Cache.for_profile(profile).get_or_compute("toy", {"x": 1}, write)
assert entry.file("value.txt").read_text() == "42\\n"
"""


def computed(folder) -> int:
    path = folder / "log.txt"
    return path.read_text().count("computed") if path.exists() else 0


@pytest.mark.slow
def test_a_corrupted_entry_reruns_its_stage_and_a_plain_rerun_recovers(env):  # noqa: F811
    write_notebook(env / "nbs", "01_make", ENTRY_CELL)
    first = run_pipeline(env)
    assert first.returncode == 0, first.stderr
    record = json.loads((env / "cache" / "demo" / "_pipeline" / "01_make.json").read_text())
    assert len(record["entries"]) == 1 and record["entries"][0].startswith("toy ")
    assert record["summary"] == {"hits": 0, "misses": 1, "figures": 0}
    assert "cache hits" in first.stdout and "executed" in first.stdout  # the closing table
    [entry] = (env / "cache" / "demo" / "toy").glob("[0-9a-f]*")
    (entry / "value.txt").write_text("4")  # truncated by hand

    second = run_pipeline(env)
    assert second.returncode == 0, second.stderr
    assert "re-running  01_make: 1 of its cache entries failed their check" in second.stdout
    assert computed(env) == 2 and (entry / "value.txt").read_text() == "42\n"
    assert list((env / "cache" / "demo" / "toy").glob(".corrupt-*"))  # the bad copy is kept aside
    third = run_pipeline(env)
    assert "1 up to date, 0 executed" in third.stdout and computed(env) == 2


@pytest.mark.slow
def test_a_second_run_on_the_same_cache_is_refused_naming_the_first(env, monkeypatch):  # noqa: F811
    write_notebook(env / "nbs", "01_make", ENTRY_CELL)
    monkeypatch.chdir(env)
    with pipeline.run_lock("demo"):
        other = run_pipeline(env)
    assert other.returncode == 1
    assert f"another run_all (PID {os.getpid()}) is using the cache" in other.stderr and computed(env) == 0
    assert run_pipeline(env).returncode == 0  # the lock went with its holder


@pytest.mark.slow
def test_ctrl_c_ends_with_one_line_and_a_rerun_resumes(env):  # noqa: F811
    write_notebook(
        env / "nbs",
        "01_wait",
        "import time\nfrom qmtl_utils.runtime.cache import Cache\n"
        "Cache.for_profile(profile).get_or_compute('toy', {}, lambda folder: time.sleep(120))",
    )
    argv = [sys.executable, "-m", "qmtl_utils.runtime.pipeline", "--notebooks-dir", str(env / "nbs")]
    # a terminal's Ctrl-C reaches a process whose SIGINT is at its default; a test runner started in the
    # background by a non-interactive shell (`cmd &`) ignores SIGINT, and its children inherit that
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    toy = env / "cache" / "demo" / "toy"
    deadline = time.time() + 240
    while time.time() < deadline and not list(toy.glob(".tmp-*")):  # the kernel is inside the computation
        time.sleep(0.5)
    inside = bool(list(toy.glob(".tmp-*")))
    time.sleep(1)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does: the whole process group
    out, err = process.communicate(timeout=300)  # generous: a loaded 2-core machine starts kernels slowly
    assert inside, "the notebook never reached its computation within 240 s:\n" + out + err
    assert process.returncode == 130, out + err
    assert "run_all: interrupted at 01_wait after" in err and "rerun to resume" in err
    assert "Traceback" not in out + err
    assert toy.is_dir() and not list(toy.glob(".tmp-*"))  # the interrupted entry's folder is gone
    assert not (env / "runs" / "demo" / "01_wait.ipynb").exists()  # no copy claiming cells ran that never did
    listing = run_pipeline(env, "--list")
    assert "interrupted" in listing.stdout  # the next run executes it again


def test_a_full_disk_is_reported_as_such_and_leaves_no_temporary_file(env, monkeypatch, capsys):  # noqa: F811
    write_notebook(env / "nbs", "01_make", ENTRY_CELL)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pipeline, "_write_json_atomic", full)
    assert pipeline.main(["--notebooks-dir", str(env / "nbs")]) == 1
    err = capsys.readouterr().err
    assert "run_all: the disk is full (No space left on device" in err and "Traceback" not in err
    assert not list((env / "cache").rglob("*.tmp"))

    # inside a notebook: the library's CacheDiskFull reaches run_all as a full disk
    write_notebook(env / "nbs", "01_make", "raise OSError(28, 'No space left on device')")
    monkeypatch.undo()
    result = run_pipeline(env)
    assert result.returncode == 1 and "the disk is full" in result.stderr


def test_cache_names_a_full_disk_and_keeps_nothing_half_written(tmp_path, monkeypatch):
    cache = Cache(tmp_path)

    def torch_like(folder):  # torch.save on a full disk reports only an opaque position error
        (folder / "head.pt").write_bytes(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 394816 vs 394768")

    monkeypatch.setattr("shutil.disk_usage", lambda path: type("u", (), {"free": 4096})())
    with pytest.raises(CacheDiskFull, match="the disk holding the cache .* is full .*unexpected pos") as raised:
        cache.get_or_compute("run_x", {"a": 1}, torch_like)
    assert raised.value.errno == errno.ENOSPC and str(tmp_path) in str(raised.value)
    assert not list(tmp_path.rglob(".tmp-*")) and cache.get("run_x", "0" * 64) is None

    def enospc(folder):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.undo()
    with pytest.raises(CacheDiskFull):
        cache.get_or_compute("run_x", {"a": 2}, enospc)


@pytest.mark.slow
def test_parameters_through_run_all_are_checked_against_the_cells(env):  # noqa: F811
    write_notebook(
        env / "nbs",
        "01_hw",
        "open(__import__('os').environ['QMTL_TEST_LOG'], 'a').write(f'{mode} {submit}\\n')",
        params='profile = "demo"  # p\nmode: str = "fake"  # m\nsubmit: bool = False  # s',
    )
    write_notebook(env / "nbs", "02_other", "pass")
    typo = run_pipeline(env, "-p", "modee", "ibm")
    assert (
        typo.returncode == 1
        and "no notebook declares a parameter 'modee'; valid names: mode (01_hw), submit (01_hw)" in typo.stderr
    )
    wrong = run_pipeline(env, "-p", "submit", "maybe")
    assert wrong.returncode == 1 and "declares submit as bool" in wrong.stderr
    assert "run_all sets 'profile' itself" in run_pipeline(env, "-p", "profile", "paper").stderr
    good = run_pipeline(env, "-p", "mode", "ibm", "-p", "submit", "true")
    assert good.returncode == 0, good.stderr
    assert (env / "log.txt").read_text().splitlines() == ["ibm True"]
    assert "01_hw [mode=ibm, submit=True] (profile demo)" in good.stdout
    again = run_pipeline(env, "-p", "mode", "ibm", "-p", "submit", "true")
    assert "2 up to date, 0 executed" in again.stdout  # the values are part of the stamp ...
    other = run_pipeline(env)
    assert "0 up to date, 2 executed" in other.stdout  # ... so the defaults run again (and what follows)


@pytest.mark.slow
def test_the_live_line_follows_the_notebooks_progress(env):  # noqa: F811
    write_notebook(
        env / "nbs",
        "01_runs",
        "from qmtl_utils.runtime import progress\nimport time\n"
        "progress.report(1, 3, 'first run')\ntime.sleep(2)\nprogress.report(2, 3, 'second run')\ntime.sleep(2)",
    )
    result = run_pipeline(env)
    assert result.returncode == 0, result.stderr
    assert "1/3 first run" in result.stdout and "2/3 second run" in result.stdout and "to go" in result.stdout
    assert "[IPKernelApp]" not in result.stdout + result.stderr  # no transport warning, no spurious ERROR
