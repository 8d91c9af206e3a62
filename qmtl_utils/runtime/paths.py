"""Where things live, relative to the repository (never absolute paths in notebooks).

Every location the companion reads or writes is resolved here, once: the repository, the cache,
the executed notebooks, the figures (one folder per profile, so a demo run never overwrites the
figures of a lite or paper run) and the user's data folders (each movable by an environment
variable), so that the pipeline can tell whether an optional benchmark is present without
importing its loader.
"""

from __future__ import annotations

import os
from pathlib import Path

CHEXPERT_FOLDER = "CheXpert-v1.0-small"


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


def figures_dir(profile: str) -> Path:
    """Figures of one profile: ``figures/<profile>`` (override the base with ``QMTL_FIGURES_DIR``).

    Each profile draws into its own folder: the demo's figures show generated data, the lite and
    paper profiles' real data, and none may overwrite another's."""
    base = Path(os.environ.get("QMTL_FIGURES_DIR", repo_root() / "figures"))
    return base / profile


def runs_dir(profile: str) -> Path:
    """Executed notebook copies written by ``run_all.sh``: ``runs/<profile>`` (override ``QMTL_RUNS_DIR``)."""
    base = Path(os.environ.get("QMTL_RUNS_DIR", repo_root() / "runs"))
    return base / profile


def notebooks_dir() -> Path:
    return repo_root() / "notebooks"


# --------------------------------------------------------------------------- the user's data


def data_dir() -> Path:
    """Root of user-provided data: ``$QMTL_DATA_DIR`` or ``data/`` in the repository."""
    return Path(os.environ.get("QMTL_DATA_DIR", repo_root() / "data"))


def glue_dir() -> Path:
    """The original GLUE distribution: ``$QMTL_GLUE_DIR`` or ``<data_dir()>/glue_data``."""
    return Path(os.environ.get("QMTL_GLUE_DIR", data_dir() / "glue_data"))


def mustard_dir() -> Path:
    """Extended MUStARD: ``$QMTL_MUSTARD_DIR`` or ``<data_dir()>/mustard``."""
    return Path(os.environ.get("QMTL_MUSTARD_DIR", data_dir() / "mustard"))


def chexpert_dir() -> Path:
    """CheXpert-v1.0-small: ``$QMTL_CHEXPERT_DIR`` or ``<data_dir()>/CheXpert-v1.0-small``."""
    return Path(os.environ.get("QMTL_CHEXPERT_DIR", data_dir() / CHEXPERT_FOLDER))
