"""VÉLØ Oracle: the domain library (features, engines, training, registry).

Nothing in this package talks Kafka; the Faust app lives in ``streams``.
"""

__version__ = "0.1.0"
