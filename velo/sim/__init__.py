"""A racing world with known truth: for tests, the demo and calibration checks."""

from velo.sim.simulator import SimConfig, Simulation, simulate

__all__ = ["SimConfig", "Simulation", "simulate"]
