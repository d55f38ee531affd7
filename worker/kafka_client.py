"""How every Kafka client of the worker connects (consumer, the relay's producer, the admin
client and the command line alike): bootstrap servers, TLS and SASL, from Settings."""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from worker.settings import Settings


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaConsumer, AIOKafkaProducer and AIOKafkaAdminClient."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": protocol,
    }
    if protocol in {"SSL", "SASL_SSL"}:
        options["ssl_context"] = create_ssl_context(
            cafile=_path(settings.kafka_ssl_cafile),
            certfile=_path(settings.kafka_ssl_certfile),
            keyfile=_path(settings.kafka_ssl_keyfile),
        )
    if protocol in {"SASL_PLAINTEXT", "SASL_SSL"}:
        assert settings.kafka_sasl_password is not None  # Settings checks they go together
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        # aiokafka's names; SCRAM reads the same two.
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


def _path(path: object | None) -> str | None:
    return None if path is None else str(path)
