"""What every data loader shares: where data lives, and the two errors a user can act on."""

from __future__ import annotations

import os
from pathlib import Path

from qmtl_utils.runtime.paths import repo_root


class MissingDataError(FileNotFoundError):
    """Data that is not there (or cannot be downloaded here). The message says what to get,
    where from, and where to put it."""


class DataFormatError(ValueError):
    """Data that is there but malformed. The message names the file (and row) and what is wrong."""

    def __init__(self, path: Path | str, problem: str, row: int | None = None):
        where = f"{path}" + (f", row {row}" if row is not None else "")
        super().__init__(f"{where}: {problem}")
        self.path, self.row, self.problem = Path(path), row, problem


def data_dir() -> Path:
    """Root of user-provided data: ``$QMTL_DATA_DIR`` or ``data/`` in the repository."""
    return Path(os.environ.get("QMTL_DATA_DIR", repo_root() / "data"))


def hub_offline() -> bool:
    """True when Hugging Face hub downloads are switched off (``HF_HUB_OFFLINE=1``/``HF_DATASETS_OFFLINE=1``)."""
    return any(os.environ.get(name, "").lower() in ("1", "true", "yes")
               for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
