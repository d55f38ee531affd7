"""Starting and stopping `invoicer` as a person does, in processes of its own: a stop signal
always stops it, also when nobody reads its output any more; a start-up failure a person
causes ends with one line on standard error naming the cause and the fix, exit code 2."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.processes import environment_without_invoicer, invoicer_command
from tests.integration.operations import environment
from worker.local_services import free_port
from worker.settings import Settings

START_WITHIN_SECONDS = 120.0
STOP_WITHIN_SECONDS = 60.0
FAIL_WITHIN_SECONDS = 60.0
RUNNING = b"worker running"
DEV_DEFAULT_HTTP_PORT = 8080


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`invoicer` with its standard output and error on one pipe, as `invoicer … 2>&1 | head`."""
    return subprocess.Popen(
        [*invoicer_command(), *args],
        env={**environment_without_invoicer(), **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def read_until(process: subprocess.Popen[bytes], wanted: bytes) -> bytes:
    """The output up to and including the first line that holds `wanted`."""
    assert process.stdout is not None
    seen = b""
    while wanted not in seen:
        line = process.stdout.readline()
        assert line, f"exited with {process.wait()} before {wanted!r}:\n{seen.decode()}"
        seen += line
    return seen


async def stop_with_nobody_reading(process: subprocess.Popen[bytes], sig: signal.Signals) -> int:
    """Waits until the worker runs, closes the reading end of its output, signals it;
    its exit code."""
    try:
        async with asyncio.timeout(START_WITHIN_SECONDS):
            await asyncio.to_thread(read_until, process, RUNNING)
        assert process.stdout is not None
        process.stdout.close()
        process.send_signal(sig)
        return await asyncio.to_thread(process.wait, STOP_WITHIN_SECONDS)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
            process.wait()


@contextlib.contextmanager
def listening(port: int) -> Iterator[None]:
    """Something else listens on `port`; if it already does, that is the same."""
    with socket.socket() as sock:
        with contextlib.suppress(OSError):
            sock.bind(("0.0.0.0", port))
            sock.listen()
        yield


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
async def test_run_stops_on_a_signal_when_nobody_reads_its_output(
    settings: Settings, sig: signal.Signals
) -> None:
    worker = start(["run"], {**environment(settings), "INVOICER_HTTP_PORT": "0"})
    assert await stop_with_nobody_reading(worker, sig) == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
async def test_dev_stops_on_a_signal_when_nobody_reads_its_output_and_leaves_nothing_behind(
    tmp_path: Path, sig: signal.Signals
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    # Port 8080 taken, as by another program: dev picks free ports, its HTTP port included.
    with listening(DEV_DEFAULT_HTTP_PORT):
        dev = start(["dev"], {"TMPDIR": str(temporary)})
        assert await stop_with_nobody_reading(dev, sig) == 0
    assert not list(temporary.iterdir()), "the embedded database's directory is left behind"


async def test_run_stops_while_it_waits_for_the_broker(settings: Settings) -> None:
    unreachable = {"INVOICER_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    worker = start(["run"], {**environment(settings), "INVOICER_HTTP_PORT": "0", **unreachable})
    try:
        async with asyncio.timeout(START_WITHIN_SECONDS):
            await asyncio.to_thread(read_until, worker, b"cannot reach the broker")
        worker.send_signal(signal.SIGTERM)
        output, _ = await asyncio.to_thread(worker.communicate, timeout=STOP_WITHIN_SECONDS)
    finally:
        with contextlib.suppress(ProcessLookupError):
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, output.decode()
    assert b"Traceback" not in output and b"Unclosed" not in output, output.decode()


async def fails_to_start(args: list[str], env: dict[str, str]) -> str:
    """Runs `invoicer`, which must fail to start: its one line on standard error."""
    completed = await asyncio.to_thread(
        subprocess.run,
        [*invoicer_command(), *args],
        env={**environment_without_invoicer(), **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=FAIL_WITHIN_SECONDS,
    )
    errors = completed.stderr.decode()
    assert completed.returncode == 2, errors
    assert "Traceback" not in errors and "Unclosed" not in errors, errors
    [line] = errors.splitlines()
    assert line.startswith("invoicer: "), line
    return line


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("INVOICER_HTTP_PORT", "abc"),
        ("INVOICER_TIMEZONE", "Mars/Olympus_Mons"),
        ("INVOICER_KAFKA_BOOTSTRAP_SERVERS", "kafka:abc"),
        ("INVOICER_LOG_LEVEL", "LOUD"),
    ],
)
async def test_a_bad_setting_is_named(variable: str, value: str) -> None:
    line = await fails_to_start(["run"], {variable: value})
    assert f"{variable}='{value}' is not valid" in line


async def test_the_http_port_in_use_is_named(settings: Settings) -> None:
    port = free_port()
    with listening(port):
        line = await fails_to_start(
            ["run"], {**environment(settings), "INVOICER_HTTP_PORT": str(port)}
        )
    assert f"port {port} is in use" in line and "INVOICER_HTTP_PORT" in line


async def test_a_database_that_does_not_exist_is_named(settings: Settings) -> None:
    missing = settings.database_url.rpartition("/")[0] + "/no_such_database"
    line = await fails_to_start(
        ["run"], {**environment(settings), "INVOICER_DATABASE_URL": missing}
    )
    assert "no_such_database" in line and "INVOICER_DATABASE_URL" in line


async def test_migrate_names_an_unreachable_database() -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/invoicer"
    line = await fails_to_start(["migrate"], {"INVOICER_DATABASE_URL": nowhere})
    assert "INVOICER_DATABASE_URL" in line
