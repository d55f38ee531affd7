"""Kafka TLS and SASL settings (contract v2, "Running it"): checked at start, turned into
the same client options for every Kafka client, and secrets never shown."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from worker.kafka_client import client_options
from worker.settings import Settings
from worker.startup import invalid_settings

PASSWORD = "s3cr3t-hunter2"
DATABASE_URL = f"postgresql://invoicer:{PASSWORD}@db.example.com:5432/invoicer"


def test_sasl_options_reach_the_clients() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="invoicer",
        kafka_sasl_password=PASSWORD,
    )

    options = client_options(settings)

    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "invoicer"
    assert options["sasl_plain_password"] == PASSWORD
    assert "ssl_context" not in options


def test_plaintext_is_the_default() -> None:
    assert client_options(Settings()) == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
    }


def test_sasl_without_its_credentials_is_refused_naming_what_is_missing() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_password=PASSWORD)

    message = str(invalid_settings(raised.value))

    assert "INVOICER_KAFKA_SASL_MECHANISM" in message
    assert "INVOICER_KAFKA_SASL_USERNAME" in message
    assert PASSWORD not in message


def test_a_ca_file_that_is_not_pem_is_refused(tmp_path: pytest.TempPathFactory) -> None:
    not_pem = tmp_path / "ca.pem"  # type: ignore[operator]
    not_pem.write_text("not a certificate")

    with pytest.raises(ValidationError) as raised:
        Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=not_pem)

    assert "INVOICER_KAFKA_SSL_CAFILE" in str(invalid_settings(raised.value))


def test_secrets_never_appear_in_the_settings_repr() -> None:
    settings = Settings(
        database_url=DATABASE_URL,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="invoicer",
        kafka_sasl_password=PASSWORD,
    )

    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings)


def test_an_invalid_database_url_is_named_without_its_value() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(database_url=f"mysql://invoicer:{PASSWORD}@db/invoicer")

    message = str(invalid_settings(raised.value))

    assert "INVOICER_DATABASE_URL" in message
    assert PASSWORD not in message


def test_an_invalid_topic_name_is_named() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(topics={"dead_letter": "dead letters!"})

    assert "INVOICER_TOPIC_DEAD_LETTER='dead letters!' is not valid" in str(
        invalid_settings(raised.value)
    )
