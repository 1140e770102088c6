"""The simulator's long name, kept for callers that import it: see :mod:`velo.data.simulator`."""

from velo.data.simulator import SimConfig, Simulation, simulate

__all__ = ["SimConfig", "Simulation", "simulate"]
