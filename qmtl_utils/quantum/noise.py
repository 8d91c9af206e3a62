"""Old name of :mod:`qmtl_utils.quantum.aer_noise` (the depolarizing-noise readout on Qiskit Aer, §6.3)."""

# alias for the notebooks until they move to qmtl_utils.quantum.aer_noise
from qmtl_utils.quantum.aer_noise import *  # noqa: F401,F403
