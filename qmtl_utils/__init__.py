"""Helpers for the companion to "Parameter-efficient Quantum Multi-task Learning" (QMTL).

Importing the package is cheap on purpose (no torch, no PennyLane): ``run_all.sh`` imports
``qmtl_utils.runtime.pipeline`` to decide what is up to date in a fraction of a second. Import the
module you need, e.g. ``from qmtl_utils.models.heads import QMTLHead``.
"""

__version__ = "0.1.0"
