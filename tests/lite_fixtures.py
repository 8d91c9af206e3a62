"""Real-format fixtures for the lite profile: GLUE in the original distribution's layout and
Extended MUStARD as its authors distribute it (``sarcasm_data.json``, the annotation sheet as CSV,
MUStARD's ``split_indices.p``; the feature ``.npz`` only when asked for), small enough for CI.

The contents come from the seeded demo generators, written by the same writers the demo uses, so
each file has the real layout and is read by the loaders exactly as real data is.
"""

from __future__ import annotations

from pathlib import Path

from qmtl_utils.data import glue, glue_demo, mustard


def write_lite_data(
    root: Path, n_glue: int = 40, n_mustard: int = 60, seed: int = 0, features: bool = False, tasks=glue.GLUE_TASKS
) -> dict[str, Path]:
    """``root/glue_data/<TASK>/{train,dev}.tsv`` (``n_glue`` examples per task, 20 % of them dev) and
    ``root/mustard/`` (``n_mustard`` utterances in five folds); returns the environment variables
    that point the companion at them."""
    demo = glue_demo.make_glue_demo(n_glue, seed)
    glue_root = glue.write_glue_dir({t: demo[t] for t in tasks}, root / "glue_data")
    data = mustard.make_mustard_demo(n_mustard, 16, seed)
    folder = mustard.write_mustard_files(data, root / "mustard")
    if not features:
        (folder / mustard.FEATURE_FILE).unlink()
    return {"QMTL_GLUE_DIR": str(glue_root), "QMTL_MUSTARD_DIR": str(folder), "QMTL_CHEXPERT_DIR": str(root / "no-chexpert-here")}
