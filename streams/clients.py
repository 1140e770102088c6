"""Starting Kafka clients so that an unreachable broker is one clear error.

aiokafka raises ``KafkaConnectionError: Unable to bootstrap from [...]`` and
leaves the half-started client to complain later ("Unclosed AIOKafkaConsumer")
from the garbage collector. Every client a command starts goes through
:func:`start_client`, which closes it and raises :class:`BrokerUnreachable`:
a ``ConnectionError`` whose message names the address tried and how to start
a broker, which the CLI prints as its one line.
"""

from __future__ import annotations

import contextlib
from typing import Any

from aiokafka.errors import (
    AuthenticationFailedError,
    IllegalSaslStateError,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)

#: What aiokafka raises when the broker refuses the client's credentials. A
#: SCRAM exchange that the broker ends with an error (``e=...``, no ``v=``)
#: surfaces as a KeyError from aiokafka's SCRAM code.
_REFUSED = (
    AuthenticationFailedError,
    IllegalSaslStateError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
    KeyError,
)


class BrokerUnreachable(ConnectionError):
    """The broker at ``servers`` did not answer."""

    def __init__(self, servers: str, reason: str) -> None:
        self.servers = servers
        super().__init__(
            f"cannot reach the Kafka broker at {servers} ({reason}); start the embedded one with `velo up` "
            "(or `make demo`), or point VELO_BOOTSTRAP_SERVERS at yours"
        )


class BrokerRefused(BrokerUnreachable):
    """The broker at ``servers`` answered, but refused the client's credentials."""

    def __init__(self, servers: str, reason: str) -> None:
        self.servers = servers
        ConnectionError.__init__(
            self,
            f"the Kafka broker at {servers} refused this client's authentication ({reason}); check "
            "VELO_KAFKA_SECURITY_PROTOCOL, VELO_KAFKA_SASL_MECHANISM, VELO_KAFKA_SASL_USERNAME and the password",
        )


async def start_client(client: Any, servers: str) -> None:
    """``await client.start()``; on a broker that cannot be reached, close
    the client and raise :class:`BrokerUnreachable` (:class:`BrokerRefused`
    when it answered but refused the credentials)."""
    try:
        await client.start()
    except _REFUSED as exc:
        with contextlib.suppress(Exception):
            await (getattr(client, "stop", None) or client.close)()
        reason = "the SCRAM exchange ended in an error" if isinstance(exc, KeyError) else str(exc) or type(exc).__name__
        raise BrokerRefused(servers, reason) from exc
    except (KafkaConnectionError, KafkaError, OSError) as exc:
        with contextlib.suppress(Exception):
            await (getattr(client, "stop", None) or client.close)()
        reason = "no answer" if isinstance(exc, KafkaConnectionError) else str(exc) or type(exc).__name__
        raise BrokerUnreachable(servers, reason) from exc
