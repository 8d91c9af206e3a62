"""Where things live, relative to the repository (never absolute paths in notebooks)."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The repository root: the folder holding ``pyproject.toml`` above this package."""
    here = Path(__file__).resolve().parent
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "qmtl_utils").is_dir():
            return candidate
    raise RuntimeError(f"cannot find the repository root above {here}")


def cache_dir(profile: str) -> Path:
    """Content-keyed cache of one profile: ``cache/<profile>`` (override with ``QMTL_CACHE_DIR``)."""
    base = Path(os.environ.get("QMTL_CACHE_DIR", repo_root() / "cache"))
    return base / profile


def figures_dir() -> Path:
    """Paper figures: ``figures/`` (override with ``QMTL_FIGURES_DIR``)."""
    return Path(os.environ.get("QMTL_FIGURES_DIR", repo_root() / "figures"))


def runs_dir(profile: str) -> Path:
    """Executed notebook copies written by ``run_all.sh``: ``runs/<profile>`` (override ``QMTL_RUNS_DIR``)."""
    base = Path(os.environ.get("QMTL_RUNS_DIR", repo_root() / "runs"))
    return base / profile


def notebooks_dir() -> Path:
    return repo_root() / "notebooks"
