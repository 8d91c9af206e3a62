"""The content-keyed cache: keys, atomic writes, corruption handling and lookups."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qmtl_utils.runtime import cache as cache_mod
from qmtl_utils.runtime.cache import Cache, CacheCorruptionWarning, MissingCacheEntry, make_key, write_csv, write_json
from qmtl_utils.runtime.fingerprint import code_fingerprint

PARAMS = {"lr": 0.01, "tasks": (1, 2), "seed": np.int64(7), "data": Path("data/x.csv")}


def _writer(calls: list, value: int = 1):
    def compute(tmp: Path) -> dict:
        calls.append(tmp)
        write_csv(pd.DataFrame({"a": [value, 2], "b": [0.5, 1.5]}), tmp / "metrics.csv")
        write_json({"value": np.float32(value)}, tmp / "sub" / "summary.json")
        return {"extra": "yes"}

    return compute


def _leftovers(root: Path, prefix: str) -> list[Path]:
    return sorted(root.glob(f"*/{prefix}*"))


# --------------------------------------------------------------------------- keys


def test_same_inputs_same_key_and_canonical_forms():
    assert make_key("s", PARAMS) == make_key("s", dict(reversed(list(PARAMS.items()))))
    plain = {"lr": 0.01, "tasks": [1, 2], "seed": 7, "data": "data/x.csv"}
    assert make_key("s", PARAMS) == make_key("s", plain)
    assert len(make_key("s", PARAMS)) == 64


@pytest.mark.parametrize(
    "change",
    [
        dict(stage="t"),
        dict(params={**PARAMS, "lr": 0.02}),
        dict(params={**PARAMS, "new": None}),
        dict(upstream=["abc"]),
        dict(code_version="v2"),
    ],
)
def test_any_change_changes_the_key(change):
    base = dict(stage="s", params=PARAMS, upstream=(), code_version="")
    assert make_key(**{**base, **change}) != make_key(**base)


def test_unsupported_value_is_rejected_with_its_key_named():
    with pytest.raises(TypeError, match=r"params\['model'\]\['layers'\]\[1\].*set"):
        make_key("s", {"model": {"layers": [1, {3}]}})
    with pytest.raises(TypeError, match="object"):
        make_key("s", {"fn": object()})


def test_code_fingerprint_follows_module_source(tmp_path, monkeypatch):
    module = tmp_path / "qmtl_fp_probe.py"
    module.write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = code_fingerprint("qmtl_fp_probe")
    assert before == code_fingerprint("qmtl_fp_probe") and len(before) == 16
    module.write_text("X = 2\n")
    assert code_fingerprint("qmtl_fp_probe") != before
    assert code_fingerprint(cache_mod) == code_fingerprint("qmtl_utils.runtime.cache")
    assert code_fingerprint() != code_fingerprint(cache_mod)
    with pytest.raises(ValueError, match="no source file"):
        code_fingerprint("sys")


def test_code_fingerprint_imports_nothing_heavy():
    code = (
        "import sys; from qmtl_utils.runtime.cache import Cache; "
        "from qmtl_utils.runtime.fingerprint import code_fingerprint; code_fingerprint(); "
        "heavy = {'torch', 'pennylane', 'pandas', 'numpy'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- get_or_compute


def test_computes_once_then_hits(tmp_path, capsys):
    cache, calls = Cache(tmp_path / "demo"), []
    first = cache.get_or_compute("heads", PARAMS, _writer(calls), meta={"profile": "demo"})
    second = cache.get_or_compute("heads", PARAMS, _writer(calls))
    assert len(calls) == 1
    assert first.path == second.path == tmp_path / "demo" / "heads" / first.key[:20]
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"[cache] miss heads {first.key[:12]} -> computed in ")
    assert out[1] == f"[cache] hit  heads {first.key[:12]}"

    manifest = second.manifest
    assert manifest["key"] == first.key and manifest["stage"] == "heads"
    assert manifest["params"]["tasks"] == [1, 2] and manifest["params"]["seed"] == 7
    assert set(manifest["files"]) == {"metrics.csv", "sub/summary.json"}
    assert manifest["meta"]["profile"] == "demo" and manifest["meta"]["extra"] == "yes"
    assert manifest["meta"]["wall_s"] >= 0
    assert second.read_csv("metrics.csv")["a"].tolist() == [1, 2]
    assert second.read_json("sub/summary.json") == {"value": 1.0}
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        second.file("missing.csv")
    assert not _leftovers(tmp_path / "demo", ".tmp-")


def test_different_params_make_separate_entries(tmp_path):
    cache, calls = Cache(tmp_path), []
    a = cache.get_or_compute("heads", {"n": 1}, _writer(calls, 1))
    b = cache.get_or_compute("heads", {"n": 2}, _writer(calls, 2))
    assert a.path != b.path and len(calls) == 2
    assert b.read_csv("metrics.csv")["a"].tolist() == [2, 2]


def test_failing_writer_leaves_nothing(tmp_path):
    cache = Cache(tmp_path)

    def boom(tmp: Path) -> None:
        (tmp / "half.csv").write_text("a\n1\n")
        raise RuntimeError("compute failed")

    with pytest.raises(RuntimeError, match="compute failed"):
        cache.get_or_compute("heads", PARAMS, boom)
    assert cache.get("heads", make_key("heads", PARAMS)) is None
    assert list((tmp_path / "heads").iterdir()) == []


def test_put_keeps_an_existing_valid_entry(tmp_path):
    cache, calls = Cache(tmp_path), []
    key = make_key("heads", PARAMS)
    first = cache.put("heads", key, _writer(calls, 1), params=PARAMS)
    again = cache.put("heads", key, _writer(calls, 5), params=PARAMS)
    assert again.manifest["created"] == first.manifest["created"]
    assert again.read_csv("metrics.csv")["a"].tolist() == [1, 2]
    assert not _leftovers(tmp_path, ".tmp-")


# --------------------------------------------------------------------------- corruption


def _entry(tmp_path: Path) -> tuple[Cache, str, Path]:
    cache = Cache(tmp_path)
    entry = cache.get_or_compute("heads", PARAMS, _writer([]))
    return cache, entry.key, entry.path


def _damage_manifest(path: Path) -> None:
    (path / "manifest.json").unlink()


def _damage_payload(path: Path) -> None:
    target = path / "metrics.csv"
    target.write_text(target.read_text().replace("0.5", "9.5"))  # same size, other bytes


def _damage_missing_file(path: Path) -> None:
    (path / "sub" / "summary.json").unlink()


def _damage_bad_json(path: Path) -> None:
    (path / "manifest.json").write_text('{"key": ')


@pytest.mark.parametrize(
    "damage, problem",
    [
        (_damage_manifest, "manifest.json is missing"),
        (_damage_payload, "'metrics.csv' does not match"),
        (_damage_missing_file, "'sub/summary.json' is missing"),
        (_damage_bad_json, "cannot be read"),
    ],
)
def test_damaged_entry_is_moved_aside_and_recomputed(tmp_path, damage, problem):
    cache, key, path = _entry(tmp_path)
    damage(path)
    with pytest.warns(CacheCorruptionWarning, match=problem) as record:
        assert cache.get("heads", key) is None
    corrupt = _leftovers(tmp_path, ".corrupt-")
    assert len(corrupt) == 1 and corrupt[0].name.startswith(f".corrupt-{key[:20]}-")
    assert str(corrupt[0]) in str(record[0].message)
    assert (corrupt[0] / "metrics.csv").exists()  # the bad copy is preserved
    assert not path.exists()

    calls: list = []
    entry = cache.get_or_compute("heads", PARAMS, _writer(calls))
    assert len(calls) == 1 and entry.path == path
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.get("heads", key) is not None


def test_interrupted_temp_dir_is_never_read_and_cleaned(tmp_path):
    cache = Cache(tmp_path)
    key = make_key("heads", PARAMS)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    orphan = tmp_path / "heads" / f".tmp-{key[:20]}-{dead.stdout.strip()}-abcd1234"
    mine = tmp_path / "heads" / f".tmp-{'0' * 20}-{os.getpid()}-abcd1234"
    for folder in (orphan, mine):
        folder.mkdir(parents=True)
        (folder / "metrics.csv").write_text("a\n1\n")
    assert cache.get("heads", key) is None

    calls: list = []
    cache.get_or_compute("heads", PARAMS, _writer(calls))
    assert len(calls) == 1
    assert not orphan.exists()  # its writer is gone
    assert mine.exists()  # a live writer's folder is left alone


def test_invalid_final_dir_is_moved_aside_by_put(tmp_path):
    cache, key, path = _entry(tmp_path)
    _damage_manifest(path)
    with pytest.warns(CacheCorruptionWarning):
        entry = cache.put("heads", key, _writer([], 3), params=PARAMS)
    assert entry.read_csv("metrics.csv")["a"].tolist() == [3, 2]
    assert len(_leftovers(tmp_path, ".corrupt-")) == 1


# --------------------------------------------------------------------------- lookup, helpers


def test_lookup_names_the_producer(tmp_path):
    cache = Cache(tmp_path / "smoke")
    with pytest.raises(MissingCacheEntry, match=r"02_heads\.ipynb.*--profile smoke"):
        cache.lookup("heads", PARAMS, producer="notebooks/02_heads.ipynb")
    made = cache.get_or_compute("heads", PARAMS, _writer([]), upstream=["u1"], code_version="c")
    found = cache.lookup("heads", PARAMS, upstream=["u1"], code_version="c", producer="x")
    assert found.key == made.key
    with pytest.raises(LookupError):
        cache.lookup("heads", PARAMS, producer="x")  # other upstream/code -> other key


def test_for_profile_uses_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("QMTL_CACHE_DIR", str(tmp_path))
    assert Cache.for_profile("demo").root == tmp_path / "demo"


def test_write_json_is_sorted_and_indented(tmp_path):
    write_json({"b": np.arange(2), "a": Path("x")}, tmp_path / "o.json")
    text = (tmp_path / "o.json").read_text()
    assert text.index('"a"') < text.index('"b"') and "\n  " in text
    assert json.loads(text) == {"a": "x", "b": [0, 1]}
