"""The one setup call every notebook makes, and the closing environment report."""

from __future__ import annotations

import os
import platform
from typing import Any

import numpy as np

from qmtl_utils.runtime.profiles import get_profile
from qmtl_utils.runtime.seeding import seed_everything


def setup_notebook(profile: str, seed: int | None = None) -> dict[str, Any]:
    """Load the profile's settings, seed everything, set the plot style; returns the settings.

    ``seed=None`` uses the profile's seed.
    """
    from qmtl_utils.report.plotting import set_style

    settings = get_profile(profile)
    if seed is not None:
        settings["seed"] = seed
    seed_everything(settings["seed"])
    set_style()
    print(f"profile {profile!r}: {settings['description']} (seed {settings['seed']})")
    if settings["is_demo"]:
        print("This profile runs on small seeded demo data: its numbers are not the paper's results.")
    return settings


def environment_report() -> dict[str, str]:
    """Versions and compute device, for the closing cell of every notebook."""
    import pennylane
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    return {"python": platform.python_version(), "torch": torch.__version__,
            "pennylane": pennylane.__version__, "numpy": np.__version__, "device": device}
