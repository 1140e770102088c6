"""A racing world with known truth: for tests, the demo and calibration checks.

The simulator is a data source like the real ones, so it lives beside them
(:mod:`velo.data.simulator`) and ``velo.data`` never imports this package;
``velo.sim`` is the short name the tests, benches and demo use for it.
"""

from velo.data.simulator import SimConfig, Simulation, simulate

__all__ = ["SimConfig", "Simulation", "simulate"]
