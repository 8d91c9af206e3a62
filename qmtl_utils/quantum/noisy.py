"""Old name of :mod:`qmtl_utils.quantum.exact_noise` (the exact depolarizing-noise readout in PyTorch, §6.3)."""

# alias for the notebooks until they move to qmtl_utils.quantum.exact_noise
from qmtl_utils.quantum.exact_noise import *  # noqa: F401,F403
