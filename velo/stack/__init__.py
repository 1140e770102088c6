"""Run the embedded broker and Redis as real child processes.

This package only manages processes; Kafka topic creation lives in
``streams.admin`` so that ``velo`` stays free of Kafka clients.
"""

from velo.stack.broker import BrokerServer
from velo.stack.embedded import EmbeddedStack
from velo.stack.ports import free_port
from velo.stack.process import ManagedProcess, ProcessStartError
from velo.stack.redis import RedisServer

__all__ = ["BrokerServer", "EmbeddedStack", "ManagedProcess", "ProcessStartError", "RedisServer", "free_port"]
