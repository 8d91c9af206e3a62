"""The one setup call every notebook makes, and the closing environment report."""

from __future__ import annotations

import os
import platform
from typing import Any

import numpy as np

from qmtl_utils.runtime.profiles import get_profile
from qmtl_utils.runtime.seeding import seed_everything


def setup_notebook(profile: str, seed: int | None = None, glue_tasks: str | None = None) -> dict[str, Any]:
    """Load the profile's settings, seed everything, set the plot style; returns the settings.

    ``seed=None`` uses the profile's seed; ``glue_tasks`` (the notebooks' parameter) "all" or a
    comma-separated subset of the GLUE tasks (:func:`~qmtl_utils.runtime.profiles.get_profile`).
    """
    from qmtl_utils.report.plotting import set_style
    from qmtl_utils.runtime.profiles import missing_benchmarks

    settings = get_profile(profile, glue_tasks=glue_tasks)
    if seed is not None:
        settings["seed"] = seed
    seed_everything(settings["seed"])
    set_style()
    print(f"profile {profile!r}: {settings['description']} (seed {settings['seed']})")
    if settings["is_demo"]:
        print("This profile runs on small seeded demo data: its numbers are not the paper's results.")
    elif settings["scale"] == "lite":
        print(
            "This profile runs on the real public data at reduced scale (qmtl_utils/runtime/profiles.py says "
            "what differs from the paper)."
        )
    if settings["data"]["glue"]["tasks"] != "all":
        print(f"GLUE: only the tasks asked for: {', '.join(settings['data']['glue']['tasks'])}")
    for benchmark, reason in missing_benchmarks(settings).items():
        print(f"{benchmark}: skipped here: {reason}")
    return settings


def environment_report() -> dict[str, str]:
    """Versions and compute device, for the closing cell of every notebook."""
    import pennylane
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "pennylane": pennylane.__version__,
        "numpy": np.__version__,
        "device": device,
    }
