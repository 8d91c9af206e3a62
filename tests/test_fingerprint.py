"""Code versions of cached stages come from the import closure of the code that computes them."""

from __future__ import annotations

import shutil

import pytest

from qmtl_utils.runtime import fingerprint
from qmtl_utils.runtime.fingerprint import code_fingerprint, import_closure, source_imports


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """A copy of qmtl_utils whose sources the fingerprints read (edits never touch the real one)."""
    copy = tmp_path / "qmtl_utils"
    shutil.copytree(fingerprint._PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprint, "_PACKAGE_DIR", copy)
    return copy


def test_closure_follows_imports_at_any_depth():
    closure = import_closure("qmtl_utils.studies.benchmark_runs")
    for reached in (
        "qmtl_utils.models.params",
        "qmtl_utils.models.heads",
        "qmtl_utils.quantum.statevector",
        "qmtl_utils.quantum.mps",  # imported inside a method: still reachable
        "qmtl_utils.training.losses",
        "qmtl_utils.data.datasets",
        "qmtl_utils.spec",
    ):
        assert reached in closure, reached
    assert "qmtl_utils.quantum.hardware" not in closure and "qmtl_utils.quantum.aer_noise" not in closure
    noise = import_closure("qmtl_utils.studies.noise_study")  # the exact noisy path, not Aer
    assert "qmtl_utils.quantum.exact_noise" in noise and "qmtl_utils.quantum.aer_noise" not in noise
    assert "qmtl_utils.quantum.aer_noise" in import_closure("qmtl_utils.studies.hardware_study")


def test_editing_a_used_module_changes_the_key_and_an_unrelated_one_does_not(package_copy):
    stage_code = "qmtl_utils.studies.benchmark_runs"  # the code version of every run_<benchmark> entry
    before = code_fingerprint(stage_code)
    with open(package_copy / "quantum" / "hardware.py", "a") as fh:
        fh.write("\n# an edit the benchmark runs never execute\n")
    assert code_fingerprint(stage_code) == before
    with open(package_copy / "models" / "params.py", "a") as fh:  # writes head_params and label columns
        fh.write("\n# an edit\n")
    assert code_fingerprint(stage_code) != before


def test_type_checking_imports_do_not_count():
    assert "qmtl_utils.models.heads" not in import_closure("qmtl_utils.quantum.aer_noise")


def test_notebook_imports_are_read_from_cell_source():
    cells = "%matplotlib inline\nfrom qmtl_utils.studies import noise_study\nimport qmtl_utils.spec\nimport numpy\n"
    assert source_imports(cells) == {"qmtl_utils", "qmtl_utils.studies", "qmtl_utils.studies.noise_study", "qmtl_utils.spec"}


def test_unknown_module_cannot_be_fingerprinted():
    with pytest.raises(ValueError, match="no source file"):
        code_fingerprint("sys")
