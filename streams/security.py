"""The Kafka security settings, as every client the project makes takes them.

Real clusters (ACLs, managed services) refuse a client that cannot
authenticate. ``VELO_KAFKA_SECURITY_PROTOCOL`` and its companions (see
:class:`velo.config.Settings`) become aiokafka keyword arguments here, once,
and every producer, consumer and admin client is built with
:func:`kafka_options`: the worker's inputs and outputs, its registry reader,
replay, feeds, the topic reader, registry events, the demo and the examples.

The password is a ``SecretStr`` until this point: it is never in a repr,
a log line or ``velo up``'s output, and it is unwrapped only into the
client's arguments. :func:`describe_security` is what may be printed.
"""

from __future__ import annotations

from typing import Any

import faust
from aiokafka.helpers import create_ssl_context

from velo.config import Settings


class KafkaSecurityError(ValueError):
    """The security settings do not make a usable client configuration."""


def _ssl_context(settings: Settings) -> Any:
    for name in ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile"):
        path = getattr(settings, name)
        if path is not None and not path.is_file():
            raise KafkaSecurityError(f"VELO_{name.upper()}: no such file: {path}")
    if (settings.kafka_ssl_certfile is None) != (settings.kafka_ssl_keyfile is None):
        raise KafkaSecurityError("VELO_KAFKA_SSL_CERTFILE and VELO_KAFKA_SSL_KEYFILE go together (mutual TLS)")
    return create_ssl_context(
        cafile=settings.kafka_ssl_cafile,
        certfile=settings.kafka_ssl_certfile,
        keyfile=settings.kafka_ssl_keyfile,
    )


def kafka_options(settings: Settings) -> dict[str, Any]:
    """aiokafka keyword arguments for the cluster's security: empty for
    PLAINTEXT, so a plain cluster's clients are built exactly as before."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    out: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        out["ssl_context"] = _ssl_context(settings)
    if protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password.get_secret_value()
        if not settings.kafka_sasl_username or not password:
            raise KafkaSecurityError(
                f"VELO_KAFKA_SECURITY_PROTOCOL={protocol} needs VELO_KAFKA_SASL_USERNAME and VELO_KAFKA_SASL_PASSWORD"
            )
        out.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=password,
        )
    return out


def faust_credentials(settings: Settings) -> Any:
    """The same settings as Faust's ``broker_credentials`` (None: plaintext)."""
    opts = kafka_options(settings)
    if not opts:
        return None
    if "sasl_mechanism" in opts:
        return faust.SASLCredentials(
            username=opts["sasl_plain_username"],
            password=opts["sasl_plain_password"],
            ssl_context=opts.get("ssl_context"),
            mechanism=opts["sasl_mechanism"],
        )
    return faust.SSLCredentials(opts["ssl_context"])


def describe_security(settings: Settings) -> str:
    """The security in use, fit to print: never the password."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return "PLAINTEXT"
    parts: list[str] = [protocol]
    if protocol.startswith("SASL_"):
        parts.append(f"{settings.kafka_sasl_mechanism} as {settings.kafka_sasl_username or '(no user)'}")
    if protocol in ("SSL", "SASL_SSL"):
        parts.append(f"CA {settings.kafka_ssl_cafile or '(system)'}")
    return ", ".join(parts)
