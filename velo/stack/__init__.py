"""Run the embedded broker and Redis as real child processes.

This package only manages processes; Kafka topic creation lives in
``streams.admin`` so that ``velo`` stays free of Kafka clients.
"""

from velo.stack.broker import BrokerServer
from velo.stack.embedded import EmbeddedStack
from velo.stack.ports import free_port
from velo.stack.process import ChildExit, ManagedProcess, ProcessStartError
from velo.stack.redis import RedisServer
from velo.stack.supervisor import StackFailed, Supervisor

__all__ = [
    "BrokerServer",
    "ChildExit",
    "EmbeddedStack",
    "ManagedProcess",
    "ProcessStartError",
    "RedisServer",
    "StackFailed",
    "Supervisor",
    "free_port",
]
