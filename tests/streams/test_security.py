"""Kafka security settings: the options every client gets, and a real broker
that requires authentication (``tansu broker --authentication``).

What the embedded broker lets us exercise, and what it does not: Tansu 0.6
keeps its users in its storage, which here is memory only, and creating a
user (``tansu user create``) is itself refused once authentication is on. So
no user can exist, and no client can ever authenticate to it. The test
shows that a plaintext client is refused, and that our SCRAM options take a
client through the SASL handshake to the broker's refusal of the unknown
user, which is reported as one line naming the settings. A successful SASL
login is not exercised.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import faust
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr

from streams.clients import BrokerRefused, BrokerUnreachable, start_client
from streams.security import KafkaSecurityError, describe_security, faust_credentials, kafka_options
from velo.config import Settings
from velo.stack.broker import BrokerServer


def _sasl(**kw) -> Settings:
    return Settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="velo",
        kafka_sasl_password=SecretStr("s3cret-pw"),
        **kw,
    )


def test_plaintext_adds_nothing_and_sasl_adds_the_mechanism_and_credentials() -> None:
    assert kafka_options(Settings()) == {}
    assert faust_credentials(Settings()) is None
    opts = kafka_options(_sasl())
    assert opts == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "velo",
        "sasl_plain_password": "s3cret-pw",
    }
    creds = faust_credentials(_sasl())
    assert isinstance(creds, faust.SASLCredentials) and creds.username == "velo"


def test_the_password_never_shows() -> None:
    s = _sasl()
    assert "s3cret-pw" not in repr(s) + str(s) + describe_security(s)
    assert describe_security(s) == "SASL_PLAINTEXT, SCRAM-SHA-256 as velo"
    assert s.env()["VELO_KAFKA_SASL_PASSWORD"] == "s3cret-pw"  # a child worker still gets it


def test_ssl_builds_a_context_from_the_files_and_names_a_missing_one(tmp_path: Path) -> None:
    opts = kafka_options(Settings(kafka_security_protocol="SSL"))
    assert isinstance(opts["ssl_context"], ssl.SSLContext) and opts["security_protocol"] == "SSL"
    with pytest.raises(KafkaSecurityError, match="VELO_KAFKA_SSL_CAFILE: no such file"):
        kafka_options(Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=tmp_path / "ca.pem"))
    cert = tmp_path / "client.pem"
    cert.write_text("not used")
    with pytest.raises(KafkaSecurityError, match="go together"):
        kafka_options(Settings(kafka_security_protocol="SASL_SSL", kafka_ssl_certfile=cert))


def test_sasl_without_credentials_is_one_clear_error() -> None:
    with pytest.raises(KafkaSecurityError, match="needs VELO_KAFKA_SASL_USERNAME and VELO_KAFKA_SASL_PASSWORD"):
        kafka_options(Settings(kafka_security_protocol="SASL_SSL"))


def test_a_broker_that_requires_authentication(tmp_path: Path) -> None:
    broker = BrokerServer(tmp_path, authentication=True)
    broker.start()

    async def start(settings: Settings) -> None:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=broker.bootstrap, request_timeout_ms=3000, **kafka_options(settings)
        )
        await start_client(admin, broker.bootstrap)
        await admin.close()

    try:
        with pytest.raises(BrokerUnreachable):  # plaintext: the broker closes the connection
            asyncio.run(asyncio.wait_for(start(Settings()), 20))
        for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
            settings = _sasl().model_copy(update={"kafka_sasl_mechanism": mechanism})
            with pytest.raises(BrokerRefused, match="refused this client's authentication") as err:
                asyncio.run(asyncio.wait_for(start(settings), 20))
            assert "s3cret-pw" not in str(err.value)
        assert "Sasl" in broker.process.log_tail() or "Auth" in broker.process.log_tail()
    finally:
        broker.stop()
